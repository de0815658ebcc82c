"""A platform engineer's own stack: a GKE cluster, one GPU pool, and a job that lands on it.

Only the components are imported (``infra.*``); nothing here reads gke-inference's stack config.
Config (``pulumi config set gpu-cluster:<key> <value>``): ``project`` (required), ``region``,
``zone``, ``machineType``, ``maxNodes``, ``spot``, ``image``.
"""

import pulumi
import pulumi_kubernetes as k8s

from infra.cluster import GkeCluster, GkeClusterArgs, SystemPoolArgs
from infra.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from infra.identity import NodeServiceAccount, NodeServiceAccountArgs
from infra.network import Network, NetworkArgs

config = pulumi.Config()
project = config.require("project")
region = config.get("region") or "us-central1"
zone = config.get("zone") or f"{region}-a"
machine_type = config.get("machineType") or "g2-standard-8"
spot = config.get_bool("spot")
spot = True if spot is None else spot
stack = pulumi.get_stack()

network = Network(
    "net",
    NetworkArgs(
        project=project,
        region=region,
        network_name=f"gpu-{stack}",
        subnet_cidr="10.40.0.0/20",
        pods_cidr="10.44.0.0/14",
        services_cidr="10.48.0.0/20",
    ),
)
nodes = NodeServiceAccount("nodes", NodeServiceAccountArgs(project=project, account_id=f"gpu-{stack}-nodes"))
cluster = GkeCluster(
    "gke",
    GkeClusterArgs(
        project=project,
        name=f"gpu-{stack}",
        location=region,
        network=network.network_id,
        subnetwork=network.subnetwork_id,
        pods_range_name=network.pods_range_name,
        services_range_name=network.services_range_name,
        node_service_account=nodes.email,
        release_channel="REGULAR",
        deletion_protection=False,
        system_pool=SystemPoolArgs(machine_type="e2-standard-4", min_nodes=1, max_nodes=2),
    ),
)
# The accelerator type and GPU count follow from the machine type (infra/catalog.py).
pool = GpuNodePool(
    "gpu",
    GpuNodePoolArgs(
        cluster=cluster,  # project, location and the wait for the cluster come with it
        node_locations=(zone,),
        machine_type=machine_type,
        service_account=nodes.email,
        min_nodes=0,
        max_nodes=config.get_int("maxNodes") or 1,
        spot=spot,
    ),
)

# A one-shot GPU check: pool.scheduling carries the node selector and the tolerations for the
# pool's taints (GPU, and Spot when spot=True), so the pod lands on this pool and nowhere else.
smoke = k8s.batch.v1.Job(
    "nvidia-smi",
    metadata=k8s.meta.v1.ObjectMetaArgs(name="nvidia-smi", namespace="default"),
    spec=k8s.batch.v1.JobSpecArgs(
        backoff_limit=2,
        ttl_seconds_after_finished=3600,
        template=k8s.core.v1.PodTemplateSpecArgs(
            spec=k8s.core.v1.PodSpecArgs(
                restart_policy="Never",
                node_selector=pool.scheduling.node_selector,
                tolerations=[k8s.core.v1.TolerationArgs(**t) for t in pool.scheduling.tolerations],
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="nvidia-smi",
                        # Pin by digest in production (e.g. nvidia/cuda:<tag>@sha256:...).
                        image=config.get("image") or "nvidia/cuda:12.4.1-base-ubuntu22.04",
                        command=["nvidia-smi"],
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            limits={"nvidia.com/gpu": str(pool.machine.gpu_count)}
                        ),
                    )
                ],
            )
        ),
    ),
    opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[pool]),
)

pulumi.export("clusterName", cluster.name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("gpuPool", pool.pool_name)
pulumi.export("accelerator", pool.machine.accelerator)

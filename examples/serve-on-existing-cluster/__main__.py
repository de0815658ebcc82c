"""One model on one GPU pool of an existing GKE cluster, from the public components only (see README.md)."""

import pulumi
import pulumi_kubernetes as k8s

from infra.cluster import ExistingClusterArgs, GkeCluster
from infra.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from workloads.vllm_args import EngineSettings
from workloads.vllm_server import VllmServer, VllmServerArgs
from workloads.weights import HuggingFaceArgs, hugging_face_weights

config = pulumi.Config()
image = config.require("image")  # vllm/vllm-openai@sha256:<64 hex>: the server refuses an unpinned tag
cluster = GkeCluster("gke", ExistingClusterArgs(config.require("project"), config.require("cluster"),
                                                config.require("location")))
pool = GpuNodePool("l4", GpuNodePoolArgs(cluster=cluster, node_locations=(config.require("zone"),),
                                         machine_type="g2-standard-8", service_account=config.require("nodeAccount"),
                                         max_nodes=2, spot=True))
provider = pulumi.ResourceOptions(provider=cluster.provider)
namespace = k8s.core.v1.Namespace("llm", metadata={"name": "llm"}, opts=provider)
weights = hugging_face_weights(HuggingFaceArgs("Qwen/Qwen2.5-1.5B-Instruct", config.require("revision"), image, 3.1e9))
server = VllmServer("qwen", VllmServerArgs(namespace=namespace.metadata.name, image=image, weights=weights, pool=pool,
                                           engine=EngineSettings(served_model_name="qwen"), weight_bytes=3.1e9),
                    opts=provider)
pulumi.export("url", server.service_url)

"""The vLLM server: service account, secrets, probe script, Deployment (or LeaderWorkerSet for
multi-node replicas), Service, PodDisruptionBudget and NetworkPolicy — correct by construction.

What the reference deployments get wrong and this component does not (see the README):
startup budget from the cold-start estimate, liveness that sees a hung engine, a drain that
loses no request (preStop: delay, then wait for the queue → SIGTERM → ``--shutdown-timeout``),
hardened security context, read-only root filesystem with writable paths on volumes, and
volumes that can back every replica.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from workloads.awaiting import await_annotations
from workloads.checkov import checkov_skip_annotations
from workloads.lws_operator import READY_CONDITION as LWS_READY_CONDITION
from workloads.pod_sizing import PodSize
from workloads.vllm_args import SERVING_PORT, EngineSettings, engine_args
from workloads.weights import WeightsMount

PORT_NAME = "http"
PROBE_SCRIPT = Path(__file__).parent / "probes" / "engine_liveness.py"
DRAIN_SCRIPT = Path(__file__).parent / "probes" / "drain_wait.py"
PROBE_MOUNT = "/etc/vllm-probe"
CACHE_MOUNT = "/cache"
RUN_AS_USER = 10001
GMP_COLLECTOR_SELECTOR = {"app.kubernetes.io/name": "collector"}
"""Managed Prometheus collector pods (namespace gmp-system) that scrape /metrics."""
GMP_NAMESPACE = "gmp-system"

STARTUP_PROBE_PERIOD = 10
LIVENESS_PERIOD = 20
LIVENESS_FAILURES = 3
LIVENESS_TIMEOUT = 10
PROBE_REQUEST_TIMEOUT = 5
"""The liveness script's own HTTP timeout; below LIVENESS_TIMEOUT so the kubelet sees its verdict."""

CHECKOV_SKIPS = (
    (
        "CKV_K8S_15",
        "image is pinned by digest; imagePullPolicy Always would bypass the node's secondary boot disk image cache",
    ),
    (
        "CKV_K8S_35",
        "vLLM reads its API key only from the VLLM_API_KEY env var or a flag; "
        "the value comes from a Secret via secretKeyRef",
    ),
)


@dataclass(frozen=True)
class VllmServerArgs:
    namespace: pulumi.Input[str]
    """Namespace (created by the caller, so storage claims can live beside the server)."""
    name: str
    """Name of the Deployment/Service and prefix of every child object."""
    image: pulumi.Input[str]
    """Serving image, pinned by digest (pulled through the registry's Docker Hub proxy)."""
    engine: EngineSettings
    """Typed vLLM settings; --model is replaced by the weights backend's path."""
    weights: WeightsMount
    """What the weights backend adds to the pod (volumes, mounts, env, args, annotations)."""
    gpus_per_node: int
    """GPUs the container requests on each node (nvidia.com/gpu limit)."""
    size: PodSize
    """CPU/memory requests and /dev/shm size, from the machine."""
    node_selector: dict[str, str]
    """From GpuNodePool.scheduling (or affinity below when a spot pool is added)."""
    tolerations: list[dict[str, str]]
    """From GpuNodePool.scheduling (union over the pools used)."""
    google_service_account: pulumi.Input[str] | None = None
    """GSA email for Workload Identity (bucket access); None leaves the KSA unannotated."""
    replicas: int = 1
    """Replicas (the autoscaler's minimum when one manages them)."""
    max_replicas: int = 1
    """The most replicas that can run; above one a PodDisruptionBudget keeps voluntary evictions to one at a time."""
    autoscaled: bool = False
    """An HPA or KEDA owns `replicas`: leave it out of the spec so updates don't fight the autoscaler."""
    nodes_per_replica: int = 1
    """>1 renders a LeaderWorkerSet (tensor parallel within a node, pipeline parallel across, Ray)."""
    workload_depends_on: tuple[pulumi.Resource, ...] = ()
    """What the Deployment/LeaderWorkerSet must wait for besides this component's own objects: the
    controller serving its kind (``workloads.lws_operator.LwsOperator`` for a LeaderWorkerSet)."""
    preferred_pools: tuple[str, ...] = ()
    """Node pools in order of preference (e.g. on-demand, then Spot); empty uses node_selector alone."""
    startup_budget_seconds: int = 600
    """Cold-start budget the startupProbe allows (failureThreshold × period covers it)."""
    pre_stop_seconds: int = 15
    """Delay before SIGTERM so the pod leaves Service endpoints before vLLM stops accepting."""
    drain_queue_seconds: int = 60
    """After that delay, wait up to this long more for vLLM's queue to empty before SIGTERM
    (vLLM refuses requests still waiting at SIGTERM); the preStop hook is probes/drain_wait.py."""
    api_key: pulumi.Input[str] | None = None
    """API key (a Pulumi secret); stored in a Secret and passed as VLLM_API_KEY."""
    local_ssd_ephemeral: bool = True
    """The node's ephemeral storage is Local SSD: caches (HF home, compile cache) live there."""
    cache_size_limit: str = "100Gi"
    """Size limit of the cache emptyDir (compile cache, HF home, downloads)."""
    client_label: str = "gke-inference/client"
    """Pods labelled `<client_label>: "true"` may call the server."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on every object."""


class VllmServer(pulumi.ComponentResource):
    """One model served by vLLM. Pass an explicit Kubernetes provider in ``opts``."""

    namespace: pulumi.Output[str]
    selector_labels: dict[str, str]
    metrics_port_name: str = PORT_NAME
    target_api_version: str
    target_kind: str
    target_name: str
    served_model_name: str
    service_url: pulumi.Output[str]
    workload: pulumi.CustomResource

    def __init__(self, name: str, args: VllmServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-inference:workloads:VllmServer", name, {}, opts)
        child = child_options(self, opts)
        self.selector_labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": args.name}
        self.labels = {**self.selector_labels, "app.kubernetes.io/component": "inference-server", **args.labels}
        self.served_model_name = args.engine.served_model_name
        self.target_name = args.name
        self._args = args
        self._opts = opts

        service_account = k8s.core.v1.ServiceAccount(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-ksa",
            metadata=self._meta(
                args.name,
                annotations=(
                    {"iam.gke.io/gcp-service-account": args.google_service_account}
                    if args.google_service_account is not None
                    else None
                ),
            ),
            automount_service_account_token=False,
            opts=child,
        )
        secrets = self._secrets(name, args, child)
        probe = k8s.core.v1.ConfigMap(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-probe",
            metadata=self._meta(f"{args.name}-probe"),
            data={script.name: script.read_text() for script in (PROBE_SCRIPT, DRAIN_SCRIPT)},
            opts=child,
        )
        depends = [service_account, probe, *secrets.values(), *args.weights.dependencies, *args.workload_depends_on]
        pod = self._pod_template(args, secrets)
        if args.nodes_per_replica > 1:
            self.workload = self._leader_worker_set(name, args, pod, depends)
        else:
            self.workload = self._deployment(name, args, pod, depends)
        k8s.core.v1.Service(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-svc",
            metadata=self._meta(args.name),
            spec={
                "type": "ClusterIP",
                "selector": self._leader_selector(args),
                "ports": [{"name": PORT_NAME, "port": SERVING_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
            },
            opts=child,
        )
        if max(args.replicas, args.max_replicas) > 1:
            k8s.policy.v1.PodDisruptionBudget(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                f"{name}-pdb",
                metadata=self._meta(args.name),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": self._leader_selector(args)}},
                opts=child,
            )
        self._network_policy(name, args, child)
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.service_url = pulumi.Output.concat(
            "http://", args.name, ".", self.namespace, ".svc.cluster.local:", str(SERVING_PORT)
        )
        self.register_outputs({"serviceUrl": self.service_url, "servedModelName": self.served_model_name})

    # -- metadata -----------------------------------------------------------------------------

    def _meta(self, name: str, annotations: dict[str, Any] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": self._args.namespace, "labels": self.labels}
        if annotations:
            meta["annotations"] = annotations
        return meta

    def _leader_selector(self, args: VllmServerArgs) -> dict[str, str]:
        if args.nodes_per_replica > 1:
            return {**self.selector_labels, "leaderworkerset.sigs.k8s.io/worker-index": "0"}
        return self.selector_labels

    # -- secrets ------------------------------------------------------------------------------

    def _secrets(self, name: str, args: VllmServerArgs, child: pulumi.ResourceOptions) -> dict[str, k8s.core.v1.Secret]:
        secrets = {}
        for key, value, suffix in (("apiKey", args.api_key, "api-key"),):
            if value is None:
                continue
            secrets[key] = k8s.core.v1.Secret(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                f"{name}-{suffix}",
                metadata=self._meta(f"{args.name}-{suffix}"),
                type="Opaque",
                string_data={"token": pulumi.Output.secret(value)},
                opts=child,
            )
        return secrets

    # -- pod ----------------------------------------------------------------------------------

    def _pod_template(self, args: VllmServerArgs, secrets: dict[str, k8s.core.v1.Secret]) -> dict[str, Any]:
        engine = replace(
            args.engine,
            model=args.weights.model_path,  # type: ignore[arg-type]  # Input[str] in workloads/weights.py; typed there
            extra=(*args.weights.vllm_args, *args.engine.extra),
        )
        container = {
            "name": "vllm",
            "image": args.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            "args": engine_args(engine),
            "env": self._env(args, secrets),
            "ports": [{"name": PORT_NAME, "containerPort": SERVING_PORT, "protocol": "TCP"}],
            "resources": self._resources(args),
            **self._probes(args),
            "lifecycle": {"preStop": {"exec": {"command": ["python3", f"{PROBE_MOUNT}/{DRAIN_SCRIPT.name}"]}}},
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": RUN_AS_USER,
                "runAsGroup": RUN_AS_USER,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [
                {"name": "dshm", "mountPath": "/dev/shm"},
                {"name": "cache", "mountPath": CACHE_MOUNT},
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "probe", "mountPath": PROBE_MOUNT, "readOnly": True},
                *args.weights.volume_mounts,
            ],
        }
        annotations = {**args.weights.pod_annotations}
        spec: dict[str, Any] = {
            "serviceAccountName": args.name,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": self.termination_grace_seconds(args),
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS_USER,
                "runAsGroup": RUN_AS_USER,
                "fsGroup": RUN_AS_USER,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "nodeSelector": args.node_selector,
            "tolerations": args.tolerations,
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": self.selector_labels},
                }
            ],
            "initContainers": list(args.weights.init_containers),
            "containers": [container],
            "volumes": [
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": args.size.shm}},
                {"name": "cache", "emptyDir": {"sizeLimit": args.cache_size_limit}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                {"name": "probe", "configMap": {"name": f"{args.name}-probe", "defaultMode": 0o444}},
                *args.weights.volumes,
            ],
        }
        if args.preferred_pools:
            spec["affinity"] = self._pool_affinity(args.preferred_pools)
        if not spec["initContainers"]:
            del spec["initContainers"]
        metadata: dict[str, Any] = {"labels": self.labels}
        if annotations:
            metadata["annotations"] = annotations
        return {"metadata": metadata, "spec": spec}

    @staticmethod
    def _pool_affinity(pools: tuple[str, ...]) -> dict[str, Any]:
        """Run on any of ``pools``, preferring them in order (e.g. on-demand first, Spot for overflow)."""
        key = "cloud.google.com/gke-nodepool"
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": "In", "values": list(pools)}]}]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100 // (rank + 1),
                        "preference": {"matchExpressions": [{"key": key, "operator": "In", "values": [pool]}]},
                    }
                    for rank, pool in enumerate(pools)
                ],
            }
        }

    def _env(self, args: VllmServerArgs, secrets: dict[str, k8s.core.v1.Secret]) -> list[dict[str, Any]]:
        env: list[dict[str, Any]] = [
            {"name": "HOME", "value": "/tmp"},
            {"name": "HF_HOME", "value": f"{CACHE_MOUNT}/huggingface"},
            {"name": "VLLM_CACHE_ROOT", "value": f"{CACHE_MOUNT}/vllm"},
            {"name": "XDG_CACHE_HOME", "value": f"{CACHE_MOUNT}/xdg"},
            {"name": "TRITON_CACHE_DIR", "value": f"{CACHE_MOUNT}/triton"},
            {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
            {"name": "DO_NOT_TRACK", "value": "1"},
            {"name": "PROBE_PORT", "value": str(SERVING_PORT)},
            {"name": "PROBE_MODEL", "value": args.engine.served_model_name},
            {"name": "PROBE_STATE_DIR", "value": "/tmp"},
            {"name": "PROBE_TIMEOUT_SECONDS", "value": str(PROBE_REQUEST_TIMEOUT)},
            {"name": "DRAIN_MIN_SECONDS", "value": str(args.pre_stop_seconds)},
            {"name": "DRAIN_MAX_SECONDS", "value": str(args.pre_stop_seconds + args.drain_queue_seconds)},
        ]
        if args.weights.backend != "huggingFace":
            env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
        if "apiKey" in secrets:
            env.append(
                {
                    "name": "VLLM_API_KEY",
                    "valueFrom": {"secretKeyRef": {"name": f"{args.name}-api-key", "key": "token"}},
                }
            )
        return env + list(args.weights.env)

    @staticmethod
    def _resources(args: VllmServerArgs) -> dict[str, Any]:
        amounts = {"cpu": args.size.cpu, "memory": args.size.memory, "ephemeral-storage": "50Gi"}
        return {"requests": amounts, "limits": {**amounts, "nvidia.com/gpu": str(args.gpus_per_node)}}

    @staticmethod
    def startup_failure_threshold(args: VllmServerArgs) -> int:
        return math.ceil(args.startup_budget_seconds / STARTUP_PROBE_PERIOD)

    @staticmethod
    def rollout_timeout_seconds(args: VllmServerArgs) -> int:
        """How long a rollout may take: the startup budget + 10 minutes for a GPU node (Deployment
        ``progressDeadlineSeconds`` and the ``pulumi up`` await, whose 10-minute default is shorter
        than a cold start on a new node)."""
        return args.startup_budget_seconds + 600

    @classmethod
    def _workload_annotations(cls, args: VllmServerArgs, condition: str | None) -> dict[str, str]:
        """checkov skips + the await: a Deployment has a built-in await (only its timeout is set), a
        LeaderWorkerSet none (``pulumi.com/waitFor: condition=Available``)."""
        return {
            **checkov_skip_annotations(CHECKOV_SKIPS),
            **await_annotations(condition, cls.rollout_timeout_seconds(args)),
        }

    @staticmethod
    def termination_grace_seconds(args: VllmServerArgs) -> int:
        """preStop (delay + queue wait) + vLLM's drain + 15 s to exit: the kubelet never SIGKILLs a draining server."""
        return args.pre_stop_seconds + args.drain_queue_seconds + args.engine.shutdown_timeout_seconds + 15

    def _probes(self, args: VllmServerArgs) -> dict[str, Any]:
        health = {"path": "/health", "port": PORT_NAME}
        return {
            "startupProbe": {
                "httpGet": health,
                "periodSeconds": STARTUP_PROBE_PERIOD,
                "timeoutSeconds": 5,
                "failureThreshold": self.startup_failure_threshold(args),
            },
            "readinessProbe": {"httpGet": health, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
            "livenessProbe": {
                "exec": {"command": ["python3", f"{PROBE_MOUNT}/engine_liveness.py"]},
                "periodSeconds": LIVENESS_PERIOD,
                "timeoutSeconds": LIVENESS_TIMEOUT,
                "failureThreshold": LIVENESS_FAILURES,
            },
        }

    # -- workload kinds -----------------------------------------------------------------------

    def _deployment(
        self, name: str, args: VllmServerArgs, pod: dict[str, Any], depends: list[pulumi.Resource]
    ) -> pulumi.CustomResource:
        self.target_api_version, self.target_kind = "apps/v1", "Deployment"
        spec: dict[str, Any] = {
            "selector": {"matchLabels": self.selector_labels},
            # A new replica must get a GPU node before an old one goes: never below capacity.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "progressDeadlineSeconds": self.rollout_timeout_seconds(args),
            "revisionHistoryLimit": 5,
            "template": pod,
        }
        if not args.autoscaled:
            spec = {"replicas": args.replicas, **spec}
        return k8s.apps.v1.Deployment(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-deployment",
            metadata=self._meta(args.name, annotations=self._workload_annotations(args, condition=None)),
            spec=spec,
            opts=child_options(self, self._opts, depends_on=depends),
        )

    def _leader_worker_set(
        self, name: str, args: VllmServerArgs, pod: dict[str, Any], depends: list[pulumi.Resource]
    ) -> pulumi.CustomResource:
        """Ray across the group's nodes: the leader starts the head and vLLM, workers join it."""
        self.target_api_version, self.target_kind = "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"
        serve = pod["spec"]["containers"][0]
        ray_wait = (
            f"ray start --head --port=6379 --num-gpus={args.gpus_per_node} && "
            f"until [ $(ray status 2>/dev/null | grep -c node_) -ge {args.nodes_per_replica} ]; do sleep 5; done && "
        )
        leader_container = {
            **serve,
            "command": ["/bin/bash", "-c"],
            "args": [ray_wait + "exec python3 -m vllm.entrypoints.openai.api_server " + " ".join(serve["args"])],
        }
        worker_container = {
            key: value
            for key, value in serve.items()
            if key not in ("startupProbe", "readinessProbe", "livenessProbe", "ports", "lifecycle")
        }
        worker_container.update(
            command=["/bin/bash", "-c"],
            args=[f"ray start --address=$(LWS_LEADER_ADDRESS):6379 --num-gpus={args.gpus_per_node} --block"],
        )
        leader = {"metadata": pod["metadata"], "spec": {**pod["spec"], "containers": [leader_container]}}
        worker = {"metadata": pod["metadata"], "spec": {**pod["spec"], "containers": [worker_container]}}
        spec: dict[str, Any] = {
            "startupPolicy": "LeaderCreated",
            "rolloutStrategy": {
                "type": "RollingUpdate",
                "rollingUpdateConfiguration": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "leaderWorkerTemplate": {
                "size": args.nodes_per_replica,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": leader,
                "workerTemplate": worker,
            },
        }
        if not args.autoscaled:
            spec = {"replicas": args.replicas, **spec}
        return k8s.apiextensions.CustomResource(
            f"{name}-lws",
            api_version=self.target_api_version,
            kind=self.target_kind,
            metadata=self._meta(args.name, annotations=self._workload_annotations(args, LWS_READY_CONDITION)),
            spec=spec,
            opts=child_options(self, self._opts, depends_on=depends),
        )

    # -- network ------------------------------------------------------------------------------

    def _network_policy(self, name: str, args: VllmServerArgs, child: pulumi.ResourceOptions) -> None:
        """Deny all ingress except: serving port from labelled clients, metrics from GMP collectors,
        and (multi-node) the group's own pods to each other."""
        port = [{"port": PORT_NAME, "protocol": "TCP"}]
        ingress: list[dict[str, Any]] = [
            {
                "from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {args.client_label: "true"}}}],
                "ports": port,
            },
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GMP_NAMESPACE}},
                        "podSelector": {"matchLabels": GMP_COLLECTOR_SELECTOR},
                    }
                ],
                "ports": port,
            },
        ]
        if args.nodes_per_replica > 1:
            ingress.append({"from": [{"podSelector": {"matchLabels": self.selector_labels}}]})
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-netpol",
            metadata=self._meta(args.name),
            spec={"podSelector": {"matchLabels": self.selector_labels}, "policyTypes": ["Ingress"], "ingress": ingress},
            opts=child,
        )

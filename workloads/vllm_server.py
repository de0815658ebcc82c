"""The vLLM server: service account, secrets, probe script, Deployment (or LeaderWorkerSet for
multi-node replicas), Service, PodDisruptionBudget and NetworkPolicy — correct by construction.

What the reference deployments get wrong and this component does not (see the README):
startup budget from the cold-start estimate, liveness that sees a hung engine, a drain that
loses no request on a rollout or scale-in (preStop: leave the endpoints, serve until the traffic has
stopped and nothing is in flight → SIGTERM → ``--shutdown-timeout``; fitted to a Spot pool's notice, docs/drain.md),
hardened security context, read-only root filesystem with writable paths on volumes, and
volumes that can back every replica.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.gpu_node_pool import (
    POOL_LABEL,
    SPOT_TAINT,
    GpuNodePool,
    PoolShape,
    compute_class_scheduling,
    spot_pod_grace_seconds,
)
from infra.model_disk import COMPUTE_CLASS_LABEL
from infra.options import child_options
from infra.validation import (
    Problem,
    dns_subdomain,
    ipv4_network,
    kubernetes_labels,
    raise_if_problems,
    type_problems,
)
from workloads.arg_rules import at_least, namespace_name, pinned_image, service_name
from workloads.awaiting import await_annotations
from workloads.checkov import checkov_skip_annotations
from workloads.gateway.lora import LoraAdapters
from workloads.lora_serving import LoraPod, lora_pod, lora_problems
from workloads.lws_operator import READY_CONDITION as LWS_READY_CONDITION
from workloads.pod_security import container_security_context, pod_security_context
from workloads.pod_sizing import PodSize, size_pod
from workloads.pod_snapshot import VLLM_ARGS as SNAPSHOT_VLLM_ARGS
from workloads.pod_snapshot import VLLM_ENV as SNAPSHOT_VLLM_ENV
from workloads.pod_snapshot import pod_spec_fields, snapshot_refusals
from workloads.vllm_args import SERVING_PORT, EngineSettings, engine_args, redefined_flags
from workloads.weights import WeightsMount

PORT_NAME = "http"
PROBE_SCRIPT = Path(__file__).parent / "probes" / "engine_liveness.py"
DRAIN_SCRIPT = Path(__file__).parent / "probes" / "drain_wait.py"
READINESS_SCRIPT = Path(__file__).parent / "probes" / "readiness.py"
PROBE_SCRIPTS = (PROBE_SCRIPT, DRAIN_SCRIPT, READINESS_SCRIPT)
"""The probe ConfigMap's files (the scripts import each other from that one directory)."""
PROBE_MOUNT = "/etc/vllm-probe"
CACHE_MOUNT = "/cache"
RUN_AS_USER = 10001
GRACE_LIMIT_SECONDS = 3600
"""GKE honours a pod's terminationGracePeriodSeconds for at most one hour when it drains a node for an upgrade
(https://cloud.google.com/kubernetes-engine/docs/concepts/node-pool-upgrade-strategies)."""
API_KEY_ENV = "VLLM_API_KEY"
"""vLLM's OpenAI server reads its API key from this variable (vllm/entrypoints/openai/cli_args.py, --api-key)."""
GMP_COLLECTOR_SELECTOR = {"app.kubernetes.io/name": "collector"}
"""Managed Prometheus collector pods (namespace gmp-system) that scrape /metrics."""
GMP_NAMESPACE = "gmp-system"

STARTUP_PROBE_PERIOD = 10
LIVENESS_PERIOD = 20
LIVENESS_FAILURES = 3
LIVENESS_TIMEOUT = 10
PROBE_REQUEST_TIMEOUT = 5
"""The liveness script's own HTTP timeout; below LIVENESS_TIMEOUT so the kubelet sees its verdict."""
READINESS_PERIOD = 2
"""Readiness runs every 2 s with failureThreshold 1: a draining pod leaves the endpoints within ~2 s of its
preStop hook starting (readiness.py tolerates short /health failures itself)."""

SERVER_LOAD_FLAG = "--enable-server-load-tracking"
"""vLLM counts requests from arrival to last byte and serves the count at ``/load`` (vLLM 0.32
``entrypoints/serve/utils/api_utils.py`` ``load_aware_call``); the drain reads it to see pre-processing."""
DRAIN_QUIET_SECONDS = 5
"""The drain lets SIGTERM through after this long with nothing in flight and nothing arriving: longer than
the gap between a client's requests under load, so quiet means the endpoint removal has reached the clients
(a project choice; docs/drain.md)."""
DRAIN_EXIT_RESERVE_SECONDS = 3
"""On a Spot pool the hook's minimum leaves this long of the node's notice (after the quiet period) for vLLM to
exit on SIGTERM before the kubelet's SIGKILL."""

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


Pool = GpuNodePool | PoolShape
"""A GPU pool as workloads take it: the component, or the shape of a pool created elsewhere."""

WEIGHT_SHARE_OF_GPU_MEMORY = 0.8
"""Weights may take at most this share of a replica's usable GPU memory; the rest holds KV cache and
activations (vLLM preallocates KV cache in what ``--gpu-memory-utilization`` leaves after the weights;
below ~20% a replica batches too few sequences to be worth its GPUs — the project's sizing rule)."""


@dataclass(frozen=True)
class VllmServerArgs:
    namespace: pulumi.Input[str]
    """Namespace (created by the caller, so storage claims can live beside the server)."""
    image: pulumi.Input[str]
    """Serving image, pinned by digest (``NAME@sha256:...``) or a resolved image Output (``ContainerImage.ref``)."""
    engine: EngineSettings
    """Typed vLLM settings; ``--model`` is the weights backend's path (leave ``engine.model`` unset)."""
    weights: WeightsMount
    """What the weights backend adds to the pod (volumes, mounts, env, args, annotations, sidecar, hub access)."""
    pool: Pool
    """The GPU pool replicas run on: GPU count (``nvidia.com/gpu``), pod size, node selector and tolerations
    follow from it."""
    overflow_pool: Pool | None = None
    """A second pool with the same GPUs (e.g. Spot) that replicas may also use; ``pool`` stays preferred."""
    compute_class: str | None = None
    """A custom ComputeClass the replicas select instead of ``pool`` (GKE places them by its fallback order;
    ``pool`` still sizes the pod, so the class's shapes must carry its GPUs)."""
    name: str | None = None
    """Name of the Deployment/Service and prefix of every Kubernetes object; None = the component's name."""
    google_service_account: pulumi.Input[str] | None = None
    """GSA email for Workload Identity (bucket access); None leaves the KSA unannotated. A backend that reads
    the bucket (``weights.needs_bucket_read``) needs it."""
    weight_bytes: float | None = None
    """Bytes the weights take in GPU memory (after on-the-fly quantization); given, the server checks they
    leave room for KV cache."""
    replicas: int = 1
    """Replicas (the autoscaler's minimum when one manages them)."""
    max_replicas: int = 1
    """The most replicas that can run; above one a PodDisruptionBudget keeps voluntary evictions to one at a time.
    Their nodes must fit ``pool`` and ``overflow_pool`` (where their maximum is known)."""
    model_context_length: int | None = None
    """The model's longest context (its config's ``max_position_embeddings``); given, ``engine.max_model_len`` may
    not exceed it. None skips the check."""
    autoscaled: bool = False
    """An HPA or KEDA owns `replicas`: leave it out of the spec so updates don't fight the autoscaler."""
    nodes_per_replica: int = 1
    """>1 renders a LeaderWorkerSet (tensor parallel within a node, pipeline parallel across, Ray)."""
    workload_depends_on: tuple[pulumi.Resource, ...] = ()
    """What the Deployment/LeaderWorkerSet must wait for besides this component's own objects and the pools:
    the controller serving its kind (``workloads.lws_operator.LwsOperator`` for a LeaderWorkerSet)."""
    startup_budget_seconds: int = 600
    """Cold-start budget the startupProbe allows (failureThreshold × period covers it)."""
    pre_stop_seconds: int = 15
    """The longest the endpoint removal may take to reach every client (kube-proxy, the gateway): the preStop
    hook keeps serving at least this long before SIGTERM, and longer while traffic still arrives or requests
    are in flight (probes/drain_wait.py). Not a sleep; capped to fit a Spot pool's notice (``drain_budget``)."""
    drain_queue_seconds: int = 60
    """How much longer than ``pre_stop_seconds`` the hook may wait for the traffic to stop and the requests in
    flight to finish (vLLM refuses at SIGTERM what is still waiting or in pre-processing)."""
    api_key: pulumi.Input[str] | None = None
    """API key (a Pulumi secret); stored in a Secret and passed as VLLM_API_KEY."""
    cache_size_limit: str = "100Gi"
    """Size limit of the cache emptyDir (compile cache, HF home, downloads)."""
    client_label: str = "gke-inference/client"
    """Pods labelled `<client_label>: "true"` may call the server."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on every object."""
    ingress_ip_blocks: tuple[str, ...] = ()
    """IPv4 CIDRs admitted on the serving port besides labelled pods: a load balancer's proxy-only subnet and
    Google's health-check ranges when an InferencePool fronts the server (its endpoints are the pods)."""
    pod_snapshots: bool = False
    """Pods GKE can checkpoint and restore (``workloads.pod_snapshot``): gVisor runtime class and node selector,
    the sandbox toleration, vLLM sleep mode and eager safetensors loading, ``VLLM_HOST_IP=127.0.0.1``, and the KSA
    token mounted (GKE reaches the snapshot bucket as the pod's KSA, ``tokenSource: podKSA``). The pools must run
    gVisor (``GpuNodePoolArgs.gvisor``); one GPU per replica, no GCS FUSE weights."""
    lora: LoraAdapters | None = None
    """LoRA adapters served beside the base model, each under its own name (``served_names``): an init container
    fetches them into the pod before vLLM starts (``workloads.lora_serving``). Bucket adapters are read through
    ``google_service_account``. None serves the base model only."""


# --------------------------------------------------------------------------------------------
# Argument validation (the stack config runs the same function: stack/config.py server_args)
# --------------------------------------------------------------------------------------------

MIN_STARTUP_BUDGET_SECONDS = 60
"""A startup budget below a minute cannot cover an image pull and weight load on any GPU node."""


def gpus_per_replica(args: VllmServerArgs) -> int:
    """GPUs one replica gets: the pool's GPUs per node × nodes per replica."""
    return args.pool.machine.gpu_count * args.nodes_per_replica


def _parallelism_problems(args: VllmServerArgs) -> list[Problem]:
    engine, machine = args.engine, args.pool.machine
    gpus, product = gpus_per_replica(args), engine.tensor_parallel_size * engine.pipeline_parallel_size
    problems = []
    if product != gpus:
        problems.append(Problem("engine.tensor_parallel_size", (
            f"{{engine.tensor_parallel_size}} × {{engine.pipeline_parallel_size}} = {product} but a replica gets "
            f"{gpus} GPU(s) ({args.nodes_per_replica} node(s) of {machine.name} with {machine.gpu_count}); set them "
            f"so the product is {gpus}")))
    if args.nodes_per_replica > 1 and engine.tensor_parallel_size > machine.gpu_count:
        problems.append(Problem("engine.tensor_parallel_size", (
            f"multi-node replicas split tensors within a node ({machine.gpu_count} GPUs) and pipeline across nodes")))
    if args.model_context_length is not None and engine.max_model_len is not None and (
            engine.max_model_len > args.model_context_length):
        problems.append(Problem("engine.max_model_len", (
            f"{engine.max_model_len} exceeds the model's context of {args.model_context_length} tokens "
            "({model_context_length}); set at most that")))
    budget, context = engine.max_num_batched_tokens, engine.max_model_len
    if not engine.enable_chunked_prefill and budget is not None and context is not None and budget < context:
        problems.append(Problem("engine.max_num_batched_tokens", (
            f"{budget} is below {{engine.max_model_len}} ({context}) with chunked prefill off: vLLM refuses to start "
            "(vllm/config/scheduler.py SchedulerConfig._verify_args); raise it, lower the context, or turn chunked "
            "prefill on")))
    for index, flag in redefined_flags(engine.extra):
        problems.append(Problem(f"engine.extra.{index}", (
            f"{engine.extra[index]!r} redefines {flag}, which the server sets from a typed setting; set that "
            "EngineSettings field instead (the memory and autoscaling rules read it)")))
    return problems


def _memory_problems(args: VllmServerArgs) -> list[Problem]:
    if args.weight_bytes is None:
        return []
    machine, gpus = args.pool.machine, gpus_per_replica(args)
    usable_gb = machine.gpu.memory_gb * gpus * args.engine.gpu_memory_utilization
    weights_gb = args.weight_bytes / 1e9
    if weights_gb <= WEIGHT_SHARE_OF_GPU_MEMORY * usable_gb:
        return []
    return [Problem("weight_bytes", (
        f"{weights_gb:.0f} GB of weights, but a replica has {usable_gb:.0f} GB usable GPU memory ({gpus}× "
        f"{machine.gpu.name} at {{engine.gpu_memory_utilization}} {args.engine.gpu_memory_utilization:g}) and needs "
        f"{100 - WEIGHT_SHARE_OF_GPU_MEMORY * 100:.0f}% of it for KV cache; quantize (fp8/int4), raise "
        "{engine.tensor_parallel_size} with a bigger machine, or pick a machine with more GPU memory"))]


def _pool_problems(args: VllmServerArgs) -> list[Problem]:
    problems = []
    machine, overflow = args.pool.machine, args.overflow_pool
    if args.compute_class is not None:
        problems += dns_subdomain("compute_class", args.compute_class, "ComputeClass name")
        if overflow is not None:
            problems.append(Problem("overflow_pool", "a ComputeClass orders the capacity itself; list the overflow "
                                                     "pool in one of its rules ({compute_class}) instead"))
    if overflow is not None:
        if (overflow.machine.accelerator, overflow.machine.gpu_count) != (machine.accelerator, machine.gpu_count):
            problems.append(Problem("overflow_pool", f"{overflow.machine.name} differs from {machine.name} in GPUs; "
                                                     "replicas must fit either pool unchanged"))
        if POOL_LABEL not in overflow.scheduling.node_selector or POOL_LABEL not in args.pool.scheduling.node_selector:
            problems.append(Problem("overflow_pool", f"both pools' node selectors must name the pool ({POOL_LABEL}) "
                                                     "so replicas can prefer one"))
    pools = [shape for shape in (args.pool, overflow) if shape is not None]
    capacity = [shape.max_nodes for shape in pools]
    nodes = max(args.replicas, args.max_replicas) * args.nodes_per_replica
    if args.compute_class is None and None not in capacity and nodes > sum(c or 0 for c in capacity):
        problems.append(Problem("max_replicas", (
            f"{max(args.replicas, args.max_replicas)} replica(s) × {args.nodes_per_replica} node(s) = {nodes} nodes, "
            f"but {{pool}}{' and {overflow_pool}' if overflow else ''} hold at most {sum(c or 0 for c in capacity)}; "
            "lower it or give the pools more nodes")))
    for pool_path, shape in (("pool", args.pool), ("overflow_pool", overflow)):
        if shape is not None and shape.shared_gpus:
            problems.append(Problem(pool_path, (
                f"the pool shares its GPUs ({shape.shared_gpus}); the server sizes memory, tensor parallelism and "
                "pods for whole GPUs: serve on a pool without GPU sharing")))
        if shape is not None and shape.queued_provisioning:
            problems.append(Problem(pool_path, (
                "the pool has queued provisioning: its nodes come only through ProvisioningRequests, which the "
                "server's pods do not make, so they would stay Pending; serve on a pool without it")))
    weights = args.weights
    for pool_path, shape in (("pool", args.pool), ("overflow_pool", overflow)):
        if shape is not None and weights.local_ssd_file_cache and not shape.ephemeral_local_ssd:
            problems.append(Problem("weights.local_ssd_file_cache", (
                f"the {weights.backend} file cache lives on node ephemeral storage backed by Local SSD, but "
                f"{{{pool_path}}} ({shape.machine.name}) has none; use a memory or no file cache, or a pool with "
                "local_ssd_mode ephemeral")))
    try:
        pod_size(args)
    except ValueError as err:
        problems.append(Problem("pool", str(err)))
    return problems


def _lifecycle_problems(args: VllmServerArgs) -> list[Problem]:
    problems = at_least("replicas", args.replicas, 1) + at_least("nodes_per_replica", args.nodes_per_replica, 1)
    if args.max_replicas < args.replicas:
        problems.append(Problem("max_replicas", f"{{max_replicas}} ({args.max_replicas}) must be ≥ {{replicas}} "
                                                f"({args.replicas})"))
    if not args.weights.read_only_many and max(args.replicas, args.max_replicas) > 1:
        problems.append(Problem("weights.read_only_many", (
            f"a ReadWriteOnce {args.weights.backend} volume can back one replica, but up to "
            f"{max(args.replicas, args.max_replicas)} may run; use a ReadOnlyMany volume (pre-populated, mounted "
            "read-only) or hyperdiskMl")))
    if args.weights.needs_bucket_read and args.google_service_account is None:
        problems.append(Problem("google_service_account", (
            f"the {args.weights.backend} backend reads the bucket through Workload Identity: set "
            "{google_service_account}")))
    problems += at_least("startup_budget_seconds", args.startup_budget_seconds, MIN_STARTUP_BUDGET_SECONDS)
    problems += at_least("pre_stop_seconds", args.pre_stop_seconds, 1, "the pod must leave Service endpoints first")
    problems += at_least("drain_queue_seconds", args.drain_queue_seconds, 0)
    problems += at_least("engine.shutdown_timeout_seconds", args.engine.shutdown_timeout_seconds, 1,
                         "without it vLLM aborts in-flight requests")
    if not problems and VllmServer.termination_grace_seconds(args) > GRACE_LIMIT_SECONDS:
        problems.append(Problem("engine.shutdown_timeout_seconds", (
            f"{{pre_stop_seconds}}, {{drain_queue_seconds}} and {{engine.shutdown_timeout_seconds}} make "
            f"{VllmServer.termination_grace_seconds(args)} s of termination grace; GKE honours at most "
            f"{GRACE_LIMIT_SECONDS} s when it drains a node, so keep the sum within it")))
    return problems


@dataclass(frozen=True)
class DrainBudget:
    """The preStop hook's timings in seconds (probes/drain_wait.py; docs/drain.md)."""

    minimum: int
    """Serve at least this long after leaving the endpoints (endpoint propagation, for sparse traffic)."""
    quiet: int
    """Then return after this long with nothing in flight and nothing arriving."""
    maximum: int
    """Return at this deadline regardless, counting what is still in flight. A preemption ends the hook
    earlier (the node's notice); its last progress line then counts the requests cut."""
    spot_notice: int | None
    """Seconds a preempted node gives the pod (the shortest of its pools); None when no pool is Spot."""


def pool_spot_notice(pool: Pool) -> int | None:
    """Seconds a preempted node of ``pool`` gives ordinary pods; None on-demand. A pool shape with a Spot
    toleration but no notice gets GKE's default."""
    if pool.spot_pod_grace_seconds is not None:
        return pool.spot_pod_grace_seconds
    spot = any(t.get("key") == SPOT_TAINT["key"] for t in pool.scheduling.tolerations)
    return spot_pod_grace_seconds(spot)


def drain_budget(args: VllmServerArgs) -> DrainBudget:
    """Serve at least ``pre_stop_seconds``, at most ``pre_stop_seconds + drain_queue_seconds`` (a deletion's
    budget). When a replica may run on Spot (``pool`` or ``overflow_pool``; one pod template serves both) the
    minimum shrinks so that minimum + quiet period + ``DRAIN_EXIT_RESERVE_SECONDS`` fit the node's notice: a
    preempted pod whose traffic stopped and whose requests finished exits cleanly within it. The deadline stays:
    a preemption's loss is what is still running when the notice ends, whatever the hook does, and a deletion
    on the on-demand pool keeps its full budget."""
    notices = [n for n in (pool_spot_notice(p) for p in (args.pool, args.overflow_pool) if p is not None)
               if n is not None]
    minimum, maximum = args.pre_stop_seconds, args.pre_stop_seconds + args.drain_queue_seconds
    notice = min(notices) if notices else None
    if notice is not None:
        minimum = max(0, min(minimum, notice - DRAIN_EXIT_RESERVE_SECONDS - DRAIN_QUIET_SECONDS))
    return DrainBudget(minimum, DRAIN_QUIET_SECONDS, maximum, notice)


def validate_vllm_server_args(args: VllmServerArgs, name: str = "vllm") -> list[Problem]:
    """Every problem with ``args`` (pure): types, GPUs vs parallelism, memory fit, pools, weights vs replicas,
    identity, lifecycle timings, names and the image pin. ``name`` is the component name (``args.name``'s
    default)."""
    problems = type_problems(args, VllmServerArgs)
    if problems:
        return problems
    problems = service_name("name", args.name or name, "Service name (the component name when name is unset)")
    problems += namespace_name("namespace", args.namespace) + pinned_image("image", args.image)
    if args.engine.model is not None:
        problems.append(Problem("engine.model", "leave it unset: --model is the weights backend's path "
                                                "(weights.model_path)"))
    problems += _parallelism_problems(args) + _memory_problems(args) + _pool_problems(args)
    problems += _lifecycle_problems(args)
    problems += kubernetes_labels("labels", args.labels)
    for index, block in enumerate(args.ingress_ip_blocks):
        problems += ipv4_network(f"ingress_ip_blocks.{index}", block, "block")[1]
    if args.lora is not None:
        mounts = ("/dev/shm", CACHE_MOUNT, "/tmp", PROBE_MOUNT, *(m["mountPath"] for m in args.weights.volume_mounts
                                                                      if isinstance(m.get("mountPath"), str)))
        problems += lora_problems(args.lora, args.engine.served_model_name, args.google_service_account,
                                  args.engine.extra, mounts)
    if args.pod_snapshots:
        refusals = snapshot_refusals(gpus_per_replica(args), args.weights.backend)
        paths = {"gpus_per_replica": "engine.tensor_parallel_size", "weights_backend": "weights.backend"}
        problems += [Problem(paths[refusal.property_path], refusal.render(lambda path: f"{{{paths[path]}}}"))
                     for refusal in refusals]
        extra = args.engine.extra
        for index, arg in enumerate(extra):
            flag, _, value = arg.partition("=")
            value = value or (extra[index + 1] if index + 1 < len(extra) else "")
            if flag == "--safetensors-load-strategy" and value != "eager":
                problems.append(Problem(f"engine.extra.{index}", (
                    f"{flag} {value}: Pod snapshots need eager loading (mmap'd weight files break or bloat the "
                    "snapshot; llm-d guides/gke-pod-snapshots README @1057311a, caveat 3); drop it, the server sets "
                    "eager")))
    return problems


SANDBOX_TOLERATION = {"key": "sandbox.gke.io/runtime", "operator": "Equal", "value": "gvisor", "effect": "NoSchedule"}
"""Tolerates the taint GKE puts on gVisor nodes (``infra.gpu_node_pool.SANDBOX_TAINT``). The ``gvisor`` RuntimeClass
adds it to created pods anyway; stated so that what reads the pod template alone (a CapacityBuffer's autoscaler
simulation) sees the pods fit the pool."""
SNAPSHOT_CHECKOV_SKIPS = (
    (
        "CKV_K8S_38",
        "Pod snapshots: GKE writes and reads the snapshot bucket as the pod's KSA (PodSnapshotStorageConfig "
        "tokenSource podKSA), which needs the projected token",
    ),
)


def _snapshot_flags(extra: tuple[str, ...]) -> tuple[str, ...]:
    """The Pod-snapshot recipe's vLLM flags (``workloads.pod_snapshot.VLLM_ARGS``) that ``extra`` does not set."""
    given = {arg.split("=", 1)[0] for arg in extra}
    flags: list[str] = []
    for index, arg in enumerate(SNAPSHOT_VLLM_ARGS):
        if arg.startswith("--") and arg not in given:
            value = SNAPSHOT_VLLM_ARGS[index + 1] if index + 1 < len(SNAPSHOT_VLLM_ARGS) else ""
            flags += [arg, value] if value and not value.startswith("--") else [arg]
    return tuple(flags)


def _snapshot_pod_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """What a pod GKE can snapshot changes in ``spec``: the gVisor runtime class and node selector
    (``pod_spec_fields``), the sandbox toleration, and the KSA token (``tokenSource: podKSA``)."""
    fields = pod_spec_fields()
    return {
        "runtimeClassName": fields["runtimeClassName"],
        "nodeSelector": {**spec["nodeSelector"], **fields["nodeSelector"]},
        "tolerations": [*spec["tolerations"], SANDBOX_TOLERATION],
        "automountServiceAccountToken": True,
    }


def _add_lora(spec: dict[str, Any], lora: LoraPod) -> None:
    """The adapters' init container (after the weights' own), volumes, and the read-only mount in vLLM's container.
    A LeaderWorkerSet's leader and worker templates are both made from this spec (every pod loads the adapters)."""
    spec["initContainers"].append(lora.init_container)
    spec["volumes"] += lora.volumes
    spec["containers"][0]["volumeMounts"].append(lora.volume_mount)


def pod_size(args: VllmServerArgs) -> PodSize:
    """The vLLM container's requests and /dev/shm: one pod fills one node of the pool (room left for the
    GCS FUSE sidecar when the weights bring one)."""
    machine = args.pool.machine
    return size_pod(machine.vcpu, machine.ram_gb, machine.gpu_count, gcsfuse_sidecar=args.weights.fuse_sidecar)


def scheduling(args: VllmServerArgs) -> tuple[dict[str, str], list[dict[str, str]], tuple[str, ...]]:
    """(node selector, tolerations, preferred pool names) from the pool and the overflow pool.

    With a ComputeClass: the class and the accelerator, the pool's tolerations and the class's. One pool: its own
    selector. With an overflow pool: the accelerator only, the union of both pools'
    tolerations, and a node affinity preferring ``pool`` (``_pool_affinity``)."""
    pool, overflow = args.pool.scheduling, args.overflow_pool
    if args.compute_class is not None:
        placement = compute_class_scheduling(args.compute_class)
        selector = {**placement.node_selector, "cloud.google.com/gke-accelerator": args.pool.machine.accelerator}
        tolerations = [t for t in pool.tolerations if t["key"] != COMPUTE_CLASS_LABEL]
        return selector, [*tolerations, *placement.tolerations], ()
    if overflow is None:
        return dict(pool.node_selector), list(pool.tolerations), ()
    tolerations = list(pool.tolerations)
    tolerations += [t for t in overflow.scheduling.tolerations if t not in tolerations]
    accelerator = {"cloud.google.com/gke-accelerator": args.pool.machine.accelerator}
    preferred = (pool.node_selector[POOL_LABEL], overflow.scheduling.node_selector[POOL_LABEL])
    return accelerator, tolerations, preferred


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
    object_name: str
    """Name of the Deployment/Service (``args.name`` or the component name)."""
    gpus_per_node: int
    """``nvidia.com/gpu`` per pod: the pool machine's GPU count."""
    size: PodSize
    """CPU/memory requests and /dev/shm, from the pool's machine."""

    def __init__(self, name: str, args: VllmServerArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("VllmServer", name, validate_vllm_server_args(args, name))
        super().__init__("gke-inference:workloads:VllmServer", name, {}, opts)
        child = child_options(self, opts)
        self.object_name = args.name or name
        self.gpus_per_node = args.pool.machine.gpu_count
        self.size = pod_size(args)
        self._node_selector, self._tolerations, self._preferred_pools = scheduling(args)
        # Pods wait for the pools they run on (the pool carries the GPU taint and labels they select).
        pools = [p for p in (args.pool, args.overflow_pool) if isinstance(p, pulumi.Resource)]
        self.selector_labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": self.object_name}
        self.labels = {**self.selector_labels, "app.kubernetes.io/component": "inference-server", **args.labels}
        self.served_model_name = args.engine.served_model_name
        self.target_name = self.object_name
        self._args = args
        self._opts = opts

        service_account = k8s.core.v1.ServiceAccount(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-ksa",
            metadata=self._meta(
                self.object_name,
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
            metadata=self._meta(f"{self.object_name}-probe"),
            data={script.name: script.read_text() for script in PROBE_SCRIPTS},
            opts=child,
        )
        depends = [
            service_account, probe, *secrets.values(), *args.weights.dependencies, *args.workload_depends_on, *pools
        ]
        pod = self._pod_template(args, secrets)
        if args.nodes_per_replica > 1:
            self.workload = self._leader_worker_set(name, args, pod, depends)
        else:
            self.workload = self._deployment(name, args, pod, depends)
        k8s.core.v1.Service(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-svc",
            metadata=self._meta(self.object_name),
            spec={
                "type": "ClusterIP",
                "selector": self._leader_selector(args),
                "ports": [{"name": PORT_NAME, "port": SERVING_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
            },
            opts=child,
        )
        if max(args.replicas, args.max_replicas) > 1:
            # Every pod of the server, leaders and workers alike: evicting any pod of a multi-node replica
            # restarts its whole group, so at most one pod at a time (one group at a time) may go.
            k8s.policy.v1.PodDisruptionBudget(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
                f"{name}-pdb",
                metadata=self._meta(self.object_name),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": self.selector_labels}},
                opts=child,
            )
        self._network_policy(name, args, child)
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.service_url = pulumi.Output.concat(
            "http://", self.object_name, ".", self.namespace, ".svc.cluster.local:", str(SERVING_PORT)
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
                metadata=self._meta(f"{self.object_name}-{suffix}"),
                type="Opaque",
                string_data={"token": pulumi.Output.secret(value)},
                opts=child,
            )
        return secrets

    # -- pod ----------------------------------------------------------------------------------

    def _pod_template(self, args: VllmServerArgs, secrets: dict[str, k8s.core.v1.Secret]) -> dict[str, Any]:
        load_flag = () if SERVER_LOAD_FLAG in args.engine.extra else (SERVER_LOAD_FLAG,)  # the drain reads /load
        lora = lora_pod(args.lora, RUN_AS_USER) if args.lora is not None else None
        engine = replace(args.engine, extra=(*load_flag, *args.weights.vllm_args, *args.engine.extra,
                                             *(_snapshot_flags(args.engine.extra) if args.pod_snapshots else ()),
                                             *(lora.vllm_args if lora else ())))
        container = {
            "name": "vllm",
            "image": args.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            "args": engine_args(engine, model=args.weights.model_path),
            "env": self._env(args, secrets),
            "ports": [{"name": PORT_NAME, "containerPort": SERVING_PORT, "protocol": "TCP"}],
            "resources": self._resources(),
            **self._probes(args),
            "lifecycle": {"preStop": {"exec": {"command": ["python3", f"{PROBE_MOUNT}/{DRAIN_SCRIPT.name}"]}}},
            "securityContext": container_security_context(RUN_AS_USER),
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
            "serviceAccountName": self.object_name,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": self.termination_grace_seconds(args),
            "securityContext": pod_security_context(RUN_AS_USER),
            "nodeSelector": self._node_selector,
            "tolerations": self._tolerations,
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
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": self.size.shm}},
                {"name": "cache", "emptyDir": {"sizeLimit": args.cache_size_limit}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                {"name": "probe", "configMap": {"name": f"{self.object_name}-probe", "defaultMode": 0o444}},
                *args.weights.volumes,
            ],
        }
        if self._preferred_pools:
            spec["affinity"] = self._pool_affinity(self._preferred_pools)
        if args.pod_snapshots:
            spec.update(_snapshot_pod_fields(spec))
        if lora is not None:
            _add_lora(spec, lora)
        if not spec["initContainers"]:
            del spec["initContainers"]
        metadata: dict[str, Any] = {"labels": self.labels}
        if annotations:
            metadata["annotations"] = annotations
        return {"metadata": metadata, "spec": spec}

    @property
    def served_names(self) -> list[str]:
        """Every name clients may send as ``model``: the base model's served name, then the adapters' (sorted)."""
        adapters = sorted(self._args.lora.adapters) if self._args.lora is not None else []
        return [self.served_model_name, *adapters]

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
            *self._drain_env(args),
        ]
        if args.weights.offline_hub:
            env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
        if args.pod_snapshots:
            env += [{"name": key, "value": value} for key, value in SNAPSHOT_VLLM_ENV.items()]
        if "apiKey" in secrets:
            env.append(
                {
                    "name": API_KEY_ENV,
                    "valueFrom": {"secretKeyRef": {"name": f"{self.object_name}-api-key", "key": "token"}},
                }
            )
        return env + list(args.weights.env)

    def _resources(self) -> dict[str, Any]:
        amounts = {"cpu": self.size.cpu, "memory": self.size.memory, "ephemeral-storage": "50Gi"}
        return {"requests": amounts, "limits": {**amounts, "nvidia.com/gpu": str(self.gpus_per_node)}}

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
            **checkov_skip_annotations(CHECKOV_SKIPS + (SNAPSHOT_CHECKOV_SKIPS if args.pod_snapshots else ())),
            **await_annotations(condition, cls.rollout_timeout_seconds(args)),
        }

    @staticmethod
    def termination_grace_seconds(args: VllmServerArgs) -> int:
        """The preStop hook's deadline + vLLM's drain + 15 s to exit: a deletion never SIGKILLs a draining server.
        (A Spot preemption cuts it to the node's notice; ``drain_budget`` fits the hook's minimum into that.)"""
        return drain_budget(args).maximum + args.engine.shutdown_timeout_seconds + 15

    @staticmethod
    def _drain_env(args: VllmServerArgs) -> list[dict[str, str]]:
        budget = drain_budget(args)
        return [
            {"name": "DRAIN_MIN_SECONDS", "value": str(budget.minimum)},
            {"name": "DRAIN_QUIET_SECONDS", "value": str(budget.quiet)},
            {"name": "DRAIN_MAX_SECONDS", "value": str(budget.maximum)},
        ]

    def _probes(self, args: VllmServerArgs) -> dict[str, Any]:
        health = {"path": "/health", "port": PORT_NAME}
        return {
            "startupProbe": {
                "httpGet": health,
                "periodSeconds": STARTUP_PROBE_PERIOD,
                "timeoutSeconds": 5,
                "failureThreshold": self.startup_failure_threshold(args),
            },
            "readinessProbe": {
                "exec": {"command": ["python3", f"{PROBE_MOUNT}/{READINESS_SCRIPT.name}"]},
                "periodSeconds": READINESS_PERIOD,
                "timeoutSeconds": 3,
                "failureThreshold": 1,
            },
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
            metadata=self._meta(self.object_name, annotations=self._workload_annotations(args, condition=None)),
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
            f"ray start --head --port=6379 --num-gpus={self.gpus_per_node} && "
            f"until [ $(ray status 2>/dev/null | grep -c node_) -ge {args.nodes_per_replica} ]; do sleep 5; done && "
        )
        leader_container = {
            **serve,
            "command": ["/bin/bash", "-c"],
            "args": [ray_wait + "exec python3 -m vllm.entrypoints.openai.api_server " + shlex.join(serve["args"])],
        }
        worker_container = {
            key: value
            for key, value in serve.items()
            if key not in ("startupProbe", "readinessProbe", "livenessProbe", "ports", "lifecycle")
        }
        worker_container.update(
            command=["/bin/bash", "-c"],
            args=[f"ray start --address=$(LWS_LEADER_ADDRESS):6379 --num-gpus={self.gpus_per_node} --block"],
            # Workers run Ray only: the API key is the leader's (the API server) and stays out of their env.
            env=[e for e in serve.get("env", []) if e["name"] != API_KEY_ENV],
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
            metadata=self._meta(self.object_name, annotations=self._workload_annotations(args, LWS_READY_CONDITION)),
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
        if args.ingress_ip_blocks:
            ingress.append({"from": [{"ipBlock": {"cidr": block}} for block in args.ingress_ip_blocks], "ports": port})
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-netpol",
            metadata=self._meta(self.object_name),
            spec={"podSelector": {"matchLabels": self.selector_labels}, "policyTypes": ["Ingress"], "ingress": ingress},
            opts=child,
        )

"""Sanity bounds and configurations that cannot work, checked on the whole ``StackConfig`` (issue 20).

Each rule returns ``(YAML path, message)`` pairs relative to the platform object; ``StackConfig`` raises them
as one ``FieldErrors``. Every number names its source next to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from infra import zones
from stack.config.base import FieldErrors
from stack.config.serving import POOL_METRICS, AutoscalingConfig, WeightsBackend
from workloads.metrics import vllm_equivalent
from workloads.model_downloader import HUB_ID, HUB_SUSTAINED_GBPS
from workloads.vllm_args import redefined_flags
from workloads.vllm_server import GRACE_LIMIT_SECONDS

if TYPE_CHECKING:
    from stack.config import StackConfig

Errors = list[tuple[str, str]]


def check(errors: Iterable[tuple[str, str]]) -> None:
    """Raise the errors as one ``FieldErrors`` (nothing when there are none)."""
    found = list(errors)
    if found:
        raise FieldErrors(found)


# -- zones ------------------------------------------------------------------------------------


def stack_zone_errors(config: StackConfig) -> Errors:
    """``zones`` entries that are not zones of ``region`` (infra/zones.py's table). A pool's own zones, and the
    GPU each zone offers, are ``GpuNodePool``'s rule (validate_gpu_node_pool_args)."""
    return [("zones", problem) for zone in config.zones if (problem := zones.zone_problem(zone, config.region))]


# -- the model ------------------------------------------------------------------------------------



MODEL_CONTEXT = {
    "meta-llama/Llama-3.1-8B-Instruct": 131072,
    "meta-llama/Llama-3.3-70B-Instruct": 131072,
    "Qwen/Qwen2.5-1.5B-Instruct": 32768,
}
"""Context length (``max_position_embeddings`` of the model's config.json) of the models this repository's stacks
and docs serve. Llama 3.1/3.3: 131,072 (Meta's model cards, "128k"; config.json max_position_embeddings 131072,
rope_type llama3; vulkomilev/oumi configs/recipes/llama3_1/README.md "Model max length 131,072"). Qwen2.5-1.5B-
Instruct: 32,768 (Qwen's model card, "Context Length: Full 32,768 tokens"). A model not listed is not checked."""


def model_errors(config: StackConfig) -> Errors:
    """The hub id's form, and ``maxModelLen`` within the model's context."""
    errors: Errors = []
    model_id = config.model.id
    if not HUB_ID.match(model_id):
        errors.append(("model.id", (
            f"{model_id!r} is not a hub id: use org/name (letters, digits, '-', '_', '.'; no spaces), e.g. "
            "meta-llama/Llama-3.1-8B-Instruct")))
    context = MODEL_CONTEXT.get(model_id)
    length = config.serving.vllm.max_model_len
    if context is not None and length is not None and length > context:
        errors.append(("serving.vllm.maxModelLen", (
            f"{length} exceeds {model_id}'s context of {context} tokens (config.json max_position_embeddings); "
            f"set at most {context}, or leave it unset for the model's own")))
    return errors


def model_context(config: StackConfig) -> int | None:
    """The context vLLM serves: ``maxModelLen``, else the catalogued model's (None when neither is known)."""
    return config.serving.vllm.max_model_len or MODEL_CONTEXT.get(config.model.id)


# -- replicas and nodes -----------------------------------------------------------------------------

GKE_NODES_PER_POOL_ZONE = 1000
"""GKE: at most 1,000 nodes per node pool per zone (https://cloud.google.com/kubernetes-engine/quotas, "Limits
per cluster": nodes per node pool zone)."""
GKE_NODES_PER_CLUSTER = 15000
"""GKE Standard: at most 15,000 nodes per cluster (same page, nodes per cluster; larger only on request)."""


def pool_max_nodes(config: StackConfig, name: str) -> int:
    """The most nodes pool ``name`` can run: ``maxNodes``, times its zones when the limit is per zone."""
    pool = config.gpu_pools[name]
    zone_count = len(config.pool_zones(name))
    return pool.autoscaling.max_nodes * (zone_count if pool.autoscaling.per_zone else 1)


def shared_pool_errors(views: Mapping[str, StackConfig]) -> Errors:
    """Models whose pools overlap: their most replicas together must fit those pools' nodes (each model alone is
    checked by :func:`node_errors`; a ComputeClass model's pools are GKE's to choose, so it is left out)."""
    pools_of = {key: {v.serving.pool, *([v.serving.spot_pool] if v.serving.spot_pool else [])}
                for key, v in views.items() if v.serving.compute_class is None}
    groups: list[set[str]] = []
    for pools in pools_of.values():
        joined = [g for g in groups if g & pools]
        groups = [g for g in groups if not g & pools] + [set(pools).union(*joined)]
    errors: Errors = []
    for group in groups:
        members = [key for key, pools in pools_of.items() if pools <= group]
        if len(members) < 2:
            continue
        first = views[members[0]]
        capacity = sum(pool_max_nodes(first, p) for p in sorted(group))
        needed = {key: views[key].max_replicas() * views[key].serving.nodes_per_replica for key in members}
        if sum(needed.values()) > capacity:
            where = views[members[-1]].yaml_prefix
            parts = " + ".join(f"{key} {n}" for key, n in needed.items())
            errors.append((f"{where}autoscaling.maxReplicas", (
                f"the models on {' + '.join(sorted(group))} need up to {parts} = {sum(needed.values())} nodes at their "
                f"most replicas, but those pools hold at most {capacity}; lower a model's maxReplicas or raise the "
                "pools' autoscaling.maxNodes")))
    return errors


def node_errors(config: StackConfig) -> Errors:
    """Pool sizes within GKE's limits, and the most replicas fitting the pools they may run on."""
    errors: Errors = []
    total = config.cluster.system_pool.max_nodes * len(config.zones)
    for name, pool in config.gpu_pools.items():
        zone_count = len(config.pool_zones(name))
        per_zone = pool.autoscaling.max_nodes if pool.autoscaling.per_zone else -(-pool.autoscaling.max_nodes //
                                                                                  max(zone_count, 1))
        if per_zone > GKE_NODES_PER_POOL_ZONE:
            errors.append((f"gpuPools.{name}.autoscaling.maxNodes", (
                f"{pool.autoscaling.max_nodes} puts up to {per_zone} nodes in a zone; GKE allows "
                f"{GKE_NODES_PER_POOL_ZONE} per node pool and zone (cloud.google.com/kubernetes-engine/quotas)")))
        total += pool_max_nodes(config, name)
    if total > GKE_NODES_PER_CLUSTER:
        errors.append(("gpuPools", (
            f"the pools reach {total} nodes (system pool included); a GKE cluster holds at most "
            f"{GKE_NODES_PER_CLUSTER} (cloud.google.com/kubernetes-engine/quotas)")))
    serving = config.serving
    if serving.pool not in config.gpu_pools or (serving.spot_pool and serving.spot_pool not in config.gpu_pools):
        return errors  # the serving checks name the missing pool
    pools = [serving.pool, *([serving.spot_pool] if serving.spot_pool else [])]
    if serving.compute_class is not None:
        listed = [p for rule in serving.compute_class.priorities for p in rule.pools]
        if any(rule.type != "pools" for rule in serving.compute_class.priorities):
            return errors  # GKE creates nodes for the other rules: no fixed maximum to check against
        if any(p not in config.gpu_pools for p in listed):
            return errors  # the capacity checks name the unknown pool
        pools = list(dict.fromkeys(listed))
    capacity = sum(pool_max_nodes(config, p) for p in pools)
    replicas = config.max_replicas()
    needed = replicas * serving.nodes_per_replica
    if needed > capacity:
        field = "serving.replicas" if config.autoscaling.mode == "none" else "autoscaling.maxReplicas"
        each = ", ".join(f"{p}: {pool_max_nodes(config, p)}" for p in pools)
        errors.append((field, (
            f"{replicas} replica(s) × {serving.nodes_per_replica} node(s) each = {needed} nodes, but "
            f"{' + '.join(pools)} can hold at most {capacity} ({each}); lower it or raise the pools' "
            "autoscaling.maxNodes")))
    return errors


# -- time budgets -----------------------------------------------------------------------------------

TERMINATION_MARGIN_SECONDS = 15
"""VllmServer.termination_grace_seconds adds 15 s to the drain deadline and --shutdown-timeout."""
STARTUP_LIMIT_SECONDS = 14400
"""Four hours: 810 GB of weights (405B parameters, bfloat16) read at the download Job's floor rate
(workloads/model_downloader.py HUB_SUSTAINED_GBPS, 0.1 GB/s) take 8,100 s; a budget beyond this only delays
restarting a start that hung."""


def time_errors(config: StackConfig) -> Errors:
    """Drain and startup budgets within the limits above."""
    serving = config.serving
    errors: Errors = []
    grace = serving.pre_stop_seconds + serving.drain_queue_seconds + serving.shutdown_timeout_seconds
    if grace + TERMINATION_MARGIN_SECONDS > GRACE_LIMIT_SECONDS:
        errors.append(("serving.shutdownTimeoutSeconds", (
            f"preStopSeconds {serving.pre_stop_seconds} + drainQueueSeconds {serving.drain_queue_seconds} + "
            f"shutdownTimeoutSeconds {serving.shutdown_timeout_seconds} + {TERMINATION_MARGIN_SECONDS} = "
            f"{grace + TERMINATION_MARGIN_SECONDS} s of termination grace; GKE honours at most "
            f"{GRACE_LIMIT_SECONDS} s when it drains a node (node upgrades), so keep the sum within it")))
    budget = serving.startup_budget_seconds
    if budget is not None and budget > STARTUP_LIMIT_SECONDS:
        errors.append(("serving.startupBudgetSeconds", (
            f"{budget} s; at most {STARTUP_LIMIT_SECONDS} (810 GB of weights at {HUB_SUSTAINED_GBPS} GB/s take "
            "8,100 s); a longer budget only delays restarting a hung start")))
    return errors


# -- the engine -------------------------------------------------------------------------------------

_FLAG_FIELDS = {
    "--model": "model.id (the weights backend sets --model)",
    "--served-model-name": "serving.vllm.servedModelName",
    "--host": "nothing: the platform serves on 0.0.0.0",
    "--port": "nothing: the platform serves on port 8000 (probes, Service and metrics use it)",
    "--shutdown-timeout": "serving.shutdownTimeoutSeconds",
    "--distributed-executor-backend": "serving.nodesPerReplica (ray across nodes)",
    "--enable-prefix-caching": "serving.vllm.enablePrefixCaching",
    "--no-enable-prefix-caching": "serving.vllm.enablePrefixCaching",
    "--enable-chunked-prefill": "serving.vllm.enableChunkedPrefill",
    "--no-enable-chunked-prefill": "serving.vllm.enableChunkedPrefill",
}


def _typed_field(flag: str) -> str:
    """The config field that sets ``flag`` (``--max-num-seqs`` → ``serving.vllm.maxNumSeqs``)."""
    if flag in _FLAG_FIELDS:
        return _FLAG_FIELDS[flag]
    words = flag[2:].split("-")
    return "serving.vllm." + words[0] + "".join(w.title() for w in words[1:])


VLLM_CHUNKED_PREFILL_RULE = (
    "vLLM refuses to start when chunked prefill is off and max_num_batched_tokens < max_model_len "
    "(vllm/config/scheduler.py SchedulerConfig._verify_args)"
)


def engine_errors(config: StackConfig) -> Errors:
    """Extra arguments that redefine a typed flag; a token budget vLLM refuses without chunked prefill."""
    vllm = config.serving.vllm
    errors: Errors = [
        (f"serving.vllm.extraArgs.{index}", (
            f"{vllm.extra_args[index]!r} redefines {flag}, which the platform sets from {_typed_field(flag)}; "
            f"set that field instead (other rules read it)"))
        for index, flag in redefined_flags(vllm.extra_args)
    ]
    context = model_context(config)
    budget = vllm.max_num_batched_tokens
    if not vllm.enable_chunked_prefill and budget is not None and context is not None and budget < context:
        errors.append(("serving.vllm.maxNumBatchedTokens", (
            f"{budget} is below the {context}-token context with enableChunkedPrefill false: "
            f"{VLLM_CHUNKED_PREFILL_RULE}; raise it to at least maxModelLen, lower maxModelLen, or turn chunked "
            "prefill on")))
    return errors


# -- configurations that cannot work ----------------------------------------------------------------


def pool_errors(config: StackConfig) -> Errors:
    """Serving pools whose GPUs are shared (MIG, time-sharing, MPS) or come from queued provisioning."""
    errors: Errors = []
    serving = config.serving
    for field, name in (("serving.pool", serving.pool), ("serving.spotPool", serving.spot_pool)):
        pool = config.gpu_pools.get(name) if name else None
        if pool is None:
            continue
        if pool.gpu_partition_size is not None or pool.gpu_sharing is not None:
            shared = (f"MIG partitions ({pool.gpu_partition_size})" if pool.gpu_partition_size is not None
                      else f"{pool.gpu_sharing.strategy} sharing" if pool.gpu_sharing else "")
            errors.append((field, (
                f"'{name}' shares its GPUs ({shared}); the server sizes memory, tensor parallelism and pods for "
                "whole GPUs: serve on a pool without gpuPartitionSize/gpuSharing")))
        if pool.queued_provisioning:
            errors.append((field, (
                f"'{name}' has queuedProvisioning: its nodes come only through ProvisioningRequests, which the "
                "server's pods do not make, so they stay Pending; serve on a pool without it (keep it for batch)")))
    return errors


def _identity_users(config: StackConfig) -> list[str]:
    """What reads or writes Google APIs through Workload Identity (stack/program: stack_identity callers)."""
    users = []
    autoscaling: AutoscalingConfig = config.autoscaling
    if autoscaling.mode == "hpa" and autoscaling.install_metrics_adapter:
        users.append("the metrics adapter (autoscaling.mode hpa) reads Managed Prometheus")
    if autoscaling.mode == "keda" and autoscaling.keda.install:
        users.append("KEDA (autoscaling.mode keda) reads Managed Prometheus")
    weights = config.model.weights
    backend = weights.backend
    prefilled = (backend is WeightsBackend.HYPERDISK_ML and weights.hyperdisk_ml.prefilled()) or (
        backend is WeightsBackend.PERSISTENT_DISK and weights.persistent_disk.prefilled())
    if weights.downloader_image is not None and backend is not WeightsBackend.HUGGING_FACE and not prefilled:
        users.append(f"the model download Job ({backend.value}) writes the bucket")
    if backend is WeightsBackend.HYPERDISK_ML and not weights.hyperdisk_ml.prefilled():
        users.append("GKE's Volume Populator (hyperdiskMl) reads the bucket")
    if config.loadtest.enabled:
        users.append("the load test (loadtest.enabled) writes its report to the bucket")
    if config.batch.enabled:
        users.append("the batch Job (batch.enabled) reads and writes the bucket")
    return users


def wiring_errors(config: StackConfig) -> Errors:
    """Workload Identity, Managed Prometheus and the Hyperdisk ML source that the chosen parts need."""
    errors: Errors = []
    if not config.cluster.workload_identity and (users := _identity_users(config)):
        errors.append(("cluster.workloadIdentity", (
            f"false, but {'; '.join(users)} through Workload Identity: set it true, or turn those off")))
    if config.autoscaling.mode != "none" and not config.cluster.managed_prometheus:
        errors.append(("cluster.managedPrometheus", (
            f"false, but autoscaling.mode {config.autoscaling.mode} scales on vLLM metrics that only Managed "
            "Prometheus collects (the PodMonitoring) and serves to the autoscaler: set it true, or "
            "autoscaling.mode none")))
    weights = config.model.weights
    for backend, options in ((WeightsBackend.HYPERDISK_ML, weights.hyperdisk_ml),
                             (WeightsBackend.PERSISTENT_DISK, weights.persistent_disk)):
        for key, value in (("sourceSnapshot", options.source_snapshot), ("sourceImage", options.source_image)):
            if value is not None and not value.strip():
                errors.append((f"model.weights.{backend.value}.{key}", (
                    "empty: name the snapshot/image holding the model, or remove the key to let the stack fill "
                    "the disk")))
    if (weights.backend is WeightsBackend.HYPERDISK_ML and not weights.hyperdisk_ml.prefilled()
            and weights.downloader_image is None):
        errors.append(("model.weights.downloaderImage", (
            "null with hyperdiskMl and no sourceSnapshot/sourceImage: the Volume Populator copies the bucket "
            "prefix once, when the disk is created, and nothing puts the model in the stack's new bucket first; "
            "set downloaderImage (e.g. build), or give hyperdiskMl.sourceSnapshot/sourceImage")))
    return errors


def pool_metric_errors(config: StackConfig) -> Errors:
    """``autoscaling.metrics`` on the endpoint picker's pool averages need the picker: ``gateway.enabled``."""
    if config.gateway.enabled:
        return []
    return [(f"autoscaling.metrics.{index}.metric", (
        f"{target.metric.value} is the Gateway's endpoint picker's average over this model's InferencePool, and "
        "gateway.enabled is false, so no picker exports it: set gateway.enabled true, or scale on vLLM's own "
        f"{vllm_equivalent(target.metric.value)}"))
        for index, target in enumerate(config.autoscaling.metrics) if target.metric in POOL_METRICS]


def bound_errors(config: StackConfig) -> Errors:
    """The rules that need the components' verdict first (the others run before the components, for messages in
    YAML terms: ``stack_zone_errors``, ``model_errors``, ``node_errors``, ``engine_errors``, ``time_errors``,
    ``pool_errors``)."""
    return wiring_errors(config) + pool_metric_errors(config)

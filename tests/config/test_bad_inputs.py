"""Bad inputs and configurations that cannot work (issue 20): each is refused with its YAML path, and the CLI
exits 2 writing nothing.

Each case starts from a committed stack file, changes one thing and asserts the exact line ``StackConfig.parse``
reports (stack/config/bounds.py, infra/zones.py, workloads/vllm_args.py hold the rules and their sources).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra import zones
from infra.catalog import ACCELERATORS
from stack.cli import main
from stack.config import ConfigError, StackConfig
from tests.conftest import load_raw_platform
from workloads.vllm_args import EngineSettings, engine_args, redefined_flags, typed_flags

TABLE = "(infra/zones_data.py, retrieved 2026-12-07)"
Edit = Callable[[dict[str, Any]], object]


def refused(stack: str, edit: Edit) -> list[str]:
    raw = load_raw_platform(stack)
    edit(raw)
    with pytest.raises(ConfigError) as caught:
        StackConfig.parse(raw, stack)
    return caught.value.lines


def dev_pool(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["gpuPools"]["l4-spot"]


CASES: dict[str, tuple[str, Edit, str]] = {
    "zone that does not exist": (
        "dev", lambda r: r.update(zones=["us-central1-a", "us-central1-z"]),
        "platform.zones: 'us-central1-z' is not a zone of us-central1; its zones: us-central1-a, us-central1-b, "
        f"us-central1-c, us-central1-f {TABLE}"),
    "pool zone without the pool's GPU": (
        "prod", lambda r: r["gpuPools"]["h100"].update(zones=["us-central1-f"]),
        "platform.gpuPools.h100.zones: nvidia-h100-80gb (a3-highgpu-8g) is not offered in us-central1-f; zones of "
        f"us-central1 that offer it: us-central1-a, us-central1-b, us-central1-c {TABLE}"),
    "stack zone without the pool's GPU": (
        "dev", lambda r: (r.update(zones=["us-central1-f"]),
                          dev_pool(r).update(machineType="a3-highgpu-1g", localSsd={"mode": "ephemeral"})),
        "platform.zones: nvidia-h100-80gb (a3-highgpu-1g) is not offered in us-central1-f; zones of us-central1 "
        f"that offer it: us-central1-a, us-central1-b, us-central1-c {TABLE}"),
    "empty model id": (
        "dev", lambda r: r["model"].update(id=""),
        "platform.model.id: '' is not a hub id: use org/name (letters, digits, '-', '_', '.'; no spaces), e.g. "
        "meta-llama/Llama-3.1-8B-Instruct"),
    "model id with a space": (
        "dev", lambda r: r["model"].update(id="meta llama/Llama-3.1-8B-Instruct"),
        "platform.model.id: 'meta llama/Llama-3.1-8B-Instruct' is not a hub id: use org/name (letters, digits, "
        "'-', '_', '.'; no spaces), e.g. meta-llama/Llama-3.1-8B-Instruct"),
    "maxModelLen beyond the context": (
        "dev", lambda r: r["serving"]["vllm"].update(maxModelLen=1_000_000),
        "platform.serving.vllm.maxModelLen: 1000000 exceeds meta-llama/Llama-3.1-8B-Instruct's context of 131072 "
        "tokens (config.json max_position_embeddings); set at most 131072, or leave it unset for the model's own"),
    "maxReplicas beyond the pools": (
        "dev", lambda r: r["autoscaling"].update(maxReplicas=10**9),
        "platform.autoscaling.maxReplicas: 1000000000 replica(s) × 1 node(s) each = 1000000000 nodes, but l4-spot "
        "can hold at most 3 (l4-spot: 3); lower it or raise the pools' autoscaling.maxNodes"),
    "replicas spanning nodes beyond serving + spot pools": (
        "prod", lambda r: r["autoscaling"].update(maxReplicas=13),
        "platform.autoscaling.maxReplicas: 13 replica(s) × 1 node(s) each = 13 nodes, but h100 + h100-spot can hold "
        "at most 12 (h100: 6, h100-spot: 6); lower it or raise the pools' autoscaling.maxNodes"),
    "pool beyond GKE's nodes per zone": (
        "dev", lambda r: dev_pool(r)["autoscaling"].update(maxNodes=5000),
        "platform.gpuPools.l4-spot.autoscaling.maxNodes: 5000 puts up to 1667 nodes in a zone; GKE allows 1000 per "
        "node pool and zone (cloud.google.com/kubernetes-engine/quotas)"),
    "shutdown timeout of decades": (
        "dev", lambda r: r["serving"].update(shutdownTimeoutSeconds=10**9),
        "platform.serving.shutdownTimeoutSeconds: preStopSeconds 15 + drainQueueSeconds 60 + shutdownTimeoutSeconds "
        "1000000000 + 15 = 1000000090 s of termination grace; GKE honours at most 3600 s when it drains a node "
        "(node upgrades), so keep the sum within it"),
    "startup budget beyond any load": (
        "dev", lambda r: r["serving"].update(startupBudgetSeconds=10**6),
        "platform.serving.startupBudgetSeconds: 1000000 s; at most 14400 (810 GB of weights at 0.1 GB/s take "
        "8,100 s); a longer budget only delays restarting a hung start"),
    "extraArgs redefining a typed flag": (
        "dev", lambda r: r["serving"]["vllm"].update(extraArgs=["--enforce-eager", "--max-num-seqs=8"]),
        "platform.serving.vllm.extraArgs.1: '--max-num-seqs=8' redefines --max-num-seqs, which the platform sets "
        "from serving.vllm.maxNumSeqs; set that field instead (other rules read it)"),
    "extraArgs redefining the port": (
        "dev", lambda r: r["serving"]["vllm"].update(extraArgs=["--port", "9000"]),
        "platform.serving.vllm.extraArgs.0: '--port' redefines --port, which the platform sets from nothing: the "
        "platform serves on port 8000 (probes, Service and metrics use it); set that field instead (other rules "
        "read it)"),
    "Hyperdisk ML with no source at all": (
        "prod", lambda r: r["model"]["weights"].update(downloaderImage=None),
        "platform.model.weights.downloaderImage: null with hyperdiskMl and no sourceSnapshot/sourceImage: the "
        "Volume Populator copies the bucket prefix once, when the disk is created, and nothing puts the model in "
        "the stack's new bucket first; set downloaderImage (e.g. build), or give "
        "hyperdiskMl.sourceSnapshot/sourceImage"),
    "Hyperdisk ML with an empty source": (
        "prod", lambda r: r["model"]["weights"]["hyperdiskMl"].update(sourceImage=""),
        "platform.model.weights.hyperdiskMl.sourceImage: empty: name the snapshot/image holding the model, or "
        "remove the key to let the stack fill the disk"),
    "no Workload Identity with a disk backend": (
        "dev", lambda r: (r["cluster"].update(workloadIdentity=False),
                          dev_pool(r).update(workloadMetadata="GCE_METADATA"),
                          r["model"]["weights"].update(backend="persistentDisk")),
        "platform.cluster.workloadIdentity: false, but the metrics adapter (autoscaling.mode hpa) reads Managed "
        "Prometheus; the model download Job (persistentDisk) writes the bucket; the load test (loadtest.enabled) "
        "writes its report to the bucket through Workload Identity: set it true, or turn those off"),
    "serving on a time-shared pool": (
        "dev", lambda r: dev_pool(r).update(gpuSharing={"strategy": "TIME_SHARING", "maxSharedClientsPerGpu": 2}),
        "platform.serving.pool: 'l4-spot' shares its GPUs (TIME_SHARING sharing); the server sizes memory, tensor "
        "parallelism and pods for whole GPUs: serve on a pool without gpuPartitionSize/gpuSharing"),
    "serving on a MIG pool": (
        "prod", lambda r: r["gpuPools"]["h100"].update(gpuPartitionSize="1g.10gb"),
        "platform.serving.pool: 'h100' shares its GPUs (MIG partitions (1g.10gb)); the server sizes memory, tensor "
        "parallelism and pods for whole GPUs: serve on a pool without gpuPartitionSize/gpuSharing"),
    "serving on a queued-provisioning pool": (
        "dev", lambda r: dev_pool(r).update(queuedProvisioning=True, spot=False),
        "platform.serving.pool: 'l4-spot' has queuedProvisioning: its nodes come only through ProvisioningRequests, "
        "which the server's pods do not make, so they stay Pending; serve on a pool without it (keep it for batch)"),
    "HPA without Managed Prometheus": (
        "dev", lambda r: r["cluster"].update(managedPrometheus=False, monitoringComponents=["SYSTEM_COMPONENTS"]),
        "platform.cluster.managedPrometheus: false, but autoscaling.mode hpa scales on vLLM metrics that only "
        "Managed Prometheus collects (the PodMonitoring) and serves to the autoscaler: set it true, or "
        "autoscaling.mode none"),
    "chunked prefill off with a small token budget": (
        "dev", lambda r: r["serving"]["vllm"].update(enableChunkedPrefill=False, maxNumBatchedTokens=2048),
        "platform.serving.vllm.maxNumBatchedTokens: 2048 is below the 8192-token context with enableChunkedPrefill "
        "false: vLLM refuses to start when chunked prefill is off and max_num_batched_tokens < max_model_len "
        "(vllm/config/scheduler.py SchedulerConfig._verify_args); raise it to at least maxModelLen, lower "
        "maxModelLen, or turn chunked prefill on"),
    "environment deleted": ("prod", lambda r: r.pop("environment"), "platform.environment: Field required"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_its_field(case):
    stack, edit, line = CASES[case]
    assert refused(stack, edit) == [line]


def test_committed_stacks_pass_every_bound(dev_raw, prod_raw):
    assert StackConfig.parse(dev_raw, "dev").model.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert StackConfig.parse(prod_raw, "prod").environment == "prod"


def test_chunked_prefill_off_with_a_budget_covering_the_context_is_accepted(dev_raw):
    dev_raw["serving"]["vllm"].update(enableChunkedPrefill=False, maxNumBatchedTokens=8192)
    assert StackConfig.parse(dev_raw, "dev").serving.vllm.max_num_batched_tokens == 8192


def test_replicas_fit_exactly_the_serving_and_spot_pools(prod_raw):
    prod_raw["autoscaling"]["maxReplicas"] = 12
    assert StackConfig.parse(prod_raw, "prod").max_replicas() == 12


@pytest.mark.parametrize("model_id", ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "a/b.c_d-e"])
def test_hub_ids_accepted(dev_raw, model_id):
    dev_raw["model"]["id"] = model_id
    assert StackConfig.parse(dev_raw, "dev").model.id == model_id


@pytest.mark.parametrize("model_id", ["gpt2", "a/b/c", "org/-name", "org/na--me", "org/", " org/name", "ørg/name"])
def test_hub_id_rule_is_at_least_as_strict_as_the_hub(model_id):
    """Every id the hub client refuses is refused here too (and a bare name, which cannot be pinned per org)."""
    from workloads.model_downloader import HUB_ID

    hub = pytest.importorskip("huggingface_hub.utils")
    assert HUB_ID.match(model_id) is None
    if "/" in model_id:
        with pytest.raises(hub.HFValidationError):
            hub.validate_repo_id(model_id)


# -- the pure rules the components run --------------------------------------------------------------


def test_typed_flags_are_every_flag_the_server_spells():
    settings = EngineSettings(served_model_name="m", max_model_len=2048, max_num_seqs=4, max_num_batched_tokens=512,
                              quantization="fp8", distributed_executor_backend="ray")
    spelled = {a for a in engine_args(settings, model="/models/m") if a.startswith("--")}
    assert spelled <= typed_flags()
    assert {"--no-enable-prefix-caching", "--no-enable-chunked-prefill"} <= typed_flags()


def test_redefined_flags_finds_every_spelling():
    extra = ["--load-format", "runai_streamer", "--max_num_seqs", "4", "-tp=2", "--max-model-len=10"]
    assert redefined_flags(extra) == [(2, "--max-num-seqs"), (4, "--tensor-parallel-size"), (5, "--max-model-len")]


def test_zone_table_covers_every_catalogued_gpu():
    assert set(zones.GPU_ZONES) == set(ACCELERATORS)
    for accelerator, listed in zones.GPU_ZONES.items():
        assert all(zone in zones.REGION_ZONES[zones.region_of(zone)] for zone in listed), accelerator


def test_gpu_in_no_zone_of_the_region_names_the_regions_that_offer_it():
    assert zones.gpu_zone_problem("africa-south1-a", "nvidia-h200-141gb", "a3-ultragpu-8g") == (
        "nvidia-h200-141gb (a3-ultragpu-8g) is not offered in africa-south1-a; no zone of africa-south1 offers it; "
        "regions that do: asia-south1, asia-south2, europe-west1, europe-west4, us-central1, us-east4, us-east5, "
        f"us-south1, us-west1 {TABLE}")


def test_unknown_region_is_named():
    assert zones.zone_problem("mars-north1-a", "mars-north1").startswith(
        f"region mars-north1 is not in the zone table ({TABLE[1:-1]}); known regions: africa-south1, ")


# -- the CLI: exit 2, the field named, nothing written -------------------------------------------------------


@pytest.mark.parametrize(("override", "first_line"), [
    ("zones=[us-central1-a,us-central1-z]", "error: platform.zones: 'us-central1-z' is not a zone of us-central1"),
    ("model.id=meta llama/x", "error: platform.model.id: 'meta llama/x' is not a hub id"),
    ('serving.vllm.extraArgs=[--max-num-seqs, "8"]', "error: platform.serving.vllm.extraArgs.0: '--max-num-seqs'"),
    ("cluster.workloadIdentity=false", "error: platform.gpuPools.l4-spot.workloadMetadata: GKE_METADATA needs"),
])
def test_render_exits_2_naming_the_field(tmp_path, capsys, override, first_line):
    assert main(["render", "dev", "--set", override, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines()[0].startswith(first_line)
    assert not (tmp_path / "out").exists()


def test_no_workload_identity_with_a_disk_backend_is_refused_not_a_traceback(tmp_path, capsys):
    """Was a ValueError traceback from the metrics adapter's identity in render (issue 20)."""
    sets = ["cluster.workloadIdentity=false", "gpuPools.l4-spot.workloadMetadata=GCE_METADATA",
            "model.weights.backend=persistentDisk"]
    argv = ["render", "dev", "--out", str(tmp_path / "out")]
    for value in sets:
        argv += ["--set", value]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines()[0].startswith(
        "error: platform.cluster.workloadIdentity: false, but the metrics adapter (autoscaling.mode hpa) reads "
        "Managed Prometheus")
    assert not (tmp_path / "out").exists()

"""Facades of the Job components: offline batch inference, the Hugging Face → Cloud Storage model download, and
the in-cluster load test.

Pass the cluster's Kubernetes provider in the resource options. Each refuses what its Python component refuses
(same message) before registering anything, then creates that component as its only child.
"""

from typing import Any, NotRequired, TypedDict

import pulumi

from infra.validation import raise_if_problems
from workloads import batch, loadtest, model_downloader

from .convert import Block, block_args, missing, picked
from .facade import expose
from .serving import ServingPool, Weights, _pool_shape, weights_mount


class BatchInferenceArgs(TypedDict):
    """Arguments of an offline batch-inference Job (vLLM's run-batch over a JSONL object)."""

    namespace: str
    """Namespace of the Job (the serving namespace: same weights claim and Secrets)."""
    image: pulumi.Input[str]
    """The vLLM image, pinned by digest; it runs the check and the runner."""
    weights: Weights
    """How the pod reads the weights (the serving backend)."""
    bucket_name: pulumi.Input[str]
    """Bucket holding the input and output objects."""
    served_model_name: str
    """Name the requests' `body.model` may use."""
    pool: ServingPool
    """The (Spot) GPU pool the pods run on; a pod uses at most its node's GPUs."""
    gpus: NotRequired[int]
    """`nvidia.com/gpu` per pod (tensor × pipeline parallel size); unset = every GPU of the pool's node."""
    input_object: NotRequired[str]
    """Object with one request per line. Default batch/input.jsonl."""
    output_object: NotRequired[str]
    """Object the results are written to (per-shard names when parallelism > 1). Default batch/output.jsonl."""
    engine_args: NotRequired[list[str]]
    """Engine flags after `--model` (tensor parallel size, max model len, ...)."""
    service_account_name: NotRequired[str]
    """Kubernetes service account of the pods; needs object read/write on the bucket. Default vllm-batch."""
    gcp_service_account: NotRequired[pulumi.Input[str]]
    """GSA email; when set, the component creates the service account with the Workload Identity annotation."""
    job_name: NotRequired[str]
    """Job name. Default vllm-batch."""
    parallelism: NotRequired[int]
    """Pods at once (= shards). Default 1."""
    backoff_limit: NotRequired[int]
    """Retries of failed pods (preemptions excluded). Default 3."""
    ttl_seconds_after_finished: NotRequired[int]
    """Finished Jobs are deleted after this long. Default 86400."""
    cpu: NotRequired[str]
    """CPU request and limit within one node of the pool; unset takes what the node leaves for a pod."""
    memory: NotRequired[str]
    """Memory request and limit (/dev/shm included); unset takes what the node leaves for a pod."""
    shm_gi: NotRequired[int]
    """/dev/shm size in GiB (tensor-parallel workers exchange through it). Default 16."""


_BATCH_BLOCKS = ("weights", "pool")


def batch_inference_args(name: str, args: BatchInferenceArgs) -> batch.BatchInferenceArgs:
    """The component's args dataclass: the weights block becomes the backend's mount, the pool its shape."""
    problems = missing(args, BatchInferenceArgs)
    if args.get("pool") is not None:
        problems += missing(args["pool"], ServingPool, "pool.")
    mount, weight_problems = weights_mount(args["weights"], args["image"]) if not problems else (None, [])
    raise_if_problems("BatchInference", name, problems + weight_problems)
    assert mount is not None  # no problems: the backend's block was there and valid
    flat = (key for key in BatchInferenceArgs.__annotations__ if key not in _BATCH_BLOCKS)
    return batch.BatchInferenceArgs(**picked(args, *flat), weights=mount, pool=_pool_shape(args["pool"]))


class BatchInference(pulumi.ComponentResource):
    """An indexed Job that runs vLLM's batch runner over a JSONL object in the bucket and writes the results back,
    on a (Spot) GPU pool, retrying preempted shards."""

    job_name: str
    """The Job's name."""

    def __init__(self, name: str, args: BatchInferenceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = batch_inference_args(name, args)
        raise_if_problems("BatchInference", name, batch.validate_batch_inference_args(real))
        expose(self, "BatchInference", name, opts, lambda child: batch.BatchInference(name, real, child),
               lambda _: {"job_name": real.job_name})


class DownloadBudget(TypedDict):
    """How long the download may take (size it from the model's bytes)."""

    attempt_seconds: int
    """One attempt."""
    backoff_limit: int
    """The Job's `backoffLimit`."""
    active_deadline_seconds: int
    """The Job's `activeDeadlineSeconds` (covers every retry)."""
    await_timeout_seconds: int
    """How long Pulumi waits for the Job (outlasts the Job's own deadline)."""


class ModelDownloaderArgs(TypedDict):
    """Arguments of the Job that copies a pinned Hugging Face revision to the bucket (or a volume)."""

    namespace: str
    """Namespace of the Job (the serving namespace, where the hub-token Secret lives)."""
    image: pulumi.Input[str]
    """The model-downloader image, pinned by digest."""
    repo_id: str
    """Hub repository, e.g. meta-llama/Llama-3.1-8B-Instruct."""
    revision: str
    """Pinned hub commit (40 hex)."""
    destination: pulumi.Input[str]
    """`gs://bucket/prefix`, or a local directory on one of `extraVolumeMounts`."""
    service_account_name: str
    """Kubernetes service account of the pod (Workload Identity to a GSA that may write the bucket)."""
    gcp_service_account: NotRequired[pulumi.Input[str]]
    """Email of that GSA; when set, the component creates the service account with the annotation."""
    hf_token_secret: NotRequired[str]
    """Secret with the hub token under `hfTokenKey`; unset for public models."""
    hf_token_key: NotRequired[str]
    """Key of the token in that Secret. Default token."""
    base_name: NotRequired[str]
    """Prefix of the Job name. Default model-download."""
    node_selector: NotRequired[dict[str, str]]
    """Where it runs: the system (CPU) pool."""
    tolerations: NotRequired[list[dict[str, str]]]
    """Tolerations, if the target pool is tainted."""
    budget: NotRequired[DownloadBudget]
    """Retries, deadline and Pulumi's wait."""
    ttl_seconds_after_finished: NotRequired[int]
    """Kubernetes deletes the finished Job after this long. Default 86400."""
    flush: NotRequired[bool]
    """Download in an init container, then `sync` before the pod completes (a disk snapshotted right after the
    Job). Default false."""
    scratch_gi: NotRequired[int]
    """Scratch volume for the staged snapshot: at least the model's size plus headroom. Default 30."""
    scratch_storage_class: NotRequired[str]
    """StorageClass of the scratch volume. Default standard-rwo."""
    cpu: NotRequired[str]
    """CPU request. Default 1."""
    cpu_limit: NotRequired[str]
    """CPU limit. Default 2."""
    memory: NotRequired[str]
    """Memory request. Default 2Gi."""
    memory_limit: NotRequired[str]
    """Memory limit. Default 4Gi."""
    run_as_user: NotRequired[int]
    """UID (and GID, fsGroup) of the pod. Default 65532."""
    init_containers: NotRequired[list[dict[str, Any]]]
    """Extra init containers (e.g. preparing a directory on a share)."""
    extra_volumes: NotRequired[list[dict[str, Any]]]
    """Extra pod volumes (e.g. an NFS share the destination lives on)."""
    extra_volume_mounts: NotRequired[list[dict[str, Any]]]
    """Their mounts in the downloader container."""


_DOWNLOADER = Block(ModelDownloaderArgs, model_downloader.ModelDownloaderArgs,
                    {"budget": Block(DownloadBudget, model_downloader.DownloadBudget)})


class ModelDownloader(pulumi.ComponentResource):
    """A Job that copies a pinned Hugging Face revision to `gs://` (or a volume) and writes a completion marker;
    `pulumi up` waits for it."""

    job_name: str
    """The Job's name."""
    marker: pulumi.Output[str]
    """Where the completion marker is."""

    def __init__(self, name: str, args: ModelDownloaderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("ModelDownloader", name, args, _DOWNLOADER, model_downloader.validate_model_downloader_args)
        expose(self, "ModelDownloader", name, opts,
               lambda child: model_downloader.ModelDownloader(name, real, child),
               lambda made: {"job_name": made.job_name, "marker": made.marker})


class InClusterLoadTestArgs(TypedDict):
    """Arguments of the load-test Job that drives a server from inside the cluster."""

    namespace: pulumi.Input[str]
    """Namespace of the vLLM Service."""
    name: str
    """Prefix of the Job, ConfigMap and service account."""
    image: pulumi.Input[str]
    """Runner image with the harness's dependencies, pinned by digest."""
    files: dict[str, str]
    """Harness files (this repository's `loadtest/*.py` and data) keyed by their path under `loadtest/`."""
    target_url: pulumi.Input[str]
    """Base URL of the vLLM Service (a `VllmServer`'s `serviceUrl`)."""
    model: str
    """Served model name."""
    bucket_name: pulumi.Input[str]
    """Model bucket; the report goes to gs://<bucket>/loadtest/<job name>/."""
    google_service_account: pulumi.Input[str]
    """GSA (Workload Identity) allowed to write objects in the bucket."""
    harness_args: NotRequired[list[str]]
    """Arguments of `python -m loadtest` besides --url/--model/--out (dataset, mode, SLOs)."""
    api_key_secret: NotRequired[str]
    """Secret with the API key under `token` (the server's `<name>-api-key`), if the server needs one."""
    client_label: NotRequired[str]
    """Label the server's NetworkPolicy admits. Default gke-inference/client."""
    node_selector: NotRequired[dict[str, str]]
    """Where the Job runs (a CPU pool)."""
    deadline_seconds: NotRequired[int]
    """activeDeadlineSeconds of the Job. Default 3600."""


class InClusterLoadTest(pulumi.ComponentResource):
    """A Job that runs the load-test harness against a server's Service and uploads its report to the bucket."""

    job_name: str
    """The Job's name."""
    report_url: pulumi.Output[str]
    """`gs://` folder of the report."""

    def __init__(self, name: str, args: InClusterLoadTestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        real = block_args("InClusterLoadTest", name, args, Block(InClusterLoadTestArgs, loadtest.LoadTestArgs),
                          loadtest.validate_load_test_args)
        expose(self, "InClusterLoadTest", name, opts, lambda child: loadtest.InClusterLoadTest(name, real, child),
               lambda made: {"job_name": made.job_name, "report_url": made.report_url})

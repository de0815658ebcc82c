"""Offline batch inference: a Job running vLLM's batch runner over a JSONL file in the model bucket.

Input and output are objects in the bucket, reached through a second GCS FUSE volume (``batch-io``,
read-write, ``only-dir`` = their common folder). Chosen over a ``gs://`` copy step because vLLM's
runner reads and writes plain local paths, the FUSE sidecar is already on every GPU node pool of
this platform, and no extra image (gcloud) has to be pinned; writes are uploaded when the runner
closes the file.

vLLM's runner validates each line as it reads it, and one line it cannot parse (a
``/v1/completions`` request, a missing ``custom_id``, bad JSON) aborts the whole run after the model
has loaded (reference/real-vllm-on-cpu.md). ``check_batch_input`` finds those lines first, with line
numbers; it runs

* before upload: ``python -m workloads.batch check input.jsonl [--model NAME]``;
* in the Job, as the ``check-input`` init container (same source, shipped inline), which exits 2 on
  bad input; a pod failure policy then fails the Job at once instead of retrying on GPUs.

Parallelism N > 1 makes an Indexed Job: pod i runs requests i, i+N, i+2N, ... and writes
``<output stem>-<i>-of-<N><ext>``; N = 1 writes ``output_object`` itself. Spot preemptions
(``DisruptionTarget``) do not count against ``backoffLimit``.
"""

from __future__ import annotations

import inspect
import json
import posixpath
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.validation import Problem, dns_label, raise_if_problems, type_problems
from workloads.arg_rules import at_least, namespace_name, object_name, pinned_image
from workloads.pod_security import container_security_context, pod_security_context
from workloads.pod_sizing import PodSize, size_pod
from workloads.service_account import workload_identity_service_account
from workloads.vllm_server import Pool
from workloads.weights import GCSFUSE_DRIVER, WeightsMount, inherited_depends_on

IO_ROOT = "/batch-io"
"""Mount path of the bucket folder holding input and output."""
WORK_DIR = "/work"
"""Pod-local scratch: the checked input shard."""
CHECK_CONTAINER = "check-input"
INVALID_INPUT_EXIT = 2
"""Exit code of the check for bad input (fails the Job without retries)."""
RUN_AS_USER = 10001
"""The non-root user the serving Deployment runs vLLM as (workloads/vllm_server.py); the batch pods match it."""
CACHE_DIR = "/cache"
"""Writable caches (HOME, Hugging Face, vLLM compile, Triton): the root filesystem is read-only."""


def check_batch_input(lines: Iterable[str], served_model: str | None = None) -> list[str]:
    """Errors (with 1-based line numbers) that would make vLLM's batch runner fail or mis-answer.

    Mirrors vLLM 0.32's ``BatchRequestInput`` (``entrypoints/launchers/run_batch.py``): every
    non-blank line is a JSON object with a string ``custom_id``, ``method`` POST, a ``url`` the runner
    serves and an object ``body``; chat requests need ``messages``. ``/v1/completions`` is refused:
    the runner does not serve it and its body fails validation, which aborts the run.

    Args:
        lines: the file's lines (as ``str.split("\\n")`` or a file object gives them).
        served_model: when given, a ``body.model`` naming another model is an error.
    """
    exact_urls = ("/v1/chat/completions", "/v1/embeddings", "/v1/audio/transcriptions", "/v1/audio/translations")
    url_suffixes = ("/score", "/rerank")
    errors: list[str] = []
    first_line_of: dict[str, int] = {}
    requests = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        requests += 1
        try:
            request = json.loads(text)
        except ValueError as err:
            errors.append(
                f"line {number}: not valid JSON ({getattr(err, 'msg', err)}, column {getattr(err, 'colno', '?')})"
            )
            continue
        if not isinstance(request, dict):
            errors.append(f"line {number}: expected a JSON object, got {type(request).__name__}")
            continue
        custom_id = request.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            errors.append(f"line {number}: custom_id must be a non-empty string (outputs are matched by it)")
        elif custom_id in first_line_of:
            errors.append(f"line {number}: custom_id {custom_id!r} repeats line {first_line_of[custom_id]}")
        else:
            first_line_of[custom_id] = number
        if request.get("method") != "POST":
            errors.append(f'line {number}: method must be "POST", got {request.get("method")!r}')
        url = request.get("url")
        if url == "/v1/completions":
            errors.append(
                f"line {number}: url /v1/completions is not served by vLLM's batch runner and aborts the whole run; "
                "send /v1/chat/completions with body.messages"
            )
        elif not isinstance(url, str) or not (url in exact_urls or url.endswith(url_suffixes)):
            errors.append(
                f"line {number}: url {url!r} is not one the batch runner serves "
                f"({', '.join(exact_urls)}, */score, */rerank)"
            )
        body = request.get("body")
        if not isinstance(body, dict):
            errors.append(f"line {number}: body must be a JSON object")
            continue
        if url == "/v1/chat/completions":
            messages = body.get("messages")
            if (
                not isinstance(messages, list)
                or not messages
                or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
            ):
                errors.append(f"line {number}: body.messages must be a non-empty list of {{role, content}} objects")
        if served_model is not None and "model" in body and body["model"] != served_model:
            errors.append(f"line {number}: body.model {body['model']!r} is not the served model {served_model!r}")
    if requests == 0:
        errors.append("input: no requests (the file is empty or blank)")
    return errors


def shard_main(argv: list[str]) -> int:
    """In-pod check: ``SOURCE TARGET INDEX COUNT [SERVED_MODEL]``; writes this pod's shard to TARGET."""
    source, target, index, count = argv[0], argv[1], int(argv[2] or 0), int(argv[3])
    served = argv[4] if len(argv) > 4 and argv[4] else None
    with open(source, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    errors = check_batch_input(lines, served)
    if errors:
        for error in errors[:100]:
            print(error, file=sys.stderr)
        if len(errors) > 100:
            print(f"... and {len(errors) - 100} more", file=sys.stderr)
        return 2
    requests = [line for line in lines if line.strip()]
    shard = requests[index::count]
    with open(target, "w", encoding="utf-8") as handle:
        handle.write("\n".join(shard) + "\n")
    print(f"{len(requests)} requests checked; shard {index} of {count}: {len(shard)} requests")
    return 0


CHECK_SCRIPT = (
    "from __future__ import annotations\nimport json, sys\nfrom collections.abc import Iterable\n"
    + inspect.getsource(check_batch_input)
    + inspect.getsource(shard_main)
    + "sys.exit(shard_main(sys.argv[1:]))\n"
)
"""The check as a self-contained script for ``python3 -c`` in the vLLM image (one source of truth)."""


def io_object_problems(input_object: str, output_object: str) -> list[Problem]:
    """Problems with the input/output object names (pure): object names, not folders, and distinct."""
    problems = [
        Problem(label, f"'{obj}' must be an object name like batch/input.jsonl (no leading or trailing '/')")
        for label, obj in (("input_object", input_object), ("output_object", output_object))
        if not obj or obj.startswith("/") or obj.endswith("/")
    ]
    if input_object == output_object:
        problems.append(Problem("output_object", "must differ from {input_object}"))
    return problems


def io_layout(input_object: str, output_object: str, parallelism: int) -> tuple[str, str, str]:
    """(``only-dir`` of the batch-io mount, input path in the pod, output path in the pod).

    The mount is the deepest folder holding both objects ("" = the whole bucket). Raises ValueError
    on the names ``io_object_problems`` refuses.
    """
    problems = io_object_problems(input_object, output_object)
    if problems:
        raise ValueError("; ".join(f"{p.property_path}: {p.render()}" for p in problems))
    folder = posixpath.commonpath([posixpath.dirname(input_object), posixpath.dirname(output_object)])
    rel_in = posixpath.relpath(input_object, folder or ".")
    rel_out = posixpath.relpath(output_object, folder or ".")
    if parallelism > 1:
        stem, ext = posixpath.splitext(rel_out)
        rel_out = f"{stem}-$(JOB_COMPLETION_INDEX)-of-{parallelism}{ext}"
    return folder, f"{IO_ROOT}/{rel_in}", f"{IO_ROOT}/{rel_out}"


@dataclass(frozen=True)
class BatchInferenceArgs:
    namespace: str
    """Namespace of the Job (the serving namespace: same weights claim and Secrets)."""
    image: pulumi.Input[str]
    """The vLLM image, pinned by digest (``NAME@sha256:...``) or a resolved image Output; it runs the check
    and the runner."""
    weights: WeightsMount
    """How the pod reads the weights (the serving backend)."""
    bucket_name: pulumi.Input[str]
    """Bucket holding the input and output objects."""
    served_model_name: str
    """Name the requests' ``body.model`` may use."""
    pool: Pool
    """The (Spot) GPU pool the pods run on: node selector and tolerations follow from it, and a pod may use
    at most its node's GPUs (a batch pod runs on one node)."""
    gpus: int | None = None
    """``nvidia.com/gpu`` per pod: tensor × pipeline parallel size; None = every GPU of the pool's node."""
    input_object: str = "batch/input.jsonl"
    """Object with one request per line."""
    output_object: str = "batch/output.jsonl"
    """Object the results are written to (per-shard names when parallelism > 1)."""
    engine_args: tuple[str, ...] = ()
    """Engine flags after ``--model`` (tensor parallel size, max model len, ...)."""
    service_account_name: str = "vllm-batch"
    """KSA of the pods; needs object read/write on the bucket through Workload Identity."""
    gcp_service_account: pulumi.Input[str] | None = None
    """GSA email; when set, the component creates the KSA with the Workload Identity annotation."""
    job_name: str = "vllm-batch"
    """Job name."""
    parallelism: int = 1
    """Pods at once (= shards)."""
    backoff_limit: int = 3
    """Retries of failed pods (preemptions excluded)."""
    ttl_seconds_after_finished: int = 86400
    """Finished Jobs are deleted after this long."""
    cpu: str | None = None
    """CPU request and limit (a Kubernetes quantity) within one node of the pool; None takes what the node
    leaves for a pod (``workloads/pod_sizing.py``, as ``VllmServer`` does)."""
    memory: str | None = None
    """Memory request and limit (a Kubernetes quantity, /dev/shm included) within one node of the pool; None
    takes what the node leaves for a pod."""
    shm_gi: int = 16
    """/dev/shm size (tensor-parallel workers exchange through it)."""


# --------------------------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------------------------

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
"""The quantity forms these args take (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/
quantity/: decimal SI and binary suffixes; CPU in cores or millicores)."""


def cpu_millicores(value: str) -> int | None:
    """``"4"`` → 4000, ``"500m"`` → 500; None when ``value`` is not a CPU quantity."""
    match = _CPU.match(value)
    if not match:
        return None
    number, milli = float(match.group(1)), match.group(2)
    return int(number if milli else number * 1000)


def memory_bytes(value: str) -> int | None:
    """``"32Gi"`` → 34359738368; None when ``value`` is not a memory quantity in these forms."""
    match = _MEMORY.match(value)
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2)] if match else None


def pod_gpus(args: BatchInferenceArgs) -> int:
    """``nvidia.com/gpu`` per pod: ``gpus``, or every GPU of the pool's node."""
    return args.gpus if args.gpus is not None else args.pool.machine.gpu_count


def _node_fit_problems(args: BatchInferenceArgs) -> list[Problem]:
    """GPUs, CPU and memory of one pod against one node of the pool (what GKE leaves allocatable,
    workloads/pod_sizing.py, with room for the FUSE sidecar when the weights bring one)."""
    machine = args.pool.machine
    problems = []
    if args.gpus is not None:
        problems += at_least("gpus", args.gpus, 1)
        if args.gpus > machine.gpu_count:
            problems.append(Problem("gpus", (
                f"a batch pod runs on one node, but it asks for {args.gpus} GPUs and {{pool}} ({machine.name}) has "
                f"{machine.gpu_count}; pick a pool with enough GPUs per node")))
    try:
        room = _room(args)
    except ValueError as err:
        return [*problems, Problem("pool", str(err))]
    requested_cpu, requested_memory = args.cpu or room.cpu, args.memory or room.memory
    cpu, memory = cpu_millicores(requested_cpu), memory_bytes(requested_memory)
    if cpu is None:
        problems.append(Problem("cpu", f"'{args.cpu}' is not a CPU quantity like 4 or 3500m"))
    if memory is None:
        problems.append(Problem("memory", f"'{args.memory}' is not a memory quantity like 32Gi"))
    if cpu is not None and cpu > room.cpu_millicores:
        problems.append(Problem("cpu", f"{args.cpu} does not fit one node of {{pool}} ({machine.name}): at most "
                                       f"{room.cpu} is left for the pod"))
    if memory is not None and memory > room.memory_bytes:
        problems.append(Problem("memory", f"{args.memory} does not fit one node of {{pool}} ({machine.name}): at "
                                          f"most {room.memory} is left for the pod"))
    if memory is not None and args.shm_gi * 2**30 >= memory:
        problems.append(Problem("shm_gi", f"{args.shm_gi}Gi of /dev/shm counts against the memory limit and must "
                                          f"stay below {{memory}} ({requested_memory})"))
    return problems


def _room(args: BatchInferenceArgs) -> PodSize:
    """What one node of the pool leaves for the batch pod (room kept for the FUSE sidecar if the weights bring one)."""
    machine = args.pool.machine
    return size_pod(machine.vcpu, machine.ram_gb, machine.gpu_count, gcsfuse_sidecar=args.weights.fuse_sidecar)


def pod_resources(args: BatchInferenceArgs) -> dict[str, str]:
    """CPU and memory of the runner container: the args' values, else what one node of the pool leaves."""
    room = _room(args)
    return {"cpu": args.cpu or room.cpu, "memory": args.memory or room.memory}


def validate_batch_inference_args(args: BatchInferenceArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types, names, the image pin, the input/output objects, counts,
    and whether one pod fits one node of the pool."""
    problems = type_problems(args, BatchInferenceArgs)
    if problems:
        return problems
    problems = namespace_name("namespace", args.namespace) + pinned_image("image", args.image)
    # The Job name labels its pods (job-name) and names their hosts: a DNS label of at most 63 characters
    # (https://kubernetes.io/docs/concepts/workloads/controllers/job/#writing-a-job-spec).
    problems += dns_label("job_name", args.job_name, "Job name")
    problems += object_name("service_account_name", args.service_account_name, "service account name")
    if not args.served_model_name:
        problems.append(Problem("served_model_name", "empty; give the name requests use as body.model"))
    problems += io_object_problems(args.input_object, args.output_object)
    problems += at_least("parallelism", args.parallelism, 1) + at_least("backoff_limit", args.backoff_limit, 0)
    problems += at_least("ttl_seconds_after_finished", args.ttl_seconds_after_finished, 0)
    problems += at_least("shm_gi", args.shm_gi, 1)
    return problems + _node_fit_problems(args)


def _io_volume(bucket_name: pulumi.Input[str], folder: str) -> dict[str, Any]:
    # uid/gid: a non-root pod owns the files it writes through FUSE (GCS FUSE CSI docs, anchors §5.3).
    options = ["implicit-dirs", f"uid={RUN_AS_USER}", f"gid={RUN_AS_USER}"] + ([f"only-dir={folder}"] if folder else [])
    return {
        "name": "batch-io",
        "csi": {
            "driver": GCSFUSE_DRIVER,
            "readOnly": False,
            "volumeAttributes": {"bucketName": bucket_name, "mountOptions": ",".join(options)},
        },
    }


def batch_job_spec(args: BatchInferenceArgs) -> tuple[dict[str, Any], dict[str, str]]:
    """(Job ``spec``, pod annotations) — pure, so it is tested without an engine."""
    weights = args.weights
    folder, input_path, output_path = io_layout(args.input_object, args.output_object, args.parallelism)
    shard_path = f"{WORK_DIR}/input.jsonl"
    annotations = {
        "gke-gcsfuse/cpu-limit": "0",
        "gke-gcsfuse/memory-limit": "0",
        "gke-gcsfuse/ephemeral-storage-limit": "0",
        **weights.pod_annotations,
        "gke-gcsfuse/volumes": "true",
    }
    hardened = container_security_context(RUN_AS_USER)
    env = [
        {"name": "HOME", "value": CACHE_DIR},
        {"name": "HF_HOME", "value": f"{CACHE_DIR}/huggingface"},
        {"name": "VLLM_CACHE_ROOT", "value": f"{CACHE_DIR}/vllm"},
        {"name": "XDG_CACHE_HOME", "value": f"{CACHE_DIR}/xdg"},
        {"name": "TRITON_CACHE_DIR", "value": f"{CACHE_DIR}/triton"},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
    ]
    if weights.offline_hub:
        env.append({"name": "HF_HUB_OFFLINE", "value": "1"})  # everything comes from the weights volume
    check = {
        "name": CHECK_CONTAINER,
        "image": args.image,
        "command": ["python3", "-c", CHECK_SCRIPT],
        "args": [input_path, shard_path, "$(JOB_COMPLETION_INDEX)", str(args.parallelism), args.served_model_name],
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "securityContext": hardened,
        "volumeMounts": [
            {"name": "batch-io", "mountPath": IO_ROOT, "readOnly": True},
            {"name": "work", "mountPath": WORK_DIR},
        ],
    }
    runner = {
        "name": "vllm-batch",
        "image": args.image,
        # Deprecated in favour of `vllm run-batch` but present in 0.32 (reference/real-vllm-on-cpu.md).
        "command": ["python3", "-m", "vllm.entrypoints.openai.run_batch"],
        "args": [
            "-i",
            shard_path,
            "-o",
            output_path,
            "--model",
            weights.model_path,
            "--served-model-name",
            args.served_model_name,
            *weights.vllm_args,
            *args.engine_args,
        ],
        "env": [*env, *weights.env],
        "resources": {
            "requests": {**pod_resources(args), "nvidia.com/gpu": str(pod_gpus(args))},
            "limits": {**pod_resources(args), "nvidia.com/gpu": str(pod_gpus(args))},
        },
        "securityContext": hardened,
        "volumeMounts": [
            *weights.volume_mounts,
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "batch-io", "mountPath": IO_ROOT},
            {"name": "work", "mountPath": WORK_DIR, "readOnly": True},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
    }
    pod: dict[str, Any] = {
        "serviceAccountName": args.service_account_name,
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": pod_security_context(RUN_AS_USER),
        "initContainers": [check, *weights.init_containers],
        "containers": [runner],
        "volumes": [
            *weights.volumes,
            _io_volume(args.bucket_name, folder),
            {"name": "work", "emptyDir": {"sizeLimit": "10Gi"}},
            {"name": "cache", "emptyDir": {"sizeLimit": "20Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "5Gi"}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{args.shm_gi}Gi"}},
        ],
    }
    scheduling = args.pool.scheduling
    pod["nodeSelector"] = dict(scheduling.node_selector)
    if scheduling.tolerations:
        pod["tolerations"] = list(scheduling.tolerations)
    spec = {
        "completionMode": "Indexed",
        "completions": args.parallelism,
        "parallelism": args.parallelism,
        "backoffLimit": args.backoff_limit,
        "ttlSecondsAfterFinished": args.ttl_seconds_after_finished,
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {"containerName": CHECK_CONTAINER, "operator": "In", "values": [INVALID_INPUT_EXIT]},
                },
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            ]
        },
        "template": {
            "metadata": {
                "labels": {"app.kubernetes.io/name": args.job_name, "app.kubernetes.io/component": "batch"},
                "annotations": annotations,
            },
            "spec": pod,
        },
    }
    return spec, annotations


class BatchInference(pulumi.ComponentResource):
    """The batch Job (and its KSA when ``gcp_service_account`` is given). See the module doc.

    ``pulumi up`` does not wait for the Job (``pulumi.com/skipAwait``): a batch can run for hours.
    The Job's spec is immutable, so any change to it replaces the Job, which runs the batch again.
    """

    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: BatchInferenceArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("BatchInference", name, validate_batch_inference_args(args))
        super().__init__("gke-inference:workloads:BatchInference", name, {}, opts)
        after = inherited_depends_on(opts)
        depends: list[pulumi.Resource] = [*after, *args.weights.dependencies]
        if isinstance(args.pool, pulumi.Resource) and args.pool not in depends:
            depends.append(args.pool)  # the pods need the pool's nodes (taints, labels)
        if args.gcp_service_account is not None:
            depends.append(
                workload_identity_service_account(
                    f"{name}-ksa",
                    args.service_account_name,
                    args.namespace,
                    args.gcp_service_account,
                    pulumi.ResourceOptions(parent=self, depends_on=after),
                )
            )
        spec, _ = batch_job_spec(args)
        self.job = k8s.batch.v1.Job(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-job",
            metadata={
                "name": args.job_name,
                "namespace": args.namespace,
                "labels": {"app.kubernetes.io/name": args.job_name, "app.kubernetes.io/component": "batch"},
                "annotations": {"pulumi.com/skipAwait": "true"},
            },
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        # Nothing talks to a batch pod: deny all ingress (egress stays open for GCS and the metadata server).
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-netpol",
            metadata={"name": args.job_name, "namespace": args.namespace},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": args.job_name}},
                "policyTypes": ["Ingress"],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        self.register_outputs({"jobName": args.job_name})


def main(argv: list[str] | None = None) -> int:
    """``python -m workloads.batch check FILE [--model NAME]``: exit 0 if vLLM's runner will accept FILE, else 2."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m workloads.batch", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check a batch input file")
    check.add_argument("file", help="JSONL file, one request per line")
    check.add_argument("--model", default=None, help="served model name that body.model must match")
    args = parser.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except OSError as err:
        print(f"file: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 2
    errors = check_batch_input(lines, args.model)
    for error in errors:
        print(error, file=sys.stderr)
    requests = sum(1 for line in lines if line.strip())
    print(f"{requests} requests, {len(errors)} errors")
    return INVALID_INPUT_EXIT if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

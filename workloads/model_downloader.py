"""The model-downloader Job: copy one pinned hub revision into the bucket (or onto a share), once.

Contract with ``images/model-downloader/download.py`` (the image's ENTRYPOINT, user 65532)::

    download.py --repo-id ORG/NAME --revision <40-hex commit> --target gs://BUCKET/PREFIX | /local/dir

* gets the hub token (gated models) from huggingface_hub's default lookup: here the file
  ``HF_TOKEN_PATH`` points at, the Secret mounted as a volume (not an env var);
* stages the whole snapshot in a temporary directory (``TMPDIR``) before uploading, so scratch is a
  generic ephemeral volume (a PD that lives and dies with the pod) sized to the model, not node disk:
  the system pool's 100 GB boot disk would not hold a 70B model;
* writes the marker ``<target>/.complete-<revision>`` after the last file, and exits 0 at once when
  the marker is already there, so a rerun is a no-op;
* exits non-zero on failure (2 for a bad revision; the Job retries up to ``backoffLimit``).

Once per revision: the Job name ends in the first 8 hex of the revision, so a new revision is a new
Job (Pulumi creates it and deletes the old one); the same revision keeps its Job. ``pulumi up`` waits
for the Job to complete: pulumi-kubernetes awaits a Job until ``Complete`` and fails fast on ``Failed``
(field-2026-12.md §7.2); nothing here sets ``pulumi.com/skipAwait``. The wait is bounded by
``customTimeouts`` (and the equal ``pulumi.com/timeoutSeconds`` annotation, so the manifest shows it),
sized by :func:`download_budget`, so the Deployment that depends on the Job never starts before the
weights are there. After ``ttlSecondsAfterFinished`` Kubernetes deletes the finished Job; a later
``pulumi refresh && pulumi up`` recreates it and the marker makes that run a no-op.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.validation import Problem, raise_if_problems, type_problems
from workloads.arg_rules import at_least, namespace_name, object_name, pinned_image
from workloads.checkov import checkov_skip_annotations
from workloads.pod_security import container_security_context, pod_security_context
from workloads.service_account import workload_identity_service_account
from workloads.weights import HF_TOKEN_DIR, HF_TOKEN_VOLUME, inherited_depends_on, token_volume

_REVISION = re.compile(r"^[0-9a-f]{40}$")
_HUB_PART = r"(?!.*(--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?"
HUB_ID = re.compile(rf"^{_HUB_PART}/{_HUB_PART}$")
"""``org/name`` as the hub names repositories: ASCII letters, digits, ``-``, ``_``, ``.``, at most 96 per part,
not starting or ending with ``-``/``.``, no ``--`` or ``..`` (huggingface_hub 2.4.0 utils/_validators.py
``validate_repo_id``, which also allows a bare name: the stack needs the organisation to pin a revision)."""
DOWNLOADER_UID = 65532
"""Non-root user the downloader runs as (distroless ``nonroot``)."""

HUB_SUSTAINED_GBPS = 0.1
"""Sustained hub download rate the timeouts assume (GB/s). Published cold downloads run 0.26 GB/s
(tensorfuse, Llama-3.1-8B) to 0.72 GB/s (anyscale, Llama-3-70B) (serving-peers §3(d), stack/prices.py
HF_DOWNLOAD_GBPS); the downloader pod has 2 vCPUs and the hub throttles, so the budget assumes well
under the slowest published figure. A timeout only has to be long enough, never tight."""
COPY_PASSES = 2
"""The downloader stages the whole snapshot on scratch, then copies it to the target (upload to GCS,
or a copy onto a disk/share): two passes over the bytes, each budgeted at the hub rate."""
ATTEMPT_FLOOR_SECONDS = 1200
"""Smallest per-attempt budget (small models still pay scheduling, a scratch PD and an image pull)."""
START_SLACK_SECONDS = 600
"""Added to the Job's deadline for Pulumi's wait: pod scheduling, scratch-volume provisioning, image pull
and the Job controller's status update, so the Job reports its own failure before Pulumi gives up."""
DEFAULT_BACKOFF_LIMIT = 2
"""Retries (3 attempts): a retry starts over (the scratch volume dies with the pod), so each retry is
budgeted as a full attempt."""


def await_timeouts(seconds: int) -> pulumi.CustomTimeouts:
    """Pulumi's create/update wait for an awaited Kubernetes object (a Job, a waitFor resource)."""
    return pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s")


@dataclass(frozen=True)
class DownloadBudget:
    """How long one download may take, and the Job/Pulumi limits derived from it (all seconds)."""

    attempt_seconds: int
    """One attempt: bytes × COPY_PASSES / HUB_SUSTAINED_GBPS, at least ATTEMPT_FLOOR_SECONDS."""
    backoff_limit: int
    """The Job's ``backoffLimit``."""
    active_deadline_seconds: int
    """The Job's ``activeDeadlineSeconds`` = attempts × attempt_seconds (covers every retry)."""
    await_timeout_seconds: int
    """Pulumi's ``customTimeouts`` = deadline + START_SLACK_SECONDS (outlasts the Job's own deadline)."""


def download_budget(
    model_bytes: float,
    *,
    passes: int = COPY_PASSES,
    rate_gbps: float = HUB_SUSTAINED_GBPS,
    backoff_limit: int = DEFAULT_BACKOFF_LIMIT,
) -> DownloadBudget:
    """Size the downloader's limits for ``model_bytes`` (see the constants for each assumption).

    Args:
        model_bytes: bytes of weights to fetch.
        passes: passes over the bytes (COPY_PASSES: stage, then copy to the target).
        rate_gbps: assumed sustained rate per pass, GB/s.
        backoff_limit: the Job's retries.
    """
    if model_bytes <= 0 or rate_gbps <= 0 or passes < 1 or backoff_limit < 0:
        raise ValueError("model_bytes and rate_gbps must be > 0, passes ≥ 1, backoff_limit ≥ 0")
    attempt = max(ATTEMPT_FLOOR_SECONDS, math.ceil(model_bytes * passes / (rate_gbps * 1e9) / 60) * 60)
    deadline = attempt * (backoff_limit + 1)
    return DownloadBudget(attempt, backoff_limit, deadline, deadline + START_SLACK_SECONDS)


def marker_path(destination: str, revision: str) -> str:
    """The completion marker the downloader writes: ``<dest>/.complete-<revision>``."""
    return f"{destination.rstrip('/')}/.complete-{revision}"


def _dns_label(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def job_name(base: str, repo_id: str, revision: str) -> str:
    """``<base>-<model slug>-<rev8>``, cut to 63 characters (the Job's ``job-name`` label limit)."""
    suffix = revision[:8]
    head = _dns_label(f"{base}-{repo_id.split('/')[-1]}")[: 63 - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def downloader_args(repo_id: str, revision: str, destination: pulumi.Input[str]) -> list[pulumi.Input[str]]:
    """The container args of ``download.py``."""
    return ["--repo-id", repo_id, "--revision", revision, "--target", destination]


@dataclass(frozen=True)
class ModelDownloaderArgs:
    namespace: str
    """Namespace of the Job (the serving namespace, where the hub-token Secret lives)."""
    image: pulumi.Input[str]
    """The model-downloader image, pinned by digest."""
    repo_id: str
    """Hub repository, e.g. meta-llama/Llama-3.1-8B-Instruct."""
    revision: str
    """Pinned hub commit (40 hex)."""
    destination: pulumi.Input[str]
    """``gs://bucket/prefix``, or a local directory on one of ``extra_volume_mounts``."""
    service_account_name: str
    """Kubernetes service account of the pod (Workload Identity to a GSA that may write the bucket)."""
    gcp_service_account: pulumi.Input[str] | None = None
    """Email of that GSA; when set, the component creates the KSA with the Workload Identity annotation."""
    hf_token_secret: str | None = None
    """Secret with the hub token under ``hf_token_key``; None for public models."""
    hf_token_key: str = "token"
    """Key of the token in that Secret."""
    base_name: str = "model-download"
    """Prefix of the Job name."""
    node_selector: dict[str, str] = field(default_factory=dict)
    """Where it runs: the system (CPU) pool; GPU pools are tainted, so no GPU node takes it anyway."""
    tolerations: tuple[dict[str, str], ...] = ()
    """Tolerations, if the target pool is tainted."""
    budget: DownloadBudget = field(default_factory=lambda: download_budget(16e9))
    """``backoffLimit``, ``activeDeadlineSeconds`` and Pulumi's wait; size it with ``download_budget(bytes)``."""
    ttl_seconds_after_finished: int = 86400
    """Kubernetes deletes the finished Job after this long."""
    flush: bool = False
    """Run the download as an init container, then ``sync`` the node's filesystems before the pod
    completes: set it when the target is a disk that is snapshotted right after the Job."""
    scratch_gi: int = 30
    """Scratch volume for the staged snapshot: at least the model's size plus headroom."""
    scratch_storage_class: str = "standard-rwo"
    """StorageClass of the scratch volume (GKE's pd-balanced class)."""
    cpu: str = "1"
    """CPU request."""
    cpu_limit: str = "2"
    """CPU limit."""
    memory: str = "2Gi"
    """Memory request."""
    memory_limit: str = "4Gi"
    """Memory limit."""
    run_as_user: int = DOWNLOADER_UID
    """UID (and GID, fsGroup) of the pod."""
    init_containers: tuple[dict[str, Any], ...] = ()
    """Extra init containers (e.g. preparing a directory on a share)."""
    extra_volumes: tuple[dict[str, Any], ...] = ()
    """Extra pod volumes (e.g. an NFS share the destination lives on)."""
    extra_volume_mounts: tuple[dict[str, Any], ...] = ()
    """Their mounts in the downloader container."""
    checkov_skips: tuple[tuple[str, str], ...] = ()
    """``(check id, reason)`` checkov skips declared on the Job (e.g. a capability an init container needs)."""


def validate_model_downloader_args(args: ModelDownloaderArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types, names, the pinned revision and image, and a budget whose
    limits nest (attempts fit the Job's deadline, Pulumi's wait outlasts it)."""
    problems = type_problems(args, ModelDownloaderArgs)
    if problems:
        return problems
    problems = namespace_name("namespace", args.namespace) + pinned_image("image", args.image)
    problems += object_name("service_account_name", args.service_account_name, "service account name")
    if not HUB_ID.match(args.repo_id):
        problems.append(Problem("repo_id", (
            f"{args.repo_id!r} is not a hub id: use org/name (letters, digits, '-', '_', '.'; no spaces), e.g. "
            "meta-llama/Llama-3.1-8B-Instruct")))
    if not _REVISION.match(args.revision):
        problems.append(Problem("revision", f"'{args.revision}' is not a 40-hex commit; pin the hub revision"))
    b = args.budget
    problems += at_least("budget.backoff_limit", b.backoff_limit, 0)
    if b.active_deadline_seconds < b.attempt_seconds * (b.backoff_limit + 1):
        problems.append(Problem("budget.active_deadline_seconds", (
            f"{b.active_deadline_seconds} s cannot fit {b.backoff_limit + 1} attempts of {b.attempt_seconds} s; "
            "use download_budget()")))
    if b.await_timeout_seconds <= b.active_deadline_seconds:
        problems.append(Problem("budget.await_timeout_seconds", (
            f"{b.await_timeout_seconds} s must exceed the Job's deadline ({b.active_deadline_seconds} s), or Pulumi "
            "gives up while the Job may still run")))
    problems += at_least("ttl_seconds_after_finished", args.ttl_seconds_after_finished, 0)
    problems += at_least("scratch_gi", args.scratch_gi, 1, "the model's size in GiB plus headroom")
    problems += at_least("run_as_user", args.run_as_user, 1, "the pod runs as a non-root UID")
    try:
        checkov_skip_annotations(args.checkov_skips)
    except ValueError as err:
        problems.append(Problem("checkov_skips", str(err)))
    return problems


def job_spec(args: ModelDownloaderArgs) -> dict[str, Any]:
    """The Job's ``spec`` (pure; tested without an engine)."""
    env: list[dict[str, Any]] = [
        {"name": "TMPDIR", "value": "/scratch"},
        {"name": "HF_HOME", "value": "/scratch/hf-home"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
    ]
    token_mounts: list[dict[str, Any]] = []
    token_volumes: list[dict[str, Any]] = []
    if args.hf_token_secret:
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/token"})
        token_mounts.append({"name": HF_TOKEN_VOLUME, "mountPath": HF_TOKEN_DIR, "readOnly": True})
        token_volumes.append(token_volume(args.hf_token_secret, args.hf_token_key))
    container: dict[str, Any] = {
        "name": "download",
        "image": args.image,
        "args": downloader_args(args.repo_id, args.revision, args.destination),
        "env": env,
        "resources": {
            "requests": {"cpu": args.cpu, "memory": args.memory, "ephemeral-storage": "1Gi"},
            "limits": {"cpu": args.cpu_limit, "memory": args.memory_limit, "ephemeral-storage": "2Gi"},
        },
        "securityContext": container_security_context(None),
        "volumeMounts": [
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "tmp", "mountPath": "/tmp"},
            *token_mounts,
            *args.extra_volume_mounts,
        ],
    }
    init_containers = list(args.init_containers)
    containers = [container]
    if args.flush:
        # The download must finish before the flush: init containers run in order, to completion.
        init_containers.append(container)
        containers = [_flush_container(args.image, container["volumeMounts"])]
    pod: dict[str, Any] = {
        "serviceAccountName": args.service_account_name,
        "automountServiceAccountToken": False,  # Workload Identity goes through the metadata server
        "restartPolicy": "Never",
        "securityContext": pod_security_context(args.run_as_user),
        "containers": containers,
        "volumes": [
            {
                "name": "scratch",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "model-downloader"}},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": args.scratch_storage_class,
                            "resources": {"requests": {"storage": f"{args.scratch_gi}Gi"}},
                        },
                    }
                },
            },
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            *token_volumes,
            *args.extra_volumes,
        ],
    }
    if init_containers:
        pod["initContainers"] = init_containers
    if args.node_selector:
        pod["nodeSelector"] = dict(args.node_selector)
    if args.tolerations:
        pod["tolerations"] = list(args.tolerations)
    return {
        "backoffLimit": args.budget.backoff_limit,
        "ttlSecondsAfterFinished": args.ttl_seconds_after_finished,
        "activeDeadlineSeconds": args.budget.active_deadline_seconds,
        "template": {"metadata": {"labels": _labels(args)}, "spec": pod},
    }


FLUSH_SCRIPT = "import os; os.sync()"
"""sync(2) writes every dirty page of the node's filesystems back, so a disk snapshot taken right
after the Job completes holds every file (the kubelet unmounts the volume only some time later)."""


def _flush_container(image: pulumi.Input[str], mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """The last step of a flushing Job: ``sync`` with the target volume still mounted."""
    return {
        "name": "flush",
        "image": image,
        "command": ["python3", "-c", FLUSH_SCRIPT],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "securityContext": container_security_context(None),
        "volumeMounts": [m for m in mounts if m["name"] not in ("scratch", "tmp", HF_TOKEN_VOLUME)],
    }


def _labels(args: ModelDownloaderArgs) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "model-downloader",
        "app.kubernetes.io/instance": job_name(args.base_name, args.repo_id, args.revision),
        "app.kubernetes.io/component": "model-weights",
        "gke-inference/model-revision": args.revision[:8],
    }


class ModelDownloader(pulumi.ComponentResource):
    """A Job that copies one model revision to its destination, once per revision (see module doc)."""

    job: k8s.batch.v1.Job
    job_name: str
    marker: pulumi.Output[str]

    def __init__(self, name: str, args: ModelDownloaderArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("ModelDownloader", name, validate_model_downloader_args(args))
        super().__init__("gke-inference:workloads:ModelDownloader", name, {}, opts)
        depends: list[pulumi.Resource] = inherited_depends_on(opts)
        if args.gcp_service_account is not None:
            depends.append(
                workload_identity_service_account(
                    f"{name}-ksa",
                    args.service_account_name,
                    args.namespace,
                    args.gcp_service_account,
                    pulumi.ResourceOptions(parent=self, depends_on=list(depends)),
                )
            )
        self.job_name = job_name(args.base_name, args.repo_id, args.revision)
        self.job = k8s.batch.v1.Job(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-job",
            metadata={
                "name": self.job_name,
                "namespace": args.namespace,
                "labels": _labels(args),
                "annotations": {
                    "pulumi.com/timeoutSeconds": str(args.budget.await_timeout_seconds),
                    **checkov_skip_annotations(args.checkov_skips),
                },
            },
            spec=job_spec(args),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=depends, custom_timeouts=await_timeouts(args.budget.await_timeout_seconds)
            ),
        )
        # Nothing talks to the downloader: deny all ingress (egress stays open for the hub and GCS).
        k8s.networking.v1.NetworkPolicy(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-netpol",
            metadata={"name": self.job_name, "namespace": args.namespace, "labels": _labels(args)},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/instance": self.job_name}},
                "policyTypes": ["Ingress"],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(inherited_depends_on(opts))),
        )
        self.marker = pulumi.Output.from_input(args.destination).apply(lambda d: marker_path(d, args.revision))
        self.register_outputs({"jobName": self.job_name, "marker": self.marker})

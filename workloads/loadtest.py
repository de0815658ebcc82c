"""In-cluster load test: the repository's locust harness, run as a Job against the vLLM Service.

The harness code travels in a ConfigMap (exactly the files of ``loadtest/`` in this repository),
the runner image only brings its pinned dependencies (locust, numpy, rich, matplotlib), so the
harness measured in the cluster is the one tested offline. The report (``report.json``, requests
and plots) is written to the model bucket under ``loadtest/<job name>/`` through a writable GCS FUSE
volume, using a Workload Identity service account with object write access to the bucket only.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, dns_label, kubernetes_labels, raise_if_problems, type_problems
from workloads.arg_rules import at_least, namespace_name, object_name, pinned_image
from workloads.checkov import checkov_skip_annotations
from workloads.pod_security import container_security_context, pod_security_context

CODE_MOUNT = "/app"
REPORT_MOUNT = "/reports"
REPORT_PREFIX = "loadtest"
RUN_AS_USER = 10001


@dataclass(frozen=True)
class LoadTestArgs:
    namespace: pulumi.Input[str]
    """Namespace of the vLLM Service."""
    name: str
    """Prefix of the Job, ConfigMap and service account."""
    image: pulumi.Input[str]
    """Runner image with the harness's dependencies, pinned by digest."""
    files: dict[str, str]
    """Harness files (``loadtest/*.py`` and data) keyed by their path under ``loadtest/``."""
    target_url: pulumi.Input[str]
    """Base URL of the vLLM Service, e.g. http://vllm.llm.svc.cluster.local:8000."""
    model: str
    """Served model name."""
    bucket_name: pulumi.Input[str]
    """Model bucket; the report goes to gs://<bucket>/loadtest/<job name>/."""
    google_service_account: pulumi.Input[str]
    """GSA (Workload Identity) allowed to write objects in the bucket."""
    harness_args: tuple[str, ...] = ("--dataset", "conversations", "--num-prompts", "200", "--users", "8")
    """Arguments of ``python -m loadtest`` besides --url/--model/--out (dataset, mode, SLOs)."""
    api_key_secret: str | None = None
    """Secret with the API key under ``token`` (VllmServer's ``<name>-api-key``), if the server needs one."""
    client_label: str = "gke-inference/client"
    """Label the server's NetworkPolicy admits (set to "true" on the load-test pod)."""
    node_selector: dict[str, str] = field(default_factory=dict)
    """Where the Job runs (a CPU pool; no GPU needed)."""
    deadline_seconds: int = 3600
    """activeDeadlineSeconds of the Job."""


CONFIGMAP_MAX_BYTES = 1024 * 1024
"""A ConfigMap holds at most 1 MiB of data (https://kubernetes.io/docs/concepts/configuration/configmap/
#motivation: "The data stored in a ConfigMap cannot exceed 1 MiB")."""
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
"""ConfigMap data keys (https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-object:
"alphanumeric characters, -, _ or .")."""
RUN_ID_LENGTH = 9
"""``-<8 hex>`` the Job name adds to ``name`` (run_id)."""
OWN_FLAGS = ("--url", "--model", "--out")
"""Harness flags the component sets itself from its other args."""


def validate_load_test_args(args: LoadTestArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types, names (the Job name ``<name>-<run id>`` is a DNS label),
    the image pin, the harness files as ConfigMap data, flags the component sets itself, the deadline."""
    problems = type_problems(args, LoadTestArgs)
    if problems:
        return problems
    problems = namespace_name("namespace", args.namespace) + pinned_image("image", args.image)
    # The Job name labels its pods (job-name): a DNS label of at most 63 characters
    # (https://kubernetes.io/docs/concepts/workloads/controllers/job/#writing-a-job-spec).
    problems += dns_label("name", args.name, "name prefix")
    if len(args.name) > 63 - RUN_ID_LENGTH:
        problems.append(Problem("name", f"{len(args.name)} characters; the Job is named <name>-<8 hex run id>, at "
                                        f"most 63, so keep it to {63 - RUN_ID_LENGTH}"))
    if args.api_key_secret is not None:
        problems += object_name("api_key_secret", args.api_key_secret, "Secret name")
    if not args.model:
        problems.append(Problem("model", "empty; give the served model name"))
    if not args.files:
        problems.append(Problem("files", "empty; pass the harness (stack.program.serving.harness_files())"))
    for path in args.files:
        if not _CONFIGMAP_KEY.match(configmap_key(path)):
            problems.append(Problem(f"files.{path}", "a ConfigMap key holds only letters, digits, '-', '_' and '.' "
                                                     "(and '/' here, mapped to '__')"))
    size = sum(len(configmap_key(p).encode()) + len(text.encode()) for p, text in args.files.items())
    if size > CONFIGMAP_MAX_BYTES:
        problems.append(Problem("files", f"{size} bytes; a ConfigMap holds at most {CONFIGMAP_MAX_BYTES} (1 MiB)"))
    for flag in OWN_FLAGS:
        if flag in args.harness_args:
            problems.append(Problem("harness_args", f"{flag} is set from the component's other args; remove it"))
    problems += at_least("deadline_seconds", args.deadline_seconds, 1)
    problems += kubernetes_labels("client_label", {args.client_label: "true"})
    return problems + kubernetes_labels("node_selector", args.node_selector)


def run_id(args: LoadTestArgs) -> str:
    """A short hash of what the run measures: a changed setting or harness file makes a new Job."""
    material = json.dumps({"args": args.harness_args, "model": args.model, "files": args.files}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:8]


def configmap_key(path: str) -> str:
    """ConfigMap keys cannot hold '/': ``data/conversations.jsonl`` → ``data__conversations.jsonl``."""
    return path.replace("/", "__")


class InClusterLoadTest(pulumi.ComponentResource):
    """ConfigMap with the harness + a Job running it against the server; report to the bucket."""

    job_name: str
    report_url: pulumi.Output[str]

    def __init__(self, name: str, args: LoadTestArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("InClusterLoadTest", name, validate_load_test_args(args))
        super().__init__("gke-inference:workloads:InClusterLoadTest", name, {}, opts)
        child = child_options(self, opts)
        labels = {"app.kubernetes.io/name": "loadtest", "app.kubernetes.io/instance": args.name}
        self.job_name = f"{args.name}-{run_id(args)}"
        meta = {"namespace": args.namespace, "labels": labels}
        code = k8s.core.v1.ConfigMap(
            f"{name}-code",
            metadata={"namespace": args.namespace, "labels": labels, "name": f"{args.name}-code"},
            data={configmap_key(path): text for path, text in sorted(args.files.items())},
            opts=child,
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-ksa",
            metadata={
                "namespace": args.namespace,
                "labels": labels,
                "name": args.name,
                "annotations": {"iam.gke.io/gcp-service-account": args.google_service_account},
            },
            automount_service_account_token=False,
            opts=child,
        )
        out_dir = f"{REPORT_MOUNT}/{self.job_name}"
        env: list[dict[str, Any]] = [{"name": "PYTHONPATH", "value": CODE_MOUNT}, {"name": "HOME", "value": "/tmp"}]
        if args.api_key_secret:
            env.append(
                {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": args.api_key_secret, "key": "token"}}}
            )
        container = {
            "name": "locust",
            "image": args.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-m", "loadtest"],
            "args": pulumi.Output.all(args.target_url).apply(
                lambda url: ["--url", url[0], "--model", args.model, "--out", out_dir, "--quiet", *args.harness_args]
            ),
            "env": env,
            "resources": {
                "requests": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
                "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
            },
            "securityContext": container_security_context(RUN_AS_USER),
            "volumeMounts": [
                {"name": "code", "mountPath": f"{CODE_MOUNT}/loadtest", "readOnly": True},
                {"name": "reports", "mountPath": REPORT_MOUNT},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        code_items = [{"key": configmap_key(p), "path": p} for p in sorted(args.files)]
        self.job = k8s.batch.v1.Job(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-job",
            metadata={
                **meta,
                "name": self.job_name,
                "annotations": checkov_skip_annotations(
                    [
                        (
                            "CKV_K8S_35",
                            "the harness reads the API key from VLLM_API_KEY, filled from a Secret via secretKeyRef",
                        ),
                    ]
                ),
            },
            spec={
                "backoffLimit": 0,  # a load test that failed half-way is not retried into a different measurement
                "activeDeadlineSeconds": args.deadline_seconds,
                "ttlSecondsAfterFinished": 7 * 86400,
                "template": {
                    "metadata": {
                        "labels": {**labels, args.client_label: "true"},
                        "annotations": {"gke-gcsfuse/volumes": "true"},
                    },
                    "spec": {
                        "restartPolicy": "Never",
                        "serviceAccountName": args.name,
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(RUN_AS_USER),
                        "nodeSelector": args.node_selector,
                        "containers": [container],
                        "volumes": [
                            {"name": "code", "configMap": {"name": f"{args.name}-code", "items": code_items}},
                            {
                                "name": "reports",
                                "csi": {
                                    "driver": "gcsfuse.csi.storage.gke.io",
                                    "volumeAttributes": {
                                        "bucketName": args.bucket_name,
                                        "mountOptions": (
                                            f"implicit-dirs,only-dir={REPORT_PREFIX},"
                                            f"uid={RUN_AS_USER},gid={RUN_AS_USER}"
                                        ),
                                    },
                                },
                            },
                            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                        ],
                    },
                },
            },
            opts=child_options(self, opts, depends_on=[code, account]),
        )
        self.report_url = pulumi.Output.concat(
            "gs://", args.bucket_name, f"/{REPORT_PREFIX}/{self.job_name}/report.json"
        )
        self.register_outputs({"jobName": self.job_name, "reportUrl": self.report_url})

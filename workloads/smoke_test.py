"""The smoke test that ends ``pulumi up``: one chat completion through the vLLM Service.

A Job runs ``probes/smoke_chat.py`` (standard library only, shipped in a ConfigMap) after the
server is ready. pulumi-kubernetes awaits a Job until ``Complete`` and fails fast on ``Failed``
(../shared/reference/field-2026-12.md §7.2), so when the model does not answer with a non-empty
completion the script exits non-zero, the Job fails after ``backoff_limit`` retries (or at
``activeDeadlineSeconds``) and ``pulumi up`` fails with it.

The latency is recorded in a ConfigMap ``<name>-smoke-result`` that the stack creates without a
``data`` field (so the Job's merge patch and Pulumi's server-side apply manage disjoint fields).
The Job's service account may only ``patch`` that one ConfigMap (a Role with ``resourceNames``);
its token is mounted in this Job's pod only. :attr:`SmokeTest.result_id` is
``namespace/name`` of that ConfigMap computed from the Job's outputs, so a
``ConfigMap.get(..., id=result_id)`` reads it after the Job completed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, dns_label, kubernetes_labels, raise_if_problems, type_problems
from workloads.arg_rules import at_least, namespace_name, object_name, pinned_image
from workloads.awaiting import await_annotations
from workloads.checkov import checkov_skip_annotations
from workloads.pod_security import container_security_context, pod_security_context

SCRIPT = Path(__file__).parent / "probes" / "smoke_chat.py"
SCRIPT_MOUNT = "/etc/smoke-test"
RESULT_KEY = "latencySeconds"
"""Key of the latency (seconds, 3 decimals, as text) in the result ConfigMap's ``data``."""
AWAIT_MARGIN_SECONDS = 120
"""The Job await outlasts ``activeDeadlineSeconds`` by this much, so a deadline shows as the Job's own
``DeadlineExceeded`` failure rather than a Pulumi timeout."""
CHECKOV_SKIPS = (
    (
        "CKV_K8S_38",
        "the smoke test patches its own result ConfigMap through the Kubernetes API; its service account may "
        "only patch that one object",
    ),
    ("CKV_K8S_35", "the client reads the server's API key from VLLM_API_KEY, filled from a Secret via secretKeyRef"),
    ("CKV_K8S_15", "image is pinned by digest; IfNotPresent pulls it once per node"),
)


@dataclass(frozen=True)
class SmokeTestArgs:
    namespace: pulumi.Input[str]
    """Namespace of the vLLM Service (the Job, its ConfigMaps and account live there)."""
    image: pulumi.Input[str]
    """An image with Python ≥ 3.11, pinned by digest (the script uses only the standard library); the stack
    passes the serving image, already resolved and streamed (image streaming) by the nodes."""
    target_url: pulumi.Input[str]
    """Base URL of the vLLM Service, e.g. http://vllm.llm.svc.cluster.local:8000."""
    model: str
    """Served model name sent as ``model``."""
    name: str = "smoke-test"
    """Prefix of the Job, ConfigMaps, account and Role."""
    api_key_secret: str | None = None
    """Secret with the server's API key under ``token`` (VllmServer's ``<name>-api-key``); None when the server
    needs none. When set, the script refuses to run without it."""
    prompt: str = "Reply with one short sentence: what is 2 + 2?"
    """The user message."""
    max_tokens: int = 16
    """Completion budget."""
    request_timeout_seconds: int = 120
    """Per-request timeout (a cold server's first request compiles kernels)."""
    attempts: int = 3
    """Tries on connection errors and HTTP 502/503/504 (Service endpoints can lag readiness)."""
    backoff_limit: int = 1
    """Job retries before it is Failed (and ``pulumi up`` with it)."""
    deadline_seconds: int = 600
    """``activeDeadlineSeconds``: the whole Job, pod scheduling and image pull included."""
    client_label: str = "gke-inference/client"
    """Label the server's NetworkPolicy admits (set to "true" on the pod)."""
    node_selector: dict[str, str] = field(default_factory=dict)
    """Where the Job runs (a CPU pool; no GPU needed)."""
    rerun_on: pulumi.Input[Any] = None
    """Values whose change replaces (re-runs) the Job, e.g. the server's image and model; None runs it once."""


def validate_smoke_test_args(args: SmokeTestArgs) -> list[Problem]:
    """Every problem with ``args`` (pure): types, names, the image pin, the request, counts and a deadline that
    outlives one request."""
    problems = type_problems(args, SmokeTestArgs)
    if problems:
        return problems
    problems = namespace_name("namespace", args.namespace) + pinned_image("image", args.image)
    # The Job is <name>-smoke-<8 hex>; its name labels the pods (job-name): at most 63 characters
    # (https://kubernetes.io/docs/concepts/workloads/controllers/job/#writing-a-job-spec).
    problems += dns_label("name", args.name, "name prefix")
    if len(f"{args.name}-smoke-{'0' * 8}") > 63:
        problems.append(Problem("name", f"{len(args.name)} characters; the Job is named <name>-smoke-<8 hex>, at "
                                        "most 63, so keep it to 48"))
    if args.api_key_secret is not None:
        problems += object_name("api_key_secret", args.api_key_secret, "Secret name")
    if not args.model:
        problems.append(Problem("model", "empty; give the served model name"))
    if not args.prompt.strip():
        problems.append(Problem("prompt", "empty; the smoke test needs a question"))
    for field_name in ("max_tokens", "request_timeout_seconds", "attempts", "deadline_seconds"):
        problems += at_least(field_name, getattr(args, field_name), 1)
    problems += at_least("backoff_limit", args.backoff_limit, 0)
    if args.deadline_seconds <= args.request_timeout_seconds:
        problems.append(Problem("deadline_seconds", (
            f"{args.deadline_seconds} must exceed {{request_timeout_seconds}} {args.request_timeout_seconds} (the Job "
            "must outlive one request)")))
    problems += kubernetes_labels("client_label", {args.client_label: "true"})
    return problems + kubernetes_labels("node_selector", args.node_selector)


def script_hash() -> str:
    """Short hash of the script: a changed script is a new ConfigMap content and a re-run."""
    return hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:8]


def job_env(args: SmokeTestArgs, result_configmap: pulumi.Input[str]) -> list[dict[str, Any]]:
    """The script's environment (see probes/smoke_chat.py)."""
    env: list[dict[str, Any]] = [
        {"name": "SMOKE_URL", "value": args.target_url},
        {"name": "SMOKE_MODEL", "value": args.model},
        {"name": "SMOKE_PROMPT", "value": args.prompt},
        {"name": "SMOKE_MAX_TOKENS", "value": str(args.max_tokens)},
        {"name": "SMOKE_TIMEOUT_SECONDS", "value": str(args.request_timeout_seconds)},
        {"name": "SMOKE_ATTEMPTS", "value": str(args.attempts)},
        {"name": "SMOKE_RESULT_CONFIGMAP", "value": result_configmap},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
    ]
    if args.api_key_secret:
        env += [
            {"name": "SMOKE_API_KEY_REQUIRED", "value": "1"},
            {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": args.api_key_secret, "key": "token"}}},
        ]
    return env


class SmokeTest(pulumi.ComponentResource):
    """Result ConfigMap, script ConfigMap, account + Role (patch that ConfigMap only), and the awaited Job.

    Pass an explicit Kubernetes provider and ``depends_on=[server]`` in ``opts`` so the Job starts once the
    server is ready (the server's Deployment/LeaderWorkerSet is awaited until available).
    """

    job: k8s.batch.v1.Job
    job_name: str
    result_name: str
    result_id: pulumi.Output[str]

    def __init__(self, name: str, args: SmokeTestArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("SmokeTest", name, validate_smoke_test_args(args))
        super().__init__("gke-inference:workloads:SmokeTest", name, {}, opts)
        child = child_options(self, opts)
        labels = {"app.kubernetes.io/name": "smoke-test", "app.kubernetes.io/instance": args.name}
        self.result_name = f"{args.name}-smoke-result"
        self.job_name = f"{args.name}-smoke-{script_hash()}"
        account = f"{args.name}-smoke-test"

        def meta(object_name: str, **extra: Any) -> dict[str, Any]:
            return {"name": object_name, "namespace": args.namespace, "labels": labels, **extra}

        result = k8s.core.v1.ConfigMap(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-result", metadata=meta(self.result_name), opts=child
        )
        script = k8s.core.v1.ConfigMap(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-script",
            metadata=meta(f"{args.name}-smoke-script"),
            data={SCRIPT.name: SCRIPT.read_text()},
            opts=child,
        )
        service_account = k8s.core.v1.ServiceAccount(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-ksa", metadata=meta(account), automount_service_account_token=False, opts=child
        )
        role = k8s.rbac.v1.Role(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-role",
            metadata=meta(account),
            rules=[
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": [self.result_name],
                    "verbs": ["patch"],
                }
            ],
            opts=child,
        )
        binding = k8s.rbac.v1.RoleBinding(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-rolebinding",
            metadata=meta(account),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            subjects=[{"kind": "ServiceAccount", "name": account, "namespace": args.namespace}],
            opts=child,
        )
        result_ref = pulumi.Output.concat(args.namespace, "/", self.result_name)
        container = {
            "name": "smoke-test",
            "image": args.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", f"{SCRIPT_MOUNT}/{SCRIPT.name}"],
            "env": job_env(args, result_ref),
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
                "limits": {"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
            },
            "securityContext": container_security_context(),
            "volumeMounts": [
                {"name": "script", "mountPath": SCRIPT_MOUNT, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        pod_spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "serviceAccountName": account,
            "automountServiceAccountToken": True,  # to patch the result ConfigMap, and nothing else (Role)
            "securityContext": pod_security_context(),
            "containers": [container],
            "volumes": [
                {"name": "script", "configMap": {"name": f"{args.name}-smoke-script", "defaultMode": 0o444}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            ],
        }
        if args.node_selector:
            pod_spec["nodeSelector"] = dict(args.node_selector)
        self.job = k8s.batch.v1.Job(  # type: ignore[call-overload]  # camelCase manifest dicts
            f"{name}-job",
            metadata=meta(
                self.job_name,
                annotations={
                    **checkov_skip_annotations(CHECKOV_SKIPS),
                    **await_annotations(timeout_seconds=args.deadline_seconds + AWAIT_MARGIN_SECONDS),
                },
            ),
            spec={
                "backoffLimit": args.backoff_limit,
                "activeDeadlineSeconds": args.deadline_seconds,
                "template": {"metadata": {"labels": {**labels, args.client_label: "true"}}, "spec": pod_spec},
            },
            opts=child_options(
                self,
                opts,
                depends_on=[result, script, service_account, role, binding],
                delete_before_replace=True,  # a fixed name: the old Job goes before its re-run is created
                replacement_trigger=args.rerun_on,
            ),
        )
        # Known only once the Job is created (and, since Jobs are awaited, completed).
        self.result_id = pulumi.Output.all(self.job.metadata, result_ref).apply(lambda values: values[1])
        self.register_outputs({"jobName": self.job_name, "resultConfigMap": result_ref})


def read_latency_seconds(
    name: str, test: SmokeTest, opts: pulumi.ResourceOptions | None = None
) -> pulumi.Output[float | None]:
    """The smoke test's latency, read back from its result ConfigMap after the Job completed.

    ``None`` where the ConfigMap holds no latency (offline render: reads return nothing).
    """
    read_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[test.job]))
    result = k8s.core.v1.ConfigMap.get(name, test.result_id, opts=read_opts)
    return result.data.apply(lambda data: float(data[RESULT_KEY]) if data and data.get(RESULT_KEY) else None)

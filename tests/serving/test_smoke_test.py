"""The smoke test that ends ``pulumi up`` (issue 16 item 7).

The script runs for real (a subprocess with the pod's environment) against a local HTTP server that
plays both the vLLM OpenAI API and the Kubernetes API; the rendered Job, its RBAC and the export
are checked on the dev and prod renders.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stack.config import ConfigError
from stack.render import load_stack_config, make_recorder, offline_secrets, record_under_mocks, render_config
from workloads.awaiting import TIMEOUT_SECONDS, WAIT_FOR
from workloads.pod_security import container_security_context, pod_security_context
from workloads.smoke_test import AWAIT_MARGIN_SECONDS, SCRIPT

API_KEY = "sk-smoke-test"
TOKEN = "service-account-token"
RESULT = "llm/vllm-smoke-result"


# -- a local server playing vLLM and the Kubernetes API -------------------------------------------


@dataclass
class FakeCluster:
    chat_replies: list[tuple[int, Any]] = field(default_factory=list)
    """(status, JSON body) per chat request, in order; the last one repeats."""
    patch_status: int = 200
    require_key: str | None = None
    chats: list[dict[str, Any]] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)


def make_handler(state: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def do_POST(self) -> None:
            assert self.path == "/v1/chat/completions"
            state.chats.append({"body": self._body(), "authorization": self.headers.get("Authorization")})
            if state.require_key and self.headers.get("Authorization") != f"Bearer {state.require_key}":
                return self._reply(401, {"error": "Unauthorized"})
            status, body = state.chat_replies[min(len(state.chats), len(state.chat_replies)) - 1]
            self._reply(status, body)

        def do_PATCH(self) -> None:
            state.patches.append(
                {
                    "path": self.path,
                    "body": self._body(),
                    "content_type": self.headers.get("Content-Type"),
                    "authorization": self.headers.get("Authorization"),
                }
            )
            self._reply(state.patch_status, {"kind": "ConfigMap"})

    return Handler


@pytest.fixture
def cluster() -> Iterator[tuple[FakeCluster, str]]:
    state = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def answer(content: str) -> dict[str, Any]:
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 3},
    }


def run_script(url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    sa_dir = tmp_path / "sa"
    sa_dir.mkdir(exist_ok=True)
    (sa_dir / "token").write_text(TOKEN + "\n")
    base = {
        "PATH": "/usr/bin:/bin",
        "SMOKE_URL": url,
        "SMOKE_MODEL": "llama-3.1-8b",
        "SMOKE_TIMEOUT_SECONDS": "10",
        "SMOKE_RETRY_PAUSE_SECONDS": "0.05",
        "SMOKE_RESULT_CONFIGMAP": RESULT,
        "SMOKE_KUBE_API": url,
        "SMOKE_SA_DIR": str(sa_dir),
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=60
    )


# -- the script, for real ----------------------------------------------------------------------------


def test_an_answer_exits_0_and_patches_the_latency_into_the_result_configmap(cluster, tmp_path):
    state, url = cluster
    state.chat_replies = [(200, answer("2 + 2 is 4."))]
    done = run_script(url, tmp_path)
    assert done.returncode == 0, done.stderr
    (chat,) = state.chats
    assert chat["body"]["model"] == "llama-3.1-8b"
    assert chat["body"]["messages"][0]["role"] == "user" and chat["body"]["max_tokens"] == 16
    assert chat["authorization"] is None
    (patch,) = state.patches
    assert patch["path"] == "/api/v1/namespaces/llm/configmaps/vllm-smoke-result?fieldManager=gke-inference-smoke-test"
    assert patch["content_type"] == "application/merge-patch+json"
    assert patch["authorization"] == f"Bearer {TOKEN}"
    data = patch["body"]["data"]
    assert set(data) == {"latencySeconds", "completionTokens", "model", "finishedAt"}
    assert 0 < float(data["latencySeconds"]) < 10 and data["completionTokens"] == "3"
    printed = json.loads(done.stdout)
    assert printed["ok"] is True and printed["answer"] == "2 + 2 is 4."
    assert printed["latencySeconds"] == data["latencySeconds"]


@pytest.mark.parametrize(
    "reply",
    [answer(""), answer("   \n"), {"choices": []}, {"object": "error", "message": "model not found"}],
    ids=["empty", "blank", "no-choices", "error-object"],
)
def test_a_wrong_or_empty_answer_fails_and_records_nothing(cluster, tmp_path, reply):
    state, url = cluster
    state.chat_replies = [(200, reply)]
    done = run_script(url, tmp_path)
    assert done.returncode == 1
    assert "did not answer" in done.stderr
    assert len(state.chats) == 1 and state.patches == []


def test_an_http_error_fails_without_retrying(cluster, tmp_path):
    state, url = cluster
    state.chat_replies = [(500, {"error": "boom"})]
    done = run_script(url, tmp_path, SMOKE_ATTEMPTS="3")
    assert done.returncode == 1
    assert "HTTP 500" in done.stderr
    assert len(state.chats) == 1 and state.patches == []


def test_a_gateway_error_is_retried_then_the_answer_counts(cluster, tmp_path):
    state, url = cluster
    state.chat_replies = [(503, {"error": "no endpoints"}), (200, answer("4"))]
    done = run_script(url, tmp_path, SMOKE_ATTEMPTS="2")
    assert done.returncode == 0, done.stderr
    assert len(state.chats) == 2 and len(state.patches) == 1


def test_an_unreachable_server_fails_after_the_attempts(tmp_path):
    with socket_closed_port() as port:
        done = run_script(f"http://127.0.0.1:{port}", tmp_path, SMOKE_ATTEMPTS="2")
    assert done.returncode == 1
    assert "no answer after 2 attempt(s)" in done.stderr


def test_a_required_api_key_that_is_missing_is_a_configuration_error_before_any_request(cluster, tmp_path):
    state, url = cluster
    state.chat_replies = [(200, answer("4"))]
    done = run_script(url, tmp_path, SMOKE_API_KEY_REQUIRED="1")
    assert done.returncode == 2
    assert "VLLM_API_KEY is not set" in done.stderr
    assert state.chats == []


def test_the_api_key_is_sent_as_a_bearer_token(cluster, tmp_path):
    state, url = cluster
    state.require_key = API_KEY
    state.chat_replies = [(200, answer("4"))]
    done = run_script(url, tmp_path, SMOKE_API_KEY_REQUIRED="1", VLLM_API_KEY=API_KEY)
    assert done.returncode == 0, done.stderr
    assert state.chats[0]["authorization"] == f"Bearer {API_KEY}"


def test_a_wrong_api_key_fails(cluster, tmp_path):
    state, url = cluster
    state.require_key = API_KEY
    state.chat_replies = [(200, answer("4"))]
    done = run_script(url, tmp_path, VLLM_API_KEY="sk-wrong")
    assert done.returncode == 1
    assert "HTTP 401" in done.stderr


def test_an_answer_that_cannot_be_recorded_fails_with_3(cluster, tmp_path):
    state, url = cluster
    state.chat_replies = [(200, answer("4"))]
    state.patch_status = 403
    done = run_script(url, tmp_path)
    assert done.returncode == 3
    assert RESULT in done.stderr


class socket_closed_port:
    """A localhost port nothing listens on (bound, then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        return None


# -- the rendered objects ----------------------------------------------------------------------------


def render(stack: str, *overrides: str):
    return render_config(load_stack_config(stack, list(overrides)), stack)


@pytest.fixture(scope="module")
def dev():
    return render("dev")


@pytest.fixture(scope="module")
def prod():
    return render("prod")


def smoke_objects(result) -> dict[str, dict[str, Any]]:
    """The smoke test's children by kind (one of each)."""
    children = [r for r in result.resources if r["parent"] == "smoke-test" and not r.get("read")]
    by_kind: dict[str, dict[str, Any]] = {}
    for child in children:
        kind = child["inputs"]["kind"]
        by_kind[kind if kind != "ConfigMap" else child["name"]] = child
    return by_kind


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_job_runs_after_the_server_and_is_awaited(stack, dev, prod):
    result = {"dev": dev, "prod": prod}[stack]
    smoke = result.config.serving.smoke_test
    job = smoke_objects(result)["Job"]
    workload = "vllm-deployment"
    assert workload in job["dependencies"], "the Job must wait for the server's rollout"
    spec = job["inputs"]["spec"]
    assert spec["backoffLimit"] == smoke.backoff_limit == 1
    assert spec["activeDeadlineSeconds"] == smoke.deadline_seconds == 600
    annotations = job["inputs"]["metadata"]["annotations"]
    assert annotations[TIMEOUT_SECONDS] == str(smoke.deadline_seconds + AWAIT_MARGIN_SECONDS)
    assert WAIT_FOR not in annotations, "Jobs have a built-in await (Complete / Failed)"
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {"gke-inference/role": "system"}
    assert spec["template"]["metadata"]["labels"][result.config.serving.client_label] == "true"
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["SMOKE_URL"] == "http://vllm.llm.svc.cluster.local:8000"
    assert env["SMOKE_MODEL"] == result.config.served_model_name()
    assert env["SMOKE_RESULT_CONFIGMAP"] == RESULT


def test_the_pod_is_hardened(prod):
    pod = smoke_objects(prod)["Job"]["inputs"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == pod_security_context()
    (container,) = pod["containers"]
    assert container["securityContext"] == container_security_context()
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/etc/smoke-test", "/tmp"}
    assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"]


def test_the_service_account_may_only_patch_the_result_configmap(prod):
    objects = smoke_objects(prod)
    account = objects["ServiceAccount"]["inputs"]
    assert account["automountServiceAccountToken"] is False, "no other pod gets this account's token"
    pod = objects["Job"]["inputs"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"] and pod["automountServiceAccountToken"] is True
    assert objects["Role"]["inputs"]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["vllm-smoke-result"], "verbs": ["patch"]}
    ]
    binding = objects["RoleBinding"]["inputs"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vllm-smoke-test"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "vllm-smoke-test", "namespace": "llm"}]
    result_cm = objects["smoke-test-result"]["inputs"]
    assert result_cm["metadata"]["name"] == "vllm-smoke-result" and "data" not in result_cm


def test_the_script_ships_in_a_configmap_unchanged(dev):
    script = smoke_objects(dev)["smoke-test-script"]["inputs"]
    assert script["data"] == {"smoke_chat.py": SCRIPT.read_text()}
    pod = smoke_objects(dev)["Job"]["inputs"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["python3", "/etc/smoke-test/smoke_chat.py"]
    assert pod["volumes"][0]["configMap"]["name"] == script["metadata"]["name"]


def test_prod_passes_the_api_key_from_the_servers_secret_and_dev_none(dev, prod):
    def env(result) -> dict[str, Any]:
        pod = smoke_objects(result)["Job"]["inputs"]["spec"]["template"]["spec"]
        return {e["name"]: e for e in pod["containers"][0]["env"]}

    assert prod.config.serving.require_api_key and not dev.config.serving.require_api_key
    assert env(prod)["VLLM_API_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "vllm-api-key", "key": "token"}}
    assert env(prod)["SMOKE_API_KEY_REQUIRED"]["value"] == "1"
    assert "VLLM_API_KEY" not in env(dev) and "SMOKE_API_KEY_REQUIRED" not in env(dev)


def test_the_result_is_read_back_after_the_job(prod):
    (read,) = [r for r in prod.resources if r.get("read") and r["name"] == "smoke-test-result-read"]
    assert read["type"] == "kubernetes:core/v1:ConfigMap"
    assert read["dependencies"] == ["smoke-test-job"]


def test_the_latency_is_exported_from_the_result_configmap():
    """With a read that returns what the Job wrote, the stack exports it as a number."""
    config = load_stack_config("dev")
    monitor, mocks = make_recorder()
    seen_ids = []
    plain_new_resource = mocks.new_resource

    def new_resource(args):
        resource_id, outputs = plain_new_resource(args)
        if args.typ == "kubernetes:core/v1:ConfigMap" and args.resource_id:
            seen_ids.append(args.resource_id)
            outputs = {**outputs, "data": {"latencySeconds": "1.234"}}
        return resource_id, outputs

    mocks.new_resource = new_resource

    def program() -> dict[str, Any]:
        from stack.program import build

        return build(config, stack="dev", secrets=offline_secrets())

    _, outputs = record_under_mocks(program, "dev", monitor, mocks)
    # every model of the stack is asked (dev: the top-level model and `qwen`), each latency exported
    assert sorted(seen_ids) == ["llm/qwen-smoke-result", RESULT]
    assert outputs["smokeTestLatencySeconds"] == 1.234
    assert outputs["models"]["qwen"]["smokeTestLatencySeconds"] == 1.234


def test_disabled_per_stack_by_config():
    result = render("dev", "serving.smokeTest.enabled=false")
    assert result.of_type("gke-inference:workloads:SmokeTest") == []
    assert not any(r["name"].startswith("smoke-test") for r in result.resources)
    assert load_stack_config("dev").serving.smoke_test.enabled and load_stack_config("prod").serving.smoke_test.enabled


def test_a_deadline_shorter_than_one_request_is_refused_with_its_path():
    with pytest.raises(ConfigError) as err:
        load_stack_config(
            "dev", ["serving.smokeTest.deadlineSeconds=100", "serving.smokeTest.requestTimeoutSeconds=120"]
        )
    assert err.value.lines == [
        "platform.serving.smokeTest.deadlineSeconds: 100 must exceed requestTimeoutSeconds 120 "
        "(the Job must outlive one request)"
    ]

"""Smoke test run by ``pulumi up``: one chat completion through the vLLM Service.

Standard library only (it runs in a plain Python image, shipped in a ConfigMap). Exit status:

* 0: the model answered with a non-empty completion; the latency is printed (one JSON line) and,
  when ``SMOKE_RESULT_CONFIGMAP`` is set, merged into that ConfigMap's ``data``;
* 1: the model did not answer: HTTP error, unreachable after the retries, malformed or empty answer;
* 2: bad configuration (a required variable is missing, e.g. the API key when one is required);
* 3: the answer was fine but the result could not be recorded.

Environment:
  SMOKE_URL               base URL of the server, e.g. http://vllm.llm.svc.cluster.local:8000
  SMOKE_MODEL             served model name sent as ``model``
  SMOKE_PROMPT            user message (default below)
  SMOKE_MAX_TOKENS        completion budget (default 16)
  SMOKE_TIMEOUT_SECONDS   per-request timeout (default 120)
  SMOKE_ATTEMPTS          tries on connection errors and HTTP 502/503/504 (default 3)
  SMOKE_RETRY_PAUSE_SECONDS  pause between tries (default 5)
  SMOKE_API_KEY_REQUIRED   "1": VLLM_API_KEY must be set (the server requires it)
  VLLM_API_KEY            sent as ``Authorization: Bearer``
  SMOKE_RESULT_CONFIGMAP  ``namespace/name`` of the ConfigMap to patch with the result (optional)
  SMOKE_KUBE_API          Kubernetes API base URL (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
  SMOKE_SA_DIR            service account token/CA directory (default /var/run/secrets/kubernetes.io/serviceaccount)
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

DEFAULT_PROMPT = "Reply with one short sentence: what is 2 + 2?"
RETRY_STATUSES = (502, 503, 504)
RETRY_PAUSE_SECONDS = 5.0
FIELD_MANAGER = "gke-inference-smoke-test"


class ConfigError(Exception):
    """A required setting is missing (exit 2)."""


class NoAnswer(Exception):
    """The model did not answer with a usable completion (exit 1)."""


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"{name} is not set")
    return value


def request_body(model: str, prompt: str, max_tokens: int) -> bytes:
    return json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0,
        }
    ).encode()


def completion_text(payload: Any) -> str:
    """The first choice's message content, stripped; NoAnswer when absent or empty."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise NoAnswer(f"no choices[0].message.content in the response: {json.dumps(payload)[:300]}") from None
    if not isinstance(content, str) or not content.strip():
        raise NoAnswer(f"empty completion: {json.dumps(payload)[:300]}")
    return content.strip()


def chat_once(url: str, body: bytes, api_key: str | None, timeout: float) -> tuple[dict[str, Any], float]:
    """POST /v1/chat/completions; (decoded response, seconds from send to the full body)."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(f"{url.rstrip('/')}/v1/chat/completions", data=body, headers=headers)
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    elapsed = time.monotonic() - started
    try:
        return json.loads(raw), elapsed
    except ValueError:
        raise NoAnswer(f"response is not JSON: {raw[:300]!r}") from None


def chat(
    url: str, body: bytes, api_key: str | None, timeout: float, attempts: int, pause: float = RETRY_PAUSE_SECONDS
) -> tuple[dict[str, Any], float]:
    """``chat_once`` with retries on connection errors and gateway statuses (endpoints may lag readiness)."""
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            return chat_once(url, body, api_key, timeout)
        except urllib.error.HTTPError as err:
            detail = err.read()[:300].decode(errors="replace")
            last = f"HTTP {err.code}: {detail}"
            if err.code not in RETRY_STATUSES:
                raise NoAnswer(last) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
        if attempt < attempts:
            print(f"attempt {attempt}/{attempts} failed ({last}); retrying", file=sys.stderr)
            time.sleep(pause)
    raise NoAnswer(f"no answer after {attempts} attempt(s): {last}")


def record(target: str, data: dict[str, str]) -> None:
    """Merge ``data`` into ConfigMap ``namespace/name`` through the Kubernetes API (PATCH, merge patch)."""
    namespace, _, name = target.partition("/")
    if not namespace or not name:
        raise ConfigError(f"SMOKE_RESULT_CONFIGMAP: {target!r} is not namespace/name")
    sa_dir = os.environ.get("SMOKE_SA_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")
    api = os.environ.get("SMOKE_KUBE_API") or (
        f"https://{env('KUBERNETES_SERVICE_HOST')}:{env('KUBERNETES_SERVICE_PORT')}"
    )
    with open(os.path.join(sa_dir, "token")) as handle:
        token = handle.read().strip()
    context = None
    if api.startswith("https://"):
        context = ssl.create_default_context(cafile=os.path.join(sa_dir, "ca.crt"))
    request = urllib.request.Request(
        f"{api.rstrip('/')}/api/v1/namespaces/{namespace}/configmaps/{name}?fieldManager={FIELD_MANAGER}",
        data=json.dumps({"data": data}).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        response.read()


def main() -> int:
    try:
        url, model = env("SMOKE_URL"), env("SMOKE_MODEL")
        prompt = env("SMOKE_PROMPT", DEFAULT_PROMPT)
        max_tokens = int(env("SMOKE_MAX_TOKENS", "16"))
        timeout = float(env("SMOKE_TIMEOUT_SECONDS", "120"))
        attempts = max(1, int(env("SMOKE_ATTEMPTS", "3")))
        pause = float(env("SMOKE_RETRY_PAUSE_SECONDS", str(RETRY_PAUSE_SECONDS)))
        api_key = os.environ.get("VLLM_API_KEY") or None
        if os.environ.get("SMOKE_API_KEY_REQUIRED") == "1" and api_key is None:
            raise ConfigError("VLLM_API_KEY is not set but the server requires an API key (SMOKE_API_KEY_REQUIRED=1)")
    except (ConfigError, ValueError) as err:
        print(f"smoke test: bad configuration: {err}", file=sys.stderr)
        return 2
    try:
        payload, latency = chat(url, request_body(model, prompt, max_tokens), api_key, timeout, attempts, pause)
        answer = completion_text(payload)
    except NoAnswer as err:
        print(f"smoke test: FAILED: {model} at {url} did not answer: {err}", file=sys.stderr)
        return 1
    tokens = (payload.get("usage") or {}).get("completion_tokens")
    result = {
        "latencySeconds": f"{latency:.3f}",
        "completionTokens": str(tokens if tokens is not None else ""),
        "model": model,
        "finishedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    print(json.dumps({"ok": True, **result, "answer": answer[:200]}))
    target = os.environ.get("SMOKE_RESULT_CONFIGMAP")
    if target:
        try:
            record(target, result)
        except (ConfigError, OSError, urllib.error.URLError) as err:
            print(f"smoke test: answered, but recording the result in {target} failed: {err}", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

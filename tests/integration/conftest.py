"""Real vLLM (CPU build) on a tiny model, started from the stack's serving spec.

The session fixture `vllm_server` is one `stack.local.serve.LocalServer` shared by every
integration test that does not kill it (one vLLM start costs ~40-70 s here). It yields the
server object: `.base_url`, `.api_key`, `.pid`, `.model_dir`, `.served_model_name`, plus
`.spec`, `.adapted`, `.probe_specs`, `.probes` and `.engine_core_pid()`.

Which spec: the serving Deployment/LeaderWorkerSet rendered from stack `$GKE_INFER_TEST_STACK`
(default `prod`) when the render has one; until then the hand-written
`fixtures/vllm-deployment.yaml` (same shape). `serving_spec()` says which in `.source`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from stack.local.serve import LocalServer
from stack.local.serve_env import ensure_serve_env
from stack.local.spec import ServingSpec, SpecError, find_in_dir, find_serving_spec
from stack.local.tiny_model import cached_tiny_model

FIXTURE_DEPLOYMENT = Path(__file__).parent / "fixtures" / "vllm-deployment.yaml"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "integration: runs real vLLM (CPU build, .venv-serve) and/or locust")
    config.addinivalue_line(
        "markers", "drains_server: ends the shared `vllm_server` (runs after every other test)")
    config.addinivalue_line(
        "markers", "own_server: starts its own vLLM (runs after the shared one has been drained)")


def pytest_collection_modifyitems(session, config, items):
    """Run tests that drain the shared server last, so the session needs one vLLM start, and
    tests with their own server after that, so that two servers never share the CPUs."""
    def order(item) -> int:
        if item.get_closest_marker("own_server"):
            return 2
        return 1 if item.get_closest_marker("drains_server") else 0
    items.sort(key=order)


def serving_spec(out_dir: Path) -> ServingSpec:
    """The serving spec of the rendered test stack, or the fixture until the render has one."""
    from stack.render import render_stack

    stack = os.environ.get("GKE_INFER_TEST_STACK", "prod")
    render_stack(stack, overrides=[], out_dir=out_dir)
    try:
        return find_in_dir(out_dir / "manifests", "vllm")  # the top-level model's server
    except SpecError:
        return find_serving_spec([FIXTURE_DEPLOYMENT])


@pytest.fixture(scope="session")
def serve_python() -> Path:
    """The serving venv's interpreter (`make serve-env` on first use, ~2-3 min)."""
    return ensure_serve_env()


@pytest.fixture(scope="session")
def tiny_model_dir(serve_python) -> Path:
    """The deterministic tiny model (cached by its generator's source hash)."""
    return cached_tiny_model(python=serve_python)


@pytest.fixture(scope="session")
def spec(tmp_path_factory) -> ServingSpec:
    return serving_spec(tmp_path_factory.mktemp("render"))


def start_server(spec: ServingSpec, model_dir: Path, python: Path, log_dir: Path) -> LocalServer:
    """Start a LocalServer and wait for readiness; prints time-to-ready (pytest -s shows it).

    One retry when vLLM found too little free memory for its KV cache: on a shared 24 GiB
    machine other processes can hold it for a while.
    """
    for attempt in (1, 2):
        server = LocalServer(spec, model_dir, python=python,
                             log_path=log_dir / f"vllm-{attempt}.log")
        server.start()
        try:
            ttr = server.wait_ready(timeout=600)
            break
        except RuntimeError as exc:
            server.stop()
            if attempt == 2 or "Available memory on node" not in server.log_tail(400):
                raise
            print(f"\n[vllm] not enough free memory on this machine, retrying in 30s: {exc!s:.200}")
            time.sleep(30)
    server.time_to_ready = ttr
    print(f"\n[vllm] {spec.kind}/{spec.name} from {spec.source.name}: ready in {ttr:.1f}s "
          f"on {server.base_url}")
    return server


@pytest.fixture(scope="session")
def vllm_server(spec, tiny_model_dir, serve_python, tmp_path_factory):
    """One real vLLM server for the session, started from the serving spec."""
    server = start_server(spec, tiny_model_dir, serve_python, tmp_path_factory.mktemp("vllm"))
    yield server
    server.stop()


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())

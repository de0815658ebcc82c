"""Load-test harness tests reuse the serving venv and tiny model of the integration tests,
and share a local streaming server (tests/loadtest/sse_server.py)."""

from tests.integration.conftest import pytest_configure, serve_python, tiny_model_dir  # noqa: F401
from tests.loadtest.sse_server import sse_server  # noqa: F401

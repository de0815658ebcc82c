"""Load-test harness tests reuse the serving venv and tiny model of the integration tests."""

from tests.integration.conftest import pytest_configure, serve_python, tiny_model_dir  # noqa: F401

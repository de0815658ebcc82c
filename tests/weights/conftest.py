"""The weight components' view of the one recording mock engine (``stack.render.make_recorder``).

``record(fn)`` runs ``fn`` under ``stack.render.record_under_mocks`` (the engine ``gke-infer render``
uses: it echoes inputs as outputs and computes service-account emails and a Filestore IP,
``FILESTORE_MOCK_IP``) and returns every registration as a :class:`Recorded` once all Outputs settled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from stack.render import FILESTORE_MOCK_IP, RecordedResource, load_stack_config, make_recorder, record_under_mocks

FILESTORE_IP = FILESTORE_MOCK_IP
"""The address a mocked Filestore instance reports (``stack.render.FILESTORE_MOCK_IP``)."""


@dataclass
class Recorded:
    type: str
    name: str
    parent: str | None
    provider: str | None
    """Name of the explicit provider resource it was created through (None = the default provider)."""
    depends_on: list[str]
    """Names of the resources it waits for (sorted)."""
    inputs: dict[str, Any]
    custom_timeouts: tuple[str, str] = ("", "")
    """(create, update) of the resource's ``customTimeouts`` option; empty = the provider's default."""

    @classmethod
    def of(cls, resource: RecordedResource) -> Recorded:
        """Adapt one record of the public recorder."""
        timeouts = resource.custom_timeouts
        return cls(
            type=resource.type,
            name=resource.name,
            parent=resource.parent,
            provider=resource.provider,
            depends_on=resource.dependencies,
            inputs=resource.inputs,
            custom_timeouts=(timeouts.get("create", ""), timeouts.get("update", "")),
        )


@dataclass
class Recording:
    resources: list[Recorded] = field(default_factory=list)
    result: Any = None
    settled: Any = None

    def of_type(self, token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> Recorded:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}: {[r.name for r in self.resources]}"
        return matches[0]

    def manifests(self) -> list[dict[str, Any]]:
        return [r.inputs for r in self.resources if r.type.startswith("kubernetes:") and "kind" in r.inputs]

    def manifest(self, kind: str, name: str) -> dict[str, Any]:
        found = [m for m in self.manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {[(m['kind'], m['metadata']['name']) for m in self.manifests()]}"
        return found[0]


def record(fn: Callable[[], Any], settle: Callable[[Any], Any] | None = None) -> Recording:
    """Run ``fn`` under the recording engine; ``settle(result)`` may return an Output to resolve.

    The settled value is cleaned as every render's exports are (``stack.render.clean_value``:
    integral floats become ints, None is dropped, secrets are masked).
    """
    recording = Recording()

    def program() -> dict[str, Any]:
        recording.result = fn()
        return {} if settle is None else {"settled": settle(recording.result)}

    monitor, outputs = record_under_mocks(program, "test", *make_recorder())
    recording.resources = [Recorded.of(r) for r in monitor.recorded]
    recording.settled = outputs.get("settled")
    return recording


async def resolve(value: Any) -> Any:
    """Resolve Outputs nested in dicts/lists (for WeightsMount fields)."""
    if isinstance(value, dict):
        return {k: await resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [await resolve(v) for v in value]
    if isinstance(value, pulumi.Output):
        return await value.future()
    return value


@pytest.fixture
def dev_config():
    return load_stack_config("dev")


@pytest.fixture
def prod_config():
    return load_stack_config("prod")


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: runs real vLLM (CPU build, .venv-serve) and/or locust")

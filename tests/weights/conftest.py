"""A recording mock engine for the weight components (the pattern of ``stack.render.run_program``).

``record(fn)`` runs ``fn`` under ``pulumi.runtime.set_mocks`` with a monitor that keeps every
registration (type, name, parent, provider, inputs) and returns them once all Outputs settled.
The mocks echo inputs as outputs and compute what GCP would: service-account emails, and the IP of
a Filestore instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from stack.render import clean_value, load_stack_config

FILESTORE_IP = "10.20.0.2"


@dataclass
class Recorded:
    type: str
    name: str
    parent: str | None
    provider: str
    depends_on: list[str]
    inputs: dict[str, Any]
    custom_timeouts: tuple[str, str] = ("", "")
    """(create, update) of the resource's ``customTimeouts`` option; empty = the provider's default."""


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


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "gcp:serviceaccount/account:Account":
            outputs["email"] = f"{args.inputs['accountId']}@{args.inputs['project']}.iam.gserviceaccount.com"
        if args.typ == "gcp:filestore/instance:Instance":
            outputs["networks"] = [{**n, "ipAddresses": [FILESTORE_IP]} for n in args.inputs["networks"]]
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class _Monitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.recording = Recording()
        self.names: dict[str, str] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        self.names[response.urn] = request.name
        inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
        self.recording.resources.append(
            Recorded(
                type=request.type,
                name=request.name,
                parent=self.names.get(request.parent),
                provider=request.provider,
                depends_on=[self.names.get(urn, urn) for urn in request.dependencies],
                inputs=clean_value(inputs or {}),
                custom_timeouts=(request.customTimeouts.create, request.customTimeouts.update),
            )
        )
        return response


def record(fn: Callable[[], Any], settle: Callable[[Any], Any] | None = None) -> Recording:
    """Run ``fn`` under the recording engine; ``settle(result)`` may return an Output to resolve."""
    mocks = _Mocks()
    monitor = _Monitor(mocks)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(mocks, project="gke-inference", stack="test", preview=False, monitor=monitor)
    result = fn()
    monitor.recording.result = result

    async def drain() -> Any:
        value = None
        if settle is not None:
            value = await pulumi.Output.from_input(settle(result)).future()
        while pending := [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task() and not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        return value

    monitor.recording.settled = loop.run_until_complete(drain())
    loop.close()
    return monitor.recording


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

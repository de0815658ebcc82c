"""A recording mock engine for component tests.

Components run under ``pulumi.runtime.set_mocks`` with the same recording monitor the offline
render uses (``stack.render``), so every registration is captured with its type token, logical
name, parent, resource options and inputs (camelCase keys as Pulumi sends them, integral floats
turned back into ints, secrets masked as ``[secret]``). Invokes are recorded too, and tests can
give canned results for them (e.g. ``gcp:container/getCluster:getCluster``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from stack import render


@dataclass
class Recording:
    """What one program run registered."""

    resources: list[dict[str, Any]]
    calls: list[tuple[str, dict[str, Any]]]
    loop: asyncio.AbstractEventLoop
    value: Any = None
    """What the program function returned (components, Outputs)."""

    def of_type(self, token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == token]

    def named(self, name: str) -> dict[str, Any]:
        matches = [r for r in self.resources if r["name"] == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}: {self.names()}"
        return matches[0]

    def inputs(self, name: str) -> dict[str, Any]:
        return self.named(name)["inputs"]

    def names(self) -> list[str]:
        return sorted(r["name"] for r in self.resources)

    def tree(self) -> set[tuple[str, str, str | None]]:
        """``(type, name, parent)`` of every resource: the public names and nesting of a component."""
        return {(r["type"], r["name"], r["parent"]) for r in self.resources}

    def resolve(self, value: Any) -> Any:
        """The plain value of an Output (secrets unwrapped: tests may look inside them)."""
        return self.loop.run_until_complete(pulumi.Output.from_input(value).future())

    def is_secret(self, value: Any) -> bool:
        return self.loop.run_until_complete(pulumi.Output.from_input(value).is_secret())


@dataclass
class Recorder:
    """Runs a function that creates resources, under the recording mocks."""

    call_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Canned invoke results by token (unlisted tokens return ``{}``)."""

    def run(self, program: Callable[[], Any], project: str = "gke-inference", stack: str = "test") -> Recording:
        monitor, mocks = render.make_recorder()
        self.last_monitor = monitor
        calls: list[tuple[str, dict[str, Any]]] = []

        def call(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            calls.append((args.token, dict(args.args)))
            return self.call_results.get(args.token, {})

        mocks.call = call  # type: ignore[method-assign]
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loops.append(loop)
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)

        async def settle() -> None:
            while pending := [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task() and not t.done()]:
                await asyncio.gather(*pending, return_exceptions=True)

        try:
            value = program()
        finally:  # registrations already started finish even when the program raises
            loop.run_until_complete(settle())
        resources = sorted((r.as_json() for r in monitor.recorded), key=lambda r: (r["name"], r["type"]))
        return Recording(resources, calls, loop, value)

    _loops: list[asyncio.AbstractEventLoop] = field(default_factory=list)
    last_monitor: Any = None
    """The recording monitor of the latest run, kept when the program raised."""

    def refused(self, program: Callable[[], Any]) -> list[tuple[str, str]]:
        """``(property_path, reason)`` of the ComponentArgsError ``program`` raises; asserts nothing was registered."""
        from infra.validation import ComponentArgsError

        with pytest.raises(ComponentArgsError) as caught:
            self.run(program)
        assert self.registered_by_last_run() == []
        return [(e["property_path"], e["reason"]) for e in caught.value.errors or []]

    def registered_by_last_run(self) -> list[str]:
        """Names of everything the latest run registered, even when it raised."""
        return [r.as_json()["name"] for r in self.last_monitor.recorded]


@pytest.fixture
def recorder():
    """A Recorder; its event loops are closed after the test."""
    rec = Recorder()
    yield rec
    for loop in rec._loops:
        loop.close()

"""A recording mock engine for observability components, plus a stand-in for the vLLM server.

``record(fn)`` runs ``fn()`` under the same recording monitor as ``gke-infer render``
(stack/render.py), settles every Output, and returns the recorded resources (with the provider
reference each was registered with) and the resolved exports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from stack.render import load_stack_config, make_recorder, record_under_mocks


@dataclass
class Recorded:
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]

    def of_type(self, token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == token]

    def named(self, name: str) -> dict[str, Any]:
        matches = [r for r in self.resources if r["name"] == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name!r}"
        return matches[0]

    def manifests(self) -> list[dict[str, Any]]:
        return [
            r["inputs"]
            for r in self.resources
            if r["type"].startswith("kubernetes:") and r["custom"] and "kind" in r["inputs"]
        ]

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests() if m["kind"] == kind]


def record(fn: Callable[[], dict[str, Any] | None], stack: str = "dev") -> Recorded:
    monitor, mocks = make_recorder()
    providers: dict[str, str] = {}
    dependencies: dict[str, list[str]] = {}
    register = monitor.RegisterResource

    def register_with_provider(request):
        response = register(request)
        providers[request.name] = request.provider
        dependencies[request.name] = [urn.split("::")[-1] for urn in request.dependencies]
        return response

    monitor.RegisterResource = register_with_provider
    monitor, outputs = record_under_mocks(fn, stack, monitor, mocks)
    resources = []
    for r in monitor.recorded:
        item = r.as_json()
        item["provider"] = providers.get(r.name, "")
        item["dependsOn"] = dependencies.get(r.name, [])
        resources.append(item)
    return Recorded(resources, outputs)


@dataclass
class FakeServing:
    """The attributes build_observability reads from workloads.vllm_server.VllmServer."""

    namespace: str = "llm"
    selector_labels: dict[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "vllm"}
    )
    metrics_port_name: str = "http"
    target_api_version: str = "apps/v1"
    target_kind: str = "Deployment"
    target_name: str = "vllm"
    served_model_name: str = "llama-3.1-8b"


def provider() -> Any:
    import pulumi_kubernetes as k8s

    return k8s.Provider("gke-k8s", kubeconfig="{}")


@pytest.fixture
def dev_config():
    def make(*overrides: str):
        return load_stack_config("dev", list(overrides))

    return make


@pytest.fixture
def prod_config():
    def make(*overrides: str):
        return load_stack_config("prod", list(overrides))

    return make

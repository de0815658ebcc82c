"""Built-in Kubernetes kinds against kubernetes-validate's offline OpenAPI schemas, in strict mode.

Strict mode rejects unknown fields, the way ``kubectl apply --validate=strict`` does. Every error of
an object is reported, not just the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema
from kubernetes_validate import utils as kv
from packaging.version import Version
from referencing import Registry, Resource

from policy.model import Violation


def supported_minor(minor: str) -> str:
    """The newest schema version kubernetes-validate ships that is not newer than ``minor``.

    Raises ValueError naming ``cluster.kubernetesMinor`` when the version is older than every schema
    the package ships or is not a ``MAJOR.MINOR`` version.
    """
    if not re.match(r"^v?\d+\.\d+(\.\d+)?$", minor):
        raise ValueError(f"cluster.kubernetesMinor: {minor!r} is not a version like 1.33")
    wanted = Version(kv.major_minor(minor.lstrip("v")))
    candidates = [v for v in kv.all_versions() if Version(kv.major_minor(v)) <= wanted]
    if not candidates:
        raise ValueError(f"cluster.kubernetesMinor: {minor} is older than the oldest schema kubernetes-validate "
                         f"ships ({kv.all_versions()[0]}); raise it")
    return candidates[-1]


def schema_file_name(api_version: str, kind: str) -> str:
    """kubernetes-validate's file name for a kind: ``rbac.authorization.k8s.io/v1`` → ``role-rbac-v1.json``."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


@cache
def _validator(schema_version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    schema_dir = f"kubernetes-json-schema/v{schema_version}-local-strict"
    try:
        schema = kv.schema_contents(f"{schema_dir}/{schema_file_name(api_version, kind)}", schema_version)
    except FileNotFoundError:
        return None
    definitions = kv.schema_contents(f"{schema_dir}/_definitions.json", schema_version)
    registry: Registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def has_builtin_schema(manifest: Mapping[str, Any], minor: str) -> bool:
    """Whether kubernetes-validate has a schema for this object's apiVersion and kind."""
    return _validator(supported_minor(minor), manifest.get("apiVersion", ""), manifest.get("kind", "")) is not None


def object_name(manifest: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped or unnamespaced)."""
    meta = manifest.get("metadata") or {}
    parts = [manifest.get("kind", "?"), meta.get("namespace"), meta.get("name", "?")]
    return "/".join(str(p) for p in parts if p)


def json_path(path: Any) -> str:
    """A jsonschema error path as ``spec.template.spec.containers[0].image``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(object)"


def validate_builtin(manifest: Mapping[str, Any], minor: str) -> list[Violation]:
    """Every strict-schema error of one built-in object (none when the kind has no built-in schema)."""
    version = supported_minor(minor)
    validator = _validator(version, manifest.get("apiVersion", ""), manifest.get("kind", ""))
    if validator is None:
        return []
    return [
        Violation(f"kubernetes-schema-{kv.major_minor(version)}", object_name(manifest), json_path(error.absolute_path),
                  f"{error.message}; fix the field to match the Kubernetes {kv.major_minor(version)} API")
        for error in sorted(validator.iter_errors(dict(manifest)), key=lambda e: list(map(str, e.absolute_path)))
    ]

"""Custom resources against the CRD schemas vendored in ``stack/schemas/`` (see PROVENANCE.md there).

A CRD's ``openAPIV3Schema`` is OpenAPI, not JSON Schema; :func:`to_json_schema` converts the parts
that differ so jsonschema judges it the way the API server would:

* ``x-kubernetes-int-or-string: true`` → ``anyOf: [integer, string]``;
* ``nullable: true`` → the type also admits ``null``;
* strict: an object schema with ``properties`` and neither ``additionalProperties`` nor
  ``x-kubernetes-preserve-unknown-fields`` rejects unknown fields (the server would prune them
  silently, which hides typos);
* ``x-kubernetes-embedded-resource`` objects accept ``apiVersion``/``kind``/``metadata``.

CEL rules (``x-kubernetes-validations``) are not evaluated offline; they are counted in the report.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from policy.model import Violation
from stack.checks.kube_schema import json_path, object_name

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

_EMBEDDED = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}

BARE_SCHEMAS: dict[str, tuple[str, str, str]] = {
    "gke-computeclass/computeclass_v1.schema.json": ("cloud.google.com", "v1", "ComputeClass"),
    "gke-datalayer/gcpdatasource_v1.schema.json": ("datalayer.gke.io", "v1", "GCPDataSource"),
}
"""JSON Schema files (not CRDs) of GKE-managed kinds → (group, version, kind); see PROVENANCE.md."""
REFERENCE_CHECKED = {"podsnapshot.gke.io/v1": ("workloads.pod_snapshot", "snapshot_object_problems")}
"""GKE-managed API versions with no published schema at all (none from GKE, none in datreeio/CRDs-catalog) → the
(module, function) that checks their objects against the CRD reference page instead (``"path: message"`` lines)."""


@dataclass(frozen=True)
class CrdVersion:
    """One served version of one custom resource kind."""

    group: str
    version: str
    kind: str
    schema: Mapping[str, Any]
    source: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


_SUBSCHEMA = ("items", "not", "additionalProperties")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA_MAPS = ("properties", "patternProperties")


def to_json_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """Convert an OpenAPI v3 structural schema (recursively) into strict JSON Schema (see module doc)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable",) or key.startswith("x-kubernetes-"):
            continue
        if key in _SUBSCHEMA and isinstance(value, Mapping):
            out[key] = to_json_schema(value)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [to_json_schema(v) for v in value]
        elif key in _SUBSCHEMA_MAPS:
            out[key] = {name: to_json_schema(v) for name, v in value.items()}
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    if node.get("x-kubernetes-embedded-resource"):
        out["properties"] = {**_EMBEDDED, **out.get("properties", {})}
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def count_cel_rules(node: Any) -> int:
    """How many CEL rules a schema carries (reported, not evaluated)."""
    if isinstance(node, list):
        return sum(count_cel_rules(n) for n in node)
    if not isinstance(node, Mapping):
        return 0
    return len(node.get("x-kubernetes-validations") or []) + sum(count_cel_rules(v) for v in node.values())


def _from_crd(document: Mapping[str, Any], source: str) -> list[CrdVersion]:
    spec = document["spec"]
    return [
        CrdVersion(spec["group"], v["name"], spec["names"]["kind"], v["schema"]["openAPIV3Schema"], source)
        for v in spec["versions"]
        if v.get("served", True)
    ]


@lru_cache(maxsize=1)
def load_crds(schema_dir: Path = SCHEMA_DIR) -> dict[tuple[str, str], CrdVersion]:
    """Every served CRD version under ``schema_dir``, keyed by ``(apiVersion, kind)``.

    YAML files are CustomResourceDefinitions; the ``BARE_SCHEMAS`` files are bare schemas of
    GKE-managed kinds (GKE publishes no CRD file for them).
    """
    crds: dict[tuple[str, str], CrdVersion] = {}
    for path in sorted(schema_dir.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                for crd in _from_crd(document, str(path.relative_to(schema_dir))):
                    crds[(crd.api_version, crd.kind)] = crd
    for relative, (group, version, kind) in BARE_SCHEMAS.items():
        path = schema_dir / relative
        if path.exists():
            schema = json.loads(path.read_text())
            # Some catalog files keep only spec/status; every object also carries apiVersion/kind/metadata.
            schema["properties"] = {**_EMBEDDED, **schema.get("properties", {})}
            crd = CrdVersion(group, version, kind, schema, relative)
            crds[(crd.api_version, crd.kind)] = crd
    return crds


@cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    crd = load_crds().get((api_version, kind))
    if crd is None:
        return None
    return jsonschema.Draft202012Validator(to_json_schema(crd.schema))


def known_kinds() -> dict[str, list[str]]:
    """kind → the apiVersions vendored for it."""
    kinds: dict[str, list[str]] = {}
    for api_version, kind in load_crds():
        kinds.setdefault(kind, []).append(api_version)
    return kinds


def has_crd_schema(manifest: Mapping[str, Any]) -> bool:
    """Whether a vendored CRD serves this object's apiVersion and kind."""
    return (manifest.get("apiVersion"), manifest.get("kind")) in load_crds()


def validate_custom(manifest: Mapping[str, Any]) -> list[Violation]:
    """Every schema error of one custom resource; a violation if no vendored CRD serves its apiVersion."""
    api_version, kind = manifest.get("apiVersion", ""), manifest.get("kind", "")
    validator = _validator(api_version, kind)
    name = object_name(manifest)
    if validator is None and api_version in REFERENCE_CHECKED:
        module, function = REFERENCE_CHECKED[api_version]
        check = getattr(importlib.import_module(module), function)  # imported lazily: the module loads the Pulumi SDKs
        return [Violation(f"crd-reference:{kind}", name, path, message)
                for path, _, message in (problem.partition(": ") for problem in check(manifest))]
    if validator is None:
        served = known_kinds().get(kind)
        hint = (f"served versions are {', '.join(served)}" if served
                else "vendor its CRD into stack/schemas/ with a PROVENANCE.md entry")
        return [Violation("crd-schema", name, "apiVersion", f"no schema for {api_version} {kind}; {hint}")]
    return [
        Violation(f"crd-schema:{kind}", name, json_path(error.absolute_path), f"{error.message}")
        for error in sorted(validator.iter_errors(dict(manifest)), key=lambda e: list(map(str, e.absolute_path)))
    ]

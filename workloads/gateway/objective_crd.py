"""The InferenceObjective CRD (``llm-d.ai/v1alpha2``), installed by the stack from the vendored, pinned copy.

GKE ≥ 1.34.0-gke.1626000 installs "all GA CRDs for Gateway API and Gateway API Inference Extension"
(llm-d ``docs/infrastructure/gateway/gke.md`` @3b9ac7a9), i.e. InferencePool v1; InferenceObjective is alpha
and lives in llm-d-router since the API split (../shared/reference/field-2026-12.md §1.1), so without this
component ``pulumi up`` stops with "no matches for kind InferenceObjective".

The CRD is the file vendored in ``stack/schemas/llm-d-router/`` (llm-d-router v0.10.0, the release the
picker image follows), the same file ``gke-infer validate`` checks InferenceObjectives against. The
component refuses a file whose sha256 is not :data:`CRD_SHA256` (PROVENANCE.md), so the installed schema
cannot drift from the validated one.

pulumi-kubernetes awaits a CustomResourceDefinition until it is ``Established`` before dependents are
created (its built-in await for CRDs), so every InferenceObjective that depends on this component is
created after the API serves the kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from infra.options import child_options
from infra.validation import Problem, raise_if_problems, type_problems

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "stack" / "schemas"
CRD_PATH = SCHEMA_DIR / "llm-d-router" / "llm-d.ai_inferenceobjectives.yaml"
"""The vendored CRD (a data file the wheel carries with ``stack/schemas``)."""
CRD_SHA256 = "c1e763412fcbe2b55e9282850156269a10053be2d052547cb80a2ca639c09990"
"""sha256 of llm-d-router v0.10.0 ``config/crd/bases/llm-d.ai_inferenceobjectives.yaml``
(stack/schemas/PROVENANCE.md)."""
CRD_NAME = "inferenceobjectives.llm-d.ai"
TYPE_TOKEN = "gke-inference:workloads:InferenceObjectiveCrd"


@dataclass(frozen=True)
class InferenceObjectiveCrdArgs:
    crd_path: str = str(CRD_PATH)
    """The CRD file to install; must hash to ``expected_sha256``."""
    expected_sha256: str = CRD_SHA256
    """The pin: the install refuses any other file content."""


def validate_inference_objective_crd_args(args: InferenceObjectiveCrdArgs) -> list[Problem]:
    """The file exists, hashes to the pin, and is the InferenceObjective CRD (pure apart from reading the file)."""
    problems = type_problems(args, InferenceObjectiveCrdArgs)
    if problems:
        return problems
    path = Path(args.crd_path)
    if not path.is_file():
        return [Problem("crd_path", f"{path} does not exist; the CRD is vendored in stack/schemas/llm-d-router/")]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != args.expected_sha256:
        return [Problem("crd_path", f"{path.name} has sha256 {digest}, not the pinned {args.expected_sha256}: "
                                    "refresh the pin and stack/schemas/PROVENANCE.md together")]
    document = yaml.safe_load(path.read_text())
    if (document or {}).get("kind") != "CustomResourceDefinition" or document["metadata"]["name"] != CRD_NAME:
        return [Problem("crd_path", f"{path.name} is not the {CRD_NAME} CustomResourceDefinition")]
    return []


def crd_document(args: InferenceObjectiveCrdArgs) -> dict[str, Any]:
    """The CRD as a dict (validated)."""
    raise_if_problems("InferenceObjectiveCrd", "crd", validate_inference_objective_crd_args(args))
    return dict(yaml.safe_load(Path(args.crd_path).read_text()))


class InferenceObjectiveCrd(pulumi.ComponentResource):
    """Installs the ``llm-d.ai`` InferenceObjective CRD. Pass an explicit Kubernetes provider in ``opts``;
    put this component in the ``depends_on`` of every InferenceObjective (``ModelPoolArgs.objective_crd``)."""

    crd: k8s.apiextensions.v1.CustomResourceDefinition
    api_version: str

    def __init__(self, name: str, args: InferenceObjectiveCrdArgs | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        args = args if args is not None else InferenceObjectiveCrdArgs()
        raise_if_problems("InferenceObjectiveCrd", name, validate_inference_objective_crd_args(args))
        document = crd_document(args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        metadata = dict(document["metadata"])
        metadata["labels"] = {**(metadata.get("labels") or {}), "app.kubernetes.io/managed-by": "gke-inference"}
        self.crd = k8s.apiextensions.v1.CustomResourceDefinition(  # type: ignore[call-overload]  # camelCase manifest dicts; the SDK's TypedDicts are snake_case
            f"{name}-crd",
            metadata=metadata,
            spec=document["spec"],
            opts=child_options(self, opts),
        )
        versions = [v["name"] for v in document["spec"]["versions"] if v.get("storage")]
        self.api_version = f"{document['spec']['group']}/{versions[0]}"
        self.register_outputs({"crdName": CRD_NAME, "apiVersion": self.api_version})

"""Offline checks behind ``gke-infer validate``: Kubernetes and CRD schemas, policy, checkov, vLLM args.

Every checker returns ``list[Violation]`` (rule, resource, field, how to fix).
"""

from policy.model import Violation
from stack.checks.annotations import checkov_skip_annotations

__all__ = ["Violation", "checkov_skip_annotations"]

"""Argument rules several Kubernetes components share (each returns ``list[Problem]``, pure).

The components' own ``validate_<component>_args`` functions combine these with
``infra.validation.type_problems`` and their cross-field rules; see ``infra/validation.py`` for the
pattern (one ``ComponentArgsError`` listing every problem, raised before any child exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.images import DIGEST
from infra.validation import Problem, dns_label, dns_subdomain, is_plain


def at_least(path: str, value: int | float, low: int | float, why: str = "") -> list[Problem]:
    """``value`` ≥ ``low``; ``why`` says what the bound protects."""
    if value < low:
        return [Problem(path, f"{value} must be ≥ {low}" + (f" ({why})" if why else ""))]
    return []


def pinned_image(path: str, image: Any) -> list[Problem]:
    """A plain-string image must carry a digest (``NAME[:TAG]@sha256:<64 hex>``); an Output is trusted
    (``infra.images.ContainerImage`` and the resolver only ever yield digests)."""
    if not is_plain(image) or not isinstance(image, str):
        return []
    name, at, digest = image.rpartition("@")
    if not at or not name or not DIGEST.match(digest):
        return [Problem(path, f"'{image}' is not pinned by digest; use NAME@sha256:<64 hex> or a resolved image "
                              "(ContainerImage.ref)")]
    return []


def object_name(path: str, value: Any, what: str) -> list[Problem]:
    """A namespaced object name (DNS-1123 subdomain), checked when it is a plain string."""
    return dns_subdomain(path, value, what) if isinstance(value, str) else []


def namespace_name(path: str, value: Any) -> list[Problem]:
    """A namespace (DNS-1123 label), checked when it is a plain string."""
    return dns_label(path, value, "namespace") if isinstance(value, str) else []


def service_name(path: str, value: Any, what: str) -> list[Problem]:
    """A Service (or an object a Service shares its name with): a DNS-1035 label, ≤ 63 characters starting
    with a letter (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#rfc-1035-label-names)."""
    if not isinstance(value, str):
        return []
    problems = dns_label(path, value, what)
    if not problems and not value[0].isalpha():
        problems = [Problem(path, f"'{value}' is not a valid {what}: it must start with a letter (RFC 1035 label)")]
    return problems


def label_selector(path: str, labels: Mapping[str, str], what: str) -> list[Problem]:
    """A non-empty label map used to select pods."""
    if not labels:
        return [Problem(path, f"empty; {what} must select pods by label")]
    return []

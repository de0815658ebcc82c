"""Argument validation shared by every component: problems, the error they raise, and GCP name rules.

Each component module exports a pure ``validate_<component>_args(args) -> list[Problem]`` and calls
it at the top of ``__init__``, before ``super().__init__`` and before any child, through
:func:`raise_if_problems`. The stack config (``stack/config.py``) calls the same functions and
reports each problem under its YAML path, so a rule lives once.

A :class:`Problem` names the argument path (``local_ssd_count``, ``system_pool.min_nodes``,
``labels.Team``) and the reason. A reason may refer to another argument as ``{arg_path}``:
components print the argument name, the stack config prints that argument's YAML path.

Create-time rules are cited next to each constant; the discovery documents named here are vendored,
trimmed, in ``infra/discovery/`` and tests check the constants against them
(docs/gcp-create-time-rules.md lists every rule with its source).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NamedTuple

import pulumi
from pulumi.errors import InputPropertiesError

_REF = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


class Problem(NamedTuple):
    """One invalid argument: its path and what to do about it."""

    property_path: str
    """Argument path, e.g. ``local_ssd_count`` or ``system_pool.min_nodes``."""
    reason: str
    """What is wrong and how to fix it; ``{arg_path}`` refers to another argument."""

    def render(self, name: Callable[[str], str] = lambda path: path) -> str:
        """The reason with each ``{arg_path}`` reference replaced by ``name(arg_path)``."""
        return _REF.sub(lambda m: name(m.group(1)), self.reason)


class ComponentArgsError(InputPropertiesError):
    """A component refused its arguments; ``errors`` lists ``{property_path, reason}`` per problem."""

    def __init__(self, component: str, name: str, problems: list[Problem]):
        lines = [f"{p.property_path}: {p.render()}" for p in problems]
        noun = "argument" if len(problems) == 1 else "arguments"
        super().__init__(
            f"{component} '{name}': {len(problems)} invalid {noun}, nothing was created:\n  " + "\n  ".join(lines),
            [{"property_path": p.property_path, "reason": p.render()} for p in problems],
        )
        self.problems = problems


def raise_if_problems(component: str, name: str, problems: list[Problem]) -> None:
    """Raise one :class:`ComponentArgsError` listing every problem (nothing when the list is empty)."""
    if problems:
        raise ComponentArgsError(component, name, problems)


# --------------------------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------------------------


def _type_name(hint: Any) -> str:
    """A readable name for a type hint: ``Input[str]`` rather than the Union pulumi.Input expands to."""
    origin, members = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if any(typing.get_origin(m) is pulumi.Output or m is pulumi.Output for m in members):
            return f"pulumi.Input[{_type_name(members[0])}]"
        return " | ".join("None" if m is type(None) else _type_name(m) for m in members)
    if origin is typing.Literal:
        return " | ".join(repr(m) for m in members)
    if origin is not None:
        inner = ", ".join("..." if m is Ellipsis else _type_name(m) for m in members)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(hint, "__name__", str(hint))


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the type hint (the hints dataclass args use: scalars, unions, tuples, dicts)."""
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, member) for member in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if origin is tuple:
        items = typing.get_args(hint)
        if not isinstance(value, (tuple, list)):
            return False
        item = items[0] if items else Any
        return all(_matches(v, item) for v in value)
    if origin in (dict, Mapping):
        key, val = typing.get_args(hint) or (Any, Any)
        return isinstance(value, Mapping) and all(_matches(k, key) and _matches(v, val) for k, v in value.items())
    if origin is Awaitable or hint is Awaitable:
        return isinstance(value, Awaitable)
    if origin is pulumi.Output or hint is pulumi.Output:
        return isinstance(value, pulumi.Output)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a hint this checker does not model is not refused


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def type_problems(args: Any, expected: type, path: str = "") -> list[Problem]:
    """Problems with the type of ``args`` (a dataclass instance) and of each of its fields, recursively.

    A dict where the dataclass is expected, or a ``str`` where an ``int`` or a tuple is expected,
    is named here instead of failing later deep inside the component.
    """
    if not isinstance(args, expected):
        where = path or "args"
        return [Problem(where, f"expected {expected.__name__}, got {_describe(args)}: build it with "
                               f"{expected.__name__}(...)")]
    hints = typing.get_type_hints(expected, localns={"Output": pulumi.Output, "T": Any})  # Input names "Output[T]"
    problems = []
    for field in dataclasses.fields(expected):
        value, hint = getattr(args, field.name), hints[field.name]
        field_path = f"{path}.{field.name}" if path else field.name
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            problems.extend(type_problems(value, hint, field_path))
        elif typing.get_origin(hint) is tuple and isinstance(value, (tuple, list)):
            item = (typing.get_args(hint) or (Any,))[0]
            if dataclasses.is_dataclass(item) and isinstance(item, type):
                for index, element in enumerate(value):
                    problems.extend(type_problems(element, item, f"{field_path}.{index}"))
            elif not _matches(value, hint):
                problems.append(Problem(field_path, f"expected {_type_name(hint)}, got {_describe(value)}"))
        elif not _matches(value, hint):
            problems.append(Problem(field_path, f"expected {_type_name(hint)}, got {_describe(value)}"))
    return problems


def is_plain(value: Any) -> bool:
    """Whether a ``pulumi.Input`` is a plain value that can be checked now (not an Output or awaitable)."""
    return not isinstance(value, (pulumi.Output, Awaitable))


# --------------------------------------------------------------------------------------------
# GCP create-time rules shared by several resources
# --------------------------------------------------------------------------------------------

RFC1035 = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
"""Compute Engine resource names: compute.v1 discovery ``Network.name`` / ``Subnetwork.name`` /
``Router.name`` / ``RouterNat.name`` / ``ResourcePolicy.name`` ``pattern`` (1–63 characters)."""
_RFC1035 = re.compile(f"^{RFC1035}$")

PROJECT_ID = r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$"
"""Project ids: 6–30 characters, lowercase letters, digits and hyphens, starting with a letter and not
ending with a hyphen (Resource Manager, https://cloud.google.com/resource-manager/docs/creating-managing-projects
"project ID requirements"; the same rule the stack config already applies to ``project``)."""

MAX_LABELS = 64
MAX_LABEL_LENGTH = 63
"""GCP resource labels: up to 64 entries; keys 1–63 and values 0–63 characters; keys begin with a
lowercase letter; keys and values use only lowercase letters, digits, ``_`` and ``-`` (international
lowercase letters allowed). artifactregistry.v1 discovery ``Repository.labels`` and
https://cloud.google.com/compute/docs/labeling-resources#requirements."""


def rfc1035_name(path: str, value: Any, what: str, max_length: int = 63) -> list[Problem]:
    """A Compute Engine style name: ``[a-z]([-a-z0-9]*[a-z0-9])?``, at most ``max_length`` characters."""
    if not is_plain(value):
        return []
    if not _RFC1035.match(value) or len(value) > max_length:
        return [Problem(path, f"'{value}' is not a valid {what}: 1–{max_length} characters, lowercase letters, "
                              "digits and hyphens, starting with a letter and ending with a letter or digit")]
    return []


def project_id(path: str, value: Any) -> list[Problem]:
    if is_plain(value) and not re.match(PROJECT_ID, value):
        return [Problem(path, f"'{value}' is not a GCP project id: 6–30 characters, lowercase letters, digits and "
                              "hyphens, starting with a letter")]
    return []


def _label_text_ok(text: str, key: bool) -> bool:
    if key and (not text or not text[0].islower()):
        return False
    return all(c.islower() or c.isdigit() or c in "_-" for c in text)


def gcp_labels(path: str, labels: Mapping[str, str]) -> list[Problem]:
    """GCP resource labels (not Kubernetes labels): count, length and character rules."""
    problems = []
    if len(labels) > MAX_LABELS:
        problems.append(Problem(path, f"{len(labels)} labels; GCP allows at most {MAX_LABELS}"))
    for key, value in labels.items():
        if not _label_text_ok(key, key=True) or len(key) > MAX_LABEL_LENGTH:
            problems.append(Problem(f"{path}.{key}", f"label key '{key}' must be 1–{MAX_LABEL_LENGTH} lowercase "
                                                     "letters, digits, '_' or '-', starting with a lowercase letter"))
        if not _label_text_ok(value, key=False) or len(value) > MAX_LABEL_LENGTH:
            problems.append(Problem(f"{path}.{key}", f"label value '{value}' must be 0–{MAX_LABEL_LENGTH} lowercase "
                                                     "letters, digits, '_' or '-'"))
    return problems


_K8S_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
K8S_LABELS_TOTAL_CHARACTERS = 1024
"""container.v1 discovery ``NodeConfig.labels``: "supports up to 1,024 total characters in a single request"."""


def kubernetes_labels(path: str, labels: Mapping[str, str]) -> list[Problem]:
    """Kubernetes label syntax (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
    #syntax-and-character-set, which container.v1 ``NodeConfig.labels`` requires)."""
    problems = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or len(name) > 63 or not (
            _K8S_NAME.match(name)
        ):
            problems.append(Problem(f"{path}.{key}", f"'{key}' is not a Kubernetes label key: [prefix/]name, name "
                                                     "≤ 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends"))
        if value and (len(value) > 63 or not _K8S_NAME.match(value)):
            problems.append(Problem(f"{path}.{key}", f"'{value}' is not a Kubernetes label value: ≤ 63 "
                                                     "alphanumerics, '-', '_' or '.', alphanumeric at both ends"))
    return problems


def dns_label(path: str, value: str, what: str) -> list[Problem]:
    """A Kubernetes DNS-1123 label (namespaces): ≤ 63 lowercase alphanumerics or '-'."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        return [Problem(path, f"'{value}' is not a valid {what}: at most 63 lowercase letters, digits or '-', "
                              "alphanumeric at both ends")]
    return []


def dns_subdomain(path: str, value: str, what: str) -> list[Problem]:
    """A Kubernetes DNS-1123 subdomain (service accounts and most object names): ≤ 253 characters."""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        return [Problem(path, f"'{value}' is not a valid {what}: at most 253 lowercase letters, digits, '-' or '.', "
                              "alphanumeric at both ends")]
    return []


def one_of(path: str, value: Any, allowed: Iterable[str]) -> list[Problem]:
    allowed = tuple(allowed)
    if value not in allowed:
        return [Problem(path, f"'{value}' is not one of {', '.join(allowed)}")]
    return []


def ipv4_network(path: str, value: str, what: str) -> tuple[ipaddress.IPv4Network | None, list[Problem]]:
    """Parse an IPv4 CIDR whose host bits are zero (GCP refuses ``10.0.0.1/24``)."""
    try:
        return ipaddress.IPv4Network(value, strict=True), []
    except ValueError as err:
        return None, [Problem(path, f"'{value}' is not an IPv4 {what} in CIDR form with zero host bits ({err})")]


def no_overlaps(ranges: Mapping[str, ipaddress.IPv4Network | None], what: str) -> list[Problem]:
    """One problem per pair of overlapping ranges, on the later one."""
    problems = []
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for path, network in ranges.items():
        if network is None:
            continue
        for other_path, other in seen:
            if network.overlaps(other):
                problems.append(Problem(path, f"{network} overlaps {{{other_path}}} ({other}); {what} must not "
                                              "overlap"))
        seen.append((path, network))
    return problems


def unique(path: str, values: Iterable[str], what: str) -> list[Problem]:
    """Duplicates in a list that becomes child resources (a duplicate would repeat a URN)."""
    seen: set[str] = set()
    problems = []
    for index, value in enumerate(values):
        if value in seen:
            problems.append(Problem(f"{path}.{index}", f"'{value}' is listed twice; each {what} may appear once"))
        seen.add(value)
    return problems

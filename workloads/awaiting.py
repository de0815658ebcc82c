"""When ``pulumi up`` may call a Kubernetes object done: the provider's await annotations.

pulumi-kubernetes (4.34.x) awaits built-in kinds itself (Deployment rollout, Job ``Complete``, ...)
but creates a custom resource and moves on unless the object says what "ready" means. The
annotations (../shared/reference/field-2026-12.md §7.2; pulumi/pulumi-kubernetes PR #3143 generic
await, PR #3344 "annotations take precedence over built-in await logic"; pulumi/docs PR #12454):

* ``pulumi.com/waitFor``: ``condition=<Type>`` waits for ``status.conditions[type=<Type>].status ==
  "True"``; ``jsonpath={...}`` (optionally ``={value}``) waits for a field;
* ``pulumi.com/timeoutSeconds``: how long the await (built-in or ``waitFor``) may take before the
  resource fails; the provider's default is 10 minutes.
"""

from __future__ import annotations

import re

WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"

_CONDITION = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def await_annotations(condition: str | None = None, timeout_seconds: int | None = None) -> dict[str, str]:
    """Annotations making ``pulumi up`` wait for ``condition`` (a status condition type) within ``timeout_seconds``.

    Args:
        condition: a ``status.conditions[].type`` of the object (e.g. ``Available``); None adds no ``waitFor``
            (for built-in kinds, whose await the provider knows).
        timeout_seconds: the await budget; None keeps the provider's 10-minute default.
    """
    annotations: dict[str, str] = {}
    if condition is not None:
        if not _CONDITION.match(condition):
            raise ValueError(f"condition: {condition!r} is not a status condition type (CamelCase, e.g. Ready)")
        annotations[WAIT_FOR] = f"condition={condition}"
    if timeout_seconds is not None:
        if timeout_seconds < 1:
            raise ValueError(f"timeout_seconds: {timeout_seconds}; must be ≥ 1")
        annotations[TIMEOUT_SECONDS] = str(int(timeout_seconds))
    return annotations

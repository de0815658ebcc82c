"""Checkov skip annotations: a skipped check is declared on the object it concerns, with its reason.

checkov's Kubernetes runner reads ``metadata.annotations`` of the form
``checkov.io/skip<N>: <CHECK_ID>=<reason>`` (N = 1, 2, ...) and reports the check as skipped with
that reason. Workloads call :func:`checkov_skip_annotations` and merge the result into their
metadata (for pod-level checks, the annotations go on the object checkov parses: the Deployment,
StatefulSet, Job... itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CHECK_ID = re.compile(r"^CKV2?_K8S_\d+$")


def checkov_skip_annotations(skips: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Annotations that make checkov skip each ``(check id, reason)``, e.g. ``("CKV_K8S_43", "...")``.

    Raises ValueError when a check id is not a checkov Kubernetes id or a reason is empty, so every
    skip in the repository is explicit and explained.
    """
    annotations = {}
    for index, (check_id, reason) in enumerate(skips, start=1):
        if not _CHECK_ID.match(check_id):
            raise ValueError(f"checkov skip {index}: {check_id!r} is not a checkov Kubernetes check id (CKV_K8S_<n>)")
        reason = " ".join(str(reason).split())
        if not reason:
            raise ValueError(f"checkov skip {index}: {check_id} needs a reason")
        annotations[f"checkov.io/skip{index}"] = f"{check_id}={reason}"
    return annotations

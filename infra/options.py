"""Resource options shared by every component.

The Python SDK does not hand a component's ``depends_on`` to the children it creates: a
``VllmServer(opts=ResourceOptions(depends_on=[namespace]))`` would otherwise register its
Deployment with no dependency on the namespace and ``pulumi up`` could create it first. Every
component builds its children's options with :func:`child_options` so they inherit it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


def inherited_depends_on(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The component's own ``depends_on`` as a list (empty when there is none)."""
    deps = opts.depends_on if opts is not None else None
    if deps is None:
        return []
    return list(deps) if isinstance(deps, (list, tuple)) else [deps]  # type: ignore[list-item]


def child_options(
    parent: pulumi.Resource,
    opts: pulumi.ResourceOptions | None,
    *,
    depends_on: Sequence[pulumi.Resource] = (),
    **kwargs: Any,
) -> pulumi.ResourceOptions:
    """Options of a child: parented to ``parent``, waiting for what the component waits for and ``depends_on``."""
    return pulumi.ResourceOptions(parent=parent, depends_on=[*inherited_depends_on(opts), *depends_on], **kwargs)

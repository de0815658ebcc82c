"""The one way a facade registers: under ``gke-inference:index:<Component>``, with the Python component as its
only child, and its annotated outputs copied from that child."""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi
from pulumi.provider.experimental.util import camel_case

from infra.options import child_options

Child = TypeVar("Child", bound=pulumi.Resource)


def expose(facade: pulumi.ComponentResource, component: str, name: str, opts: pulumi.ResourceOptions | None,
           make: Callable[[pulumi.ResourceOptions], Child], outputs: Callable[[Child], Mapping[str, Any]]) -> Child:
    """Register ``facade``, create its component with ``make`` (given the child options) and set and register the
    facade's outputs (snake_case attribute names; camelCase in the schema) from ``outputs(component)``.

    Call it only after the component's validator passed: nothing is registered before."""
    pulumi.ComponentResource.__init__(facade, f"gke-inference:index:{component}", name, {}, opts)
    child = make(child_options(facade, opts))
    values = dict(outputs(child))
    for key, value in values.items():
        setattr(facade, key, value)
    facade.register_outputs({camel_case(key): value for key, value in values.items()})
    return child

"""The gke-inference component package: TypedDict facades of the public components for every Pulumi language.

Each facade converts its TypedDict arguments into the component's validated args dataclass, runs the same
validator (same messages, raised before anything is registered) and creates the component as its child.
"""

from importlib.metadata import PackageNotFoundError, version

import pulumi

from .gcp import GpuNodePool, ModelBucket
from .operations import MetricsAdapter, SmokeTest, VllmPodMonitoring
from .serving import VllmAutoscaler, VllmServer

PACKAGE_NAME = "gke-inference"
"""The package name: type tokens are ``gke-inference:index:<Component>``."""

COMPONENTS: list[type[pulumi.ComponentResource]] = [
    GpuNodePool, ModelBucket, VllmServer, VllmAutoscaler, VllmPodMonitoring, MetricsAdapter, SmokeTest,
]
"""Every component the package exposes (``component_provider_host`` takes the list explicitly)."""


def package_version() -> str:
    """The installed gke-inference distribution's version (the schema's version)."""
    try:
        return version("gke-inference")
    except PackageNotFoundError:  # a bare checkout without `pip install`
        return "0.0.0"

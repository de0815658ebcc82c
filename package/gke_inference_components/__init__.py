"""The gke-inference component package: TypedDict facades of the public components for every Pulumi language.

Each facade converts its TypedDict arguments into the component's validated args dataclass, runs the same
validator (same messages, raised before anything is registered) and creates the component as its child.
"""

from importlib.metadata import PackageNotFoundError, version

import pulumi

from .capacity import CapacityBuffer, ComputeClass, KedaOperator, LwsOperator, PodSnapshots, VllmScaledObject
from .gateway import InferenceGateway, InferenceObjectiveCrd, ModelPool
from .gcp import GpuNodePool, ModelBucket
from .images import BootDiskImage, ContainerImage, ImageBuild
from .jobs import BatchInference, InClusterLoadTest, ModelDownloader
from .operations import MetricsAdapter, SmokeTest, VllmPodMonitoring
from .platform import (
    CompactPlacement,
    ExistingGkeCluster,
    GkeCluster,
    ImageRegistry,
    Network,
    NodeServiceAccount,
    ObservabilityDashboard,
    ProjectApis,
    WorkloadIdentity,
)
from .serving import VllmAutoscaler, VllmServer
from .volumes import (
    FilestoreShare,
    HyperdiskMlVolume,
    ModelDisk,
    ModelVolume,
    RapidCache,
    SnapshotHydratedVolume,
    TransferNodePool,
)

PACKAGE_NAME = "gke-inference"
"""The package name: type tokens are ``gke-inference:index:<Component>``."""

COMPONENTS: list[type[pulumi.ComponentResource]] = [
    # platform
    ProjectApis, Network, NodeServiceAccount, WorkloadIdentity, ImageRegistry, GkeCluster, ExistingGkeCluster,
    GpuNodePool, CompactPlacement, ObservabilityDashboard,
    # images
    ContainerImage, ImageBuild, BootDiskImage,
    # model storage
    ModelBucket, RapidCache, FilestoreShare, ModelDisk, TransferNodePool, HyperdiskMlVolume,
    SnapshotHydratedVolume, ModelVolume, ModelDownloader,
    # serving and scaling
    VllmServer, VllmAutoscaler, VllmPodMonitoring, MetricsAdapter, SmokeTest, KedaOperator, VllmScaledObject,
    LwsOperator, ComputeClass, CapacityBuffer, PodSnapshots,
    # gateway, jobs
    InferenceGateway, InferenceObjectiveCrd, ModelPool, BatchInference, InClusterLoadTest,
]
"""Every component the package exposes (``component_provider_host`` takes the list explicitly)."""


def package_version() -> str:
    """The installed gke-inference distribution's version (the schema's version)."""
    try:
        return version("gke-inference")
    except PackageNotFoundError:  # a bare checkout without `pip install`
        return "0.0.0"

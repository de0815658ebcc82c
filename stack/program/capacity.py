"""Capacity for the serving replicas: the ComputeClass they select and the CapacityBuffer kept for the next ones.

Both are optional (``serving.computeClass``, ``serving.capacityBuffer``); docs/capacity.md explains the choices
and the simulator evidence behind the shipped stacks.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from stack.config import StackConfig
from workloads.capacity_buffer import CapacityBuffer
from workloads.compute_class import ComputeClass
from workloads.vllm_server import VllmServer


def build_compute_class(
    config: StackConfig, stack: str, provider: k8s.Provider, depends_on: list[pulumi.Resource]
) -> ComputeClass | None:
    """The ComputeClass of ``serving.computeClass`` (cluster-scoped; None when unset).

    Args:
        depends_on: what it waits for (the stack's GPU pools: a ``pools`` rule names them).
    """
    args = config.compute_class_args(labels={"stack": stack, "managed-by": "pulumi"})
    if args is None:
        return None
    return ComputeClass("compute-class", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=depends_on))


def build_capacity_buffer(
    config: StackConfig, provider: k8s.Provider, server: VllmServer, server_image: pulumi.Input[str]
) -> CapacityBuffer | None:
    """The serving replicas' CapacityBuffer (None when ``serving.capacityBuffer.replicas`` is 0): chunks shaped
    like a serving pod (``StackConfig.buffer_args``), so the cluster autoscaler keeps that many replicas' nodes
    ready. ``server_image`` names the chunk's image (never pulled: the autoscaler only simulates the pods)."""
    if not config.serving.capacity_buffer.replicas:
        return None
    args = config.buffer_args(image=server_image, labels={"app.kubernetes.io/part-of": server.object_name})
    return CapacityBuffer(
        "capacity-buffer", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=[server])
    )

"""GKE Inference Gateway components: one Gateway with body-based routing, one pool per model (InferencePool,
endpoint picker, health check, backend policy, route, objectives), the InferenceObjective CRD, and LoRA helpers.

See docs/gateway.md for how the pieces fit and where every fact comes from.
"""

from workloads.gateway.endpoint_picker import PickerSettings, ScorerWeights
from workloads.gateway.inference_gateway import (
    GatewayRef,
    GatewayTls,
    InferenceGateway,
    InferenceGatewayArgs,
    validate_inference_gateway_args,
)
from workloads.gateway.lora import AdapterSource, lora_vllm_args, parse_adapter_source
from workloads.gateway.model_pool import ModelPool, ModelPoolArgs, validate_model_pool_args
from workloads.gateway.objective_crd import (
    InferenceObjectiveCrd,
    InferenceObjectiveCrdArgs,
    validate_inference_objective_crd_args,
)

__all__ = [
    "AdapterSource",
    "GatewayRef",
    "GatewayTls",
    "InferenceGateway",
    "InferenceGatewayArgs",
    "InferenceObjectiveCrd",
    "InferenceObjectiveCrdArgs",
    "ModelPool",
    "ModelPoolArgs",
    "PickerSettings",
    "ScorerWeights",
    "lora_vllm_args",
    "parse_adapter_source",
    "validate_inference_gateway_args",
    "validate_inference_objective_crd_args",
    "validate_model_pool_args",
]

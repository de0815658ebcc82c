"""Decisions the stack derives from its config, each made once.

The deployed program (``stack/*_program.py``), the planner (``stack/plan/estimate.py``) and the simulator
(``stack/plan/simulate/``) import these instead of deciding again; this module imports neither the planner
nor the simulator. Decisions that need nothing but the config are ``StackConfig`` methods
(``min_replicas``, ``max_replicas``); the ones here also need a replica's cold start
(``stack/cold_start.py``) or name things after the stack.

* the startupProbe budget: :func:`startup_budget_seconds`;
* the HPA/KEDA ``behavior`` defaults: :func:`default_behavior`;
* the GCP service-account id of a Workload Identity: :func:`gsa_account_id`.
"""

from __future__ import annotations

import math

from stack.cold_start import estimate_cold_start
from stack.config import StackConfig
from workloads.hpa_behavior import HpaBehavior, ScalingPolicy, ScalingRules

# -- cold start and the startup budget ---------------------------------------------------------

STARTUP_BUDGET_FACTOR = 1.5
"""The startupProbe allows this multiple of the estimated replica cold start (image + weights + engine)."""
MIN_STARTUP_BUDGET_SECONDS = 300


def replica_cold_start_seconds(config: StackConfig) -> float:
    """A new replica's cold start, node to Ready (``stack.cold_start.estimate_cold_start``, default start)."""
    return estimate_cold_start(config).total_seconds


def startup_budget_seconds(config: StackConfig, cold_start_seconds: float | None = None) -> int:
    """``serving.startupBudgetSeconds``, or the cold start × STARTUP_BUDGET_FACTOR rounded up to 10 s (at least
    MIN_STARTUP_BUDGET_SECONDS); ``cold_start_seconds`` None computes it (:func:`replica_cold_start_seconds`)."""
    if config.serving.startup_budget_seconds is not None:
        return config.serving.startup_budget_seconds
    if cold_start_seconds is None:
        cold_start_seconds = replica_cold_start_seconds(config)
    return max(MIN_STARTUP_BUDGET_SECONDS, math.ceil(cold_start_seconds * STARTUP_BUDGET_FACTOR / 10) * 10)


# -- HPA behavior ---------------------------------------------------------------------------------

DEFAULT_SCALE_DOWN_WINDOW_SECONDS = 300
"""Kubernetes' default scale-down stabilization (kube-controller-manager
--horizontal-pod-autoscaler-downscale-stabilization, and the v2 API default)."""
SCALE_DOWN_POD_PERIOD_SECONDS = 60
"""One pod per minute on the way down (anchors §9.5: "scaleDown 300 s with a 1-pod/60 s policy")."""
SCALE_UP_PERIOD_SECONDS = 15
"""One HPA sync: pods that are still starting report no metric and count as 0 on a scale-up, so
a longer period would only delay the next step."""


def _round_up(seconds: float, step: int) -> int:
    return int(math.ceil(seconds / step) * step)


def default_behavior(config: StackConfig, cold_start_seconds: float | None = None) -> HpaBehavior:
    """The stack's HPA behavior: fast scale-up, slow scale-down, from the replica cold start.

    * scaleUp: no stabilization; Pods ``ceil(maxReplicas / 2)`` and Percent 100 per 15 s, selectPolicy
      Max (reach the maximum in two steps).
    * scaleDown: stabilization ``max(300, cold start rounded up to 15 s)``: capacity that took a
      cold start to get is not given back before the same time has passed; then one pod per 60 s.

    ``config.autoscaling.behavior`` fields override each derived value.

    Args:
        config: the stack config (``autoscaling``, and the cold start when ``cold_start_seconds`` is None).
        cold_start_seconds: a replica's cold start; None computes it (:func:`replica_cold_start_seconds`).
            The simulator passes the cold start of the start-up option it simulates.
    """
    if cold_start_seconds is None:
        cold_start_seconds = replica_cold_start_seconds(config)
    scaling = config.autoscaling
    override = scaling.behavior
    up_period = override.scale_up_period_seconds or SCALE_UP_PERIOD_SECONDS
    up_window = override.scale_up_stabilization_seconds
    down_window = override.scale_down_stabilization_seconds
    return HpaBehavior(
        scale_up=ScalingRules(
            0 if up_window is None else up_window,
            (
                ScalingPolicy("Pods", override.scale_up_pods or max(1, math.ceil(scaling.max_replicas / 2)), up_period),
                ScalingPolicy("Percent", override.scale_up_percent or 100, up_period),
            ),
            "Max",
        ),
        scale_down=ScalingRules(
            down_window
            if down_window is not None
            else max(DEFAULT_SCALE_DOWN_WINDOW_SECONDS, _round_up(cold_start_seconds, 15)),
            (ScalingPolicy("Pods", 1, override.scale_down_period_seconds or SCALE_DOWN_POD_PERIOD_SECONDS),),
            "Max",
        ),
    )


# -- identities -------------------------------------------------------------------------------------

GSA_ID_MAX = 30
"""Service account ids are 6–30 characters of ``[a-z][-a-z0-9]*[a-z0-9]`` (iam.v1 discovery,
``CreateServiceAccountRequest.accountId``)."""


def gsa_account_id(prefix: str, stack: str) -> str:
    """The GSA id of one of the stack's Workload Identities: ``<prefix>-<stack>``.

    When that is longer than GSA_ID_MAX the prefix is shortened, never the stack name, so two stacks in one
    project never share an id. The stack config refuses stack names whose node account ``gke-<stack>-nodes``
    is not a valid id (so at most 20 characters), which keeps every id valid. Every identity of the stack
    takes its id from here; the ids of the committed stacks are the ids they always had (a new id would
    replace the account).
    """
    room = GSA_ID_MAX - len(stack) - 1
    head = prefix[:room].rstrip("-") if len(prefix) > room else prefix
    return f"{head}-{stack}"

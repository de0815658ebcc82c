"""The LeaderWorkerSet controller, from its Helm chart at a pinned release.

A replica that spans nodes is a ``LeaderWorkerSet`` (``leaderworkerset.x-k8s.io/v1``); GKE does not
install that API, so without this chart ``pulumi up`` fails with "no matches for kind". Facts
(kubernetes-sigs/lws, tag v0.10.0 = 2161f38ff333f9e24d3c44adef7cd5d9787cac00, 2026-08-11, read from
the repository; the CRD vendored in stack/schemas/lws is the same tag):

* ``site/content/en/docs/installation/_index.md`` @v0.10.0, "Install by Helm":
  ``helm install lws oci://registry.k8s.io/lws/charts/lws --version=0.10.0 --namespace lws-system``;
* ``charts/lws/crds/leaderworkerset.x-k8s.io_leaderworkersets.yaml``: the chart's CRD carries a
  conversion webhook fixed to Service ``lws-webhook-service`` in namespace ``lws-system``
  (../shared/crds/README.md), so the release must live in ``lws-system``;
* ``charts/lws/values.yaml``: ``nodeSelector``/``tolerations`` place the controller manager; requests
  1 CPU / 1 Gi; the release process (``Makefile`` target ``artifacts``) sets the image tag to the
  release tag with ``pullPolicy: IfNotPresent``;
* ``charts/lws/templates/webhook/webhook.yaml``: mutating and validating webhooks with
  ``failurePolicy: Fail``; the controller injects their CA bundle itself (``pkg/cert/cert.go``,
  internal cert management on unless ``enableCertManager``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.options import child_options
from infra.validation import Problem, kubernetes_labels, raise_if_problems, type_problems

CHART = "oci://registry.k8s.io/lws/charts/lws"
"""The chart in the Kubernetes OCI registry (LWS installation docs @v0.10.0, "Install by Helm")."""
CHART_VERSION = "0.10.0"
"""Chart version of LWS release v0.10.0 (appVersion v0.10.0, the CRD in stack/schemas/lws)."""
RELEASE = "lws"
"""Release name: with it the chart names the Deployment ``lws-controller-manager`` (``lws.fullname``)."""
NAMESPACE = "lws-system"
"""Fixed by the chart's CRD conversion webhook (``lws-webhook-service.lws-system``)."""
API_VERSION = "leaderworkerset.x-k8s.io/v1"
KIND = "LeaderWorkerSet"
READY_CONDITION = "Available"
"""LeaderWorkerSet status condition meaning "at least the minimum available groups are up and running"
(api/leaderworkerset/v1/leaderworkerset_types.go @v0.10.0, ``LeaderWorkerSetAvailable``; there is no
``Ready`` condition)."""


@dataclass(frozen=True)
class LwsOperatorArgs:
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Where the controller manager runs (the CPU system pool: ``{"gke-inference/role": "system"}``)."""
    chart_version: str = CHART_VERSION
    """Chart version (keep in step with the CRD schema in stack/schemas/lws)."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """Extra chart values, merged over ours at the top level."""



def validate_lws_operator_args(args: LwsOperatorArgs) -> list[Problem]:
    """Problems with the LWS install's arguments (pure)."""
    problems = type_problems(args, LwsOperatorArgs)
    if problems:
        return problems
    if not args.chart_version or args.chart_version.startswith("v"):
        problems.append(Problem("chart_version", f"{args.chart_version!r}; give the chart version without 'v' "
                                                 f"(e.g. {CHART_VERSION})"))
    return problems + kubernetes_labels("node_selector", args.node_selector)


def operator_values(args: LwsOperatorArgs) -> dict[str, Any]:
    """Chart values: the controller on the given nodes, then the caller's extra values."""
    values: dict[str, Any] = {}
    if args.node_selector:
        values["nodeSelector"] = dict(args.node_selector)
    return {**values, **dict(args.values)}


class LwsOperator(pulumi.ComponentResource):
    """The LeaderWorkerSet CRD and controller (chart ``lws``). Pass an explicit Kubernetes provider in ``opts``;
    put this component in the ``depends_on`` of every LeaderWorkerSet.

    The chart is awaited like every ``helm.v4.Chart``: its Deployment must roll out before the
    component is done (pulumi-kubernetes awaits each object the chart renders).
    """

    namespace: str
    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: LwsOperatorArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems("LwsOperator", name, validate_lws_operator_args(args))
        super().__init__("gke-inference:workloads:LwsOperator", name, {}, opts)
        self.namespace = NAMESPACE
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "lws"}},
            opts=child_options(self, opts),
        )
        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            chart=CHART,
            version=args.chart_version,
            name=RELEASE,
            namespace=NAMESPACE,
            values=operator_values(args),
            opts=child_options(self, opts, depends_on=[ns]),
        )
        self.register_outputs({"namespace": NAMESPACE, "chartVersion": args.chart_version})

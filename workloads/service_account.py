"""The Kubernetes service account a pod uses to act as a Google service account (Workload Identity)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s


def workload_identity_service_account(
    resource_name: str,
    name: str,
    namespace: pulumi.Input[str],
    gcp_service_account: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.ServiceAccount:
    """A KSA annotated with its GSA; no API token is mounted (the pod needs Google APIs, not Kubernetes')."""
    return k8s.core.v1.ServiceAccount(
        resource_name,
        metadata={
            "name": name,
            "namespace": namespace,
            "annotations": {"iam.gke.io/gcp-service-account": gcp_service_account},
        },
        automount_service_account_token=False,
        opts=opts,
    )

"""Regenerate the trimmed Google API discovery documents in this folder.

Run with a Python that has ``google-api-python-client`` installed (it ships the discovery
documents offline under ``googleapiclient/discovery_cache/documents/``)::

    python3 -m venv /tmp/gapi && /tmp/gapi/bin/pip install google-api-python-client
    /tmp/gapi/bin/python infra/discovery/extract.py

Only the schema properties the create-time rules use are kept (``FIELDS``), each as Google wrote
it (description, pattern, enum), with the source file's revision, package version and SHA-256, so
the vendored files stay small and every rule's source can be checked.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

FIELDS: dict[str, list[str]] = {
    "storage.v1": [
        "Bucket.name", "Bucket.hierarchicalNamespace", "Bucket.versioning", "Bucket.softDeletePolicy",
        "Bucket.labels",
    ],
    "container.v1": [
        "Cluster.name", "Cluster.resourceLabels", "ReleaseChannel.channel",
        "MonitoringComponentConfig.enableComponents",
        "LoggingComponentConfig.enableComponents", "PodAutoscaling.hpaProfile", "NetworkConfig.datapathProvider",
        "PrivateClusterConfig.masterIpv4CidrBlock", "NodeConfig.labels", "NodeConfig.diskSizeGb",
        "NodeConfig.resourceLabels", "NodePoolAutoscaling.locationPolicy", "NodePoolAutoscaling.totalMinNodeCount",
        "NodePoolAutoscaling.minNodeCount", "NodePoolAutoscaling.maxNodeCount",
        "ReservationAffinity.consumeReservationType", "GPUSharingConfig.gpuSharingStrategy",
        "GPUDriverInstallationConfig.gpuDriverVersion", "WorkloadMetadataConfig.mode", "SecondaryBootDisk.mode",
        "SecondaryBootDisk.diskImage", "PlacementPolicy.type", "NodeTaint.effect", "UpgradeSettings.strategy",
        "EphemeralStorageLocalSsdConfig.localSsdCount", "QueuedProvisioning.enabled",
        "GatewayAPIConfig.channel",
    ],
    "compute.v1": [
        "Network.name", "NetworkRoutingConfig.routingMode", "Subnetwork.name", "Subnetwork.ipCidrRange",
        "SubnetworkSecondaryRange.rangeName", "SubnetworkSecondaryRange.ipCidrRange",
        "SubnetworkLogConfig.aggregationInterval", "SubnetworkLogConfig.flowSampling", "SubnetworkLogConfig.metadata",
        "Router.name", "RouterNat.name", "RouterNat.natIpAllocateOption", "RouterNat.sourceSubnetworkIpRangesToNat",
        "RouterNatLogConfig.filter", "ResourcePolicy.name", "ResourcePolicyGroupPlacementPolicy.collocation",
        "Subnetwork.purpose", "Subnetwork.role",
    ],
    "iam.v1": ["CreateServiceAccountRequest.accountId", "ServiceAccount.displayName"],
    "artifactregistry.v1": ["Repository.labels", "Repository.format", "Repository.mode"],
    "cloudresourcemanager.v3": ["Project.projectId"],
    "monitoring.v3": ["PrometheusQueryLanguageCondition.evaluationInterval", "AlertStrategy.autoClose"],
}
KEEP = ("description", "pattern", "enum", "type", "items", "format", "annotations", "additionalProperties")


def _trim(prop: dict) -> dict:
    out = {k: v for k, v in prop.items() if k in KEEP}
    if "properties" in prop:  # nested objects: keep their fields' descriptions, no deeper
        out["properties"] = {k: {kk: vv for kk, vv in v.items() if kk in KEEP and kk != "items"}
                             for k, v in prop["properties"].items()}
    if "items" in out:
        out["items"] = {k: v for k, v in out["items"].items() if k in ("type", "enum", "pattern")}
    return out


def main() -> None:
    import googleapiclient

    source = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    version = metadata.version("google-api-python-client")
    here = Path(__file__).parent
    for doc, fields in FIELDS.items():
        path = source / f"{doc}.json"
        raw = path.read_bytes()
        full = json.loads(raw)
        schemas: dict[str, dict] = {}
        for field in fields:
            schema, prop = field.split(".")
            schemas.setdefault(schema, {})[prop] = _trim(full["schemas"][schema]["properties"][prop])
        trimmed = {
            "provenance": {
                "package": f"google-api-python-client=={version}",
                "file": f"googleapiclient/discovery_cache/documents/{doc}.json",
                "sha256": hashlib.sha256(raw).hexdigest(),
                "revision": full.get("revision"),
                "documentationLink": full.get("documentationLink"),
                "note": "trimmed by infra/discovery/extract.py to the properties listed here",
            },
            "schemas": schemas,
        }
        (here / f"{doc}.json").write_text(json.dumps(trimmed, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

"""The values and patterns the components accept are ones Google's APIs accept (vendored discovery docs)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from infra import cluster, discovery, gpu_node_pool, identity, validation
from infra.discovery import HERE

ENUMS = [
    (cluster.RELEASE_CHANNELS, "container.v1", "ReleaseChannel.channel"),
    (cluster.MONITORING_COMPONENTS, "container.v1", "MonitoringComponentConfig.enableComponents"),
    (cluster.HPA_PROFILES, "container.v1", "PodAutoscaling.hpaProfile"),
    (gpu_node_pool.LOCATION_POLICIES, "container.v1", "NodePoolAutoscaling.locationPolicy"),
    (gpu_node_pool.RESERVATION_TYPES, "container.v1", "ReservationAffinity.consumeReservationType"),
    (gpu_node_pool.GPU_DRIVER_VERSIONS, "container.v1", "GPUDriverInstallationConfig.gpuDriverVersion"),
    (gpu_node_pool.GPU_SHARING_STRATEGIES, "container.v1", "GPUSharingConfig.gpuSharingStrategy"),
    (gpu_node_pool.WORKLOAD_METADATA_MODES, "container.v1", "WorkloadMetadataConfig.mode"),
    (tuple(t["effect"] for t in (gpu_node_pool.GPU_TAINT, gpu_node_pool.SPOT_TAINT)), "container.v1",
     "NodeTaint.effect"),
]


@pytest.mark.parametrize(("accepted", "doc", "field"), ENUMS, ids=[e[2] for e in ENUMS])
def test_accepted_values_are_in_the_discovery_enum(accepted, doc, field):
    assert set(accepted) <= discovery.enum(doc, field)


@pytest.mark.parametrize("field", ["Network.name", "Subnetwork.name", "Router.name", "RouterNat.name",
                                   "ResourcePolicy.name"])
def test_compute_name_pattern_is_googles(field):
    assert discovery.field("compute.v1", field)["pattern"] == validation.RFC1035


def test_service_account_id_rule_matches_iam_description():
    text = discovery.field("iam.v1", "CreateServiceAccountRequest.accountId")["description"]
    assert "must be 6-30 characters long" in text and "`[a-z]([-a-z0-9]*[a-z0-9])`" in text
    for account_id in ("abcdef", "a" * 30, "gke-dev-nodes"):
        assert identity.ACCOUNT_ID.match(account_id)
    for account_id in ("abcde", "a" * 31, "gke-dev-nodes-", "9nodes"):
        assert not identity.ACCOUNT_ID.match(account_id)


def test_display_name_limit_matches_iam_description():
    text = discovery.field("iam.v1", "ServiceAccount.displayName")["description"]
    assert f"maximum length is {identity.DISPLAY_NAME_MAX_BYTES} UTF-8 bytes" in text


def test_cluster_name_rule_matches_container_description():
    text = discovery.field("container.v1", "Cluster.name")["description"]
    assert "can be up to 40 characters" in text
    assert cluster.CLUSTER_NAME.match("a" * 40) and not cluster.CLUSTER_NAME.match("a" * 41)


def test_label_rules_match_artifact_registry_description():
    text = discovery.field("artifactregistry.v1", "Repository.labels")["description"]
    assert f"up to {validation.MAX_LABELS} entries" in text
    assert f"no longer than {validation.MAX_LABEL_LENGTH} characters" in text


def test_node_label_total_matches_container_description():
    text = discovery.field("container.v1", "NodeConfig.labels")["description"]
    assert f"{validation.K8S_LABELS_TOTAL_CHARACTERS:,} total characters" in text


def test_boot_disk_minimum_matches_container_description():
    text = discovery.field("container.v1", "NodeConfig.diskSizeGb")["description"]
    assert f"smallest allowed disk size is {gpu_node_pool.MIN_BOOT_DISK_GB} GB" in text


def test_project_id_rule_matches_resource_manager_description():
    text = discovery.field("cloudresourcemanager.v3", "Project.projectId")["description"]
    assert "6 to 30 lowercase ASCII letters, digits, or hyphens" in text
    assert re.match(validation.PROJECT_ID, "tokyo-rain-123")


@pytest.mark.parametrize("path", sorted(HERE.glob("*.json")), ids=lambda p: p.name)
def test_vendored_documents_carry_provenance_and_stay_small(path):
    document = json.loads(path.read_text())
    provenance = document["provenance"]
    assert provenance["package"].startswith("google-api-python-client==")
    assert re.fullmatch(r"[0-9a-f]{64}", provenance["sha256"])
    assert provenance["file"].endswith(path.name)
    assert path.stat().st_size < 20_000
    assert hashlib.sha256(path.read_bytes()).hexdigest() != provenance["sha256"]  # trimmed, not the whole file

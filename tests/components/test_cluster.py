"""GkeCluster: created mode (cluster + system pool + provider) and existing mode (provider only)."""

from __future__ import annotations

import json
from dataclasses import replace

from infra.cluster import (
    AuthorizedNetwork,
    ExistingClusterArgs,
    GkeCluster,
    GkeClusterArgs,
    SystemPoolArgs,
)

SA = "nodes@p-test.iam.gserviceaccount.com"
ENDPOINT = "203.0.113.10"  # what the render mocks return for a created cluster (stack/render.py)
CA = "LS0tLS1CRUdJTi1NT0NLLUNBLS0tLS0="

BASE = GkeClusterArgs(
    project="p-test",
    name="c1",
    location="us-central1",
    network="projects/p-test/global/networks/vpc",
    subnetwork="projects/p-test/regions/us-central1/subnetworks/vpc-us-central1",
    pods_range_name="pods",
    services_range_name="services",
    node_service_account=SA,
    master_authorized_networks=(AuthorizedNetwork("10.0.0.0/8", "corp-vpn"),),
    labels={"env": "test"},
)


def test_created_cluster_tree(recorder):
    rec = recorder.run(lambda: GkeCluster("gke", BASE))
    assert rec.tree() == {
        ("gke-inference:infra:GkeCluster", "gke", None),
        ("gcp:container/cluster:Cluster", "gke-cluster", "gke"),
        ("gcp:container/nodePool:NodePool", "gke-system", "gke"),
        ("pulumi:providers:kubernetes", "gke-k8s", "gke"),
    }


def test_created_cluster_exact_inputs(recorder):
    inputs = recorder.run(lambda: GkeCluster("gke", BASE)).inputs("gke-cluster")
    assert inputs == {
        "project": "p-test",
        "name": "c1",
        "location": "us-central1",
        "network": "projects/p-test/global/networks/vpc",
        "subnetwork": "projects/p-test/regions/us-central1/subnetworks/vpc-us-central1",
        "networkingMode": "VPC_NATIVE",
        "datapathProvider": "ADVANCED_DATAPATH",
        "ipAllocationPolicy": {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"},
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        "deletionProtection": True,
        "releaseChannel": {"channel": "REGULAR"},
        "workloadIdentityConfig": {"workloadPool": "p-test.svc.id.goog"},
        "enableShieldedNodes": True,
        "enableLegacyAbac": False,
        "masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}},
        "privateClusterConfig": {
            "enablePrivateNodes": True,
            "enablePrivateEndpoint": False,
            "masterIpv4CidrBlock": "172.16.0.0/28",
            "masterGlobalAccessConfig": {"enabled": True},
        },
        "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.0.0.0/8", "displayName": "corp-vpn"}]},
        "addonsConfig": {
            "gcsFuseCsiDriverConfig": {"enabled": True},
            "gcpFilestoreCsiDriverConfig": {"enabled": True},
            "gcePersistentDiskCsiDriverConfig": {"enabled": True},
        },
        "monitoringConfig": {
            "enableComponents": ["SYSTEM_COMPONENTS", "DCGM"],
            "managedPrometheus": {"enabled": True},
        },
        "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
        "nodePoolDefaults": {"nodeConfigDefaults": {"gcfsConfig": {"enabled": True}}},
        "podAutoscaling": {"hpaProfile": "PERFORMANCE"},
        "resourceLabels": {"env": "test"},
    }


def test_cluster_options_flow_through(recorder):
    args = replace(
        BASE,
        release_channel="STABLE",
        min_master_version="1.33",
        private_nodes=False,
        deletion_protection=False,
        managed_prometheus=False,
        monitoring_components=("SYSTEM_COMPONENTS",),
        network_policy=False,
        hpa_profile="NONE",
        master_authorized_networks=(),
        labels={},
    )
    inputs = recorder.run(lambda: GkeCluster("gke", args)).inputs("gke-cluster")
    assert inputs["releaseChannel"] == {"channel": "STABLE"}
    assert inputs["minMasterVersion"] == "1.33"
    # No control-plane /28 without private nodes.
    assert inputs["privateClusterConfig"] == {
        "enablePrivateNodes": False,
        "enablePrivateEndpoint": False,
        "masterGlobalAccessConfig": {"enabled": True},
    }
    assert inputs["deletionProtection"] is False
    assert inputs["monitoringConfig"] == {
        "enableComponents": ["SYSTEM_COMPONENTS"],
        "managedPrometheus": {"enabled": False},
    }
    assert inputs["datapathProvider"] == "LEGACY_DATAPATH"
    assert inputs["podAutoscaling"] == {"hpaProfile": "NONE"}
    assert inputs["masterAuthorizedNetworksConfig"] == {"cidrBlocks": []}
    assert "resourceLabels" not in inputs


def test_system_pool_replaces_the_default_pool(recorder):
    args = replace(
        BASE, system_pool=SystemPoolArgs(machine_type="e2-standard-8", min_nodes=2, max_nodes=5, disk_size_gb=80)
    )
    inputs = recorder.run(lambda: GkeCluster("gke", args)).inputs("gke-system")
    assert inputs == {
        "project": "p-test",
        "cluster": "gke-cluster-id",
        "location": "us-central1",
        "name": "system",
        "autoscaling": {"minNodeCount": 2, "maxNodeCount": 5},
        "management": {"autoRepair": True, "autoUpgrade": True},
        "nodeConfig": {
            "machineType": "e2-standard-8",
            "diskSizeGb": 80,
            "diskType": "pd-balanced",
            "imageType": "COS_CONTAINERD",
            "serviceAccount": SA,
            "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workloadMetadataConfig": {"mode": "GKE_METADATA"},
            "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
            "metadata": {"disable-legacy-endpoints": "true"},
            "labels": {"gke-inference/role": "system"},
            "resourceLabels": {"env": "test"},
        },
    }


def test_provider_uses_an_exec_plugin_kubeconfig_kept_secret(recorder):
    rec = recorder.run(lambda: GkeCluster("gke", BASE))
    cluster = rec.value
    provider = rec.named("gke-k8s")
    # Provider inputs are strings on the wire; the kubeconfig stays masked in the recording.
    assert provider["inputs"] == {"kubeconfig": "[secret]", "enableServerSideApply": "true"}
    assert rec.is_secret(cluster.kubeconfig)
    kubeconfig = json.loads(rec.resolve(cluster.kubeconfig))
    assert kubeconfig["clusters"] == [
        {"name": "c1", "cluster": {"server": f"https://{ENDPOINT}", "certificate-authority-data": CA}}
    ]
    assert kubeconfig["current-context"] == "c1"
    assert kubeconfig["users"] == [
        {
            "name": "c1",
            "user": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "gke-gcloud-auth-plugin",
                    "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
                    "provideClusterInfo": True,
                }
            },
        }
    ]
    assert "token" not in json.dumps(kubeconfig) and "password" not in json.dumps(kubeconfig)


def test_outputs(recorder):
    rec = recorder.run(lambda: GkeCluster("gke", BASE))
    cluster = rec.value
    assert rec.resolve(cluster.name) == "c1"
    assert rec.resolve(cluster.location) == "us-central1"
    assert rec.resolve(cluster.endpoint) == ENDPOINT
    assert rec.resolve(cluster.cluster_id) == "gke-cluster-id"
    assert cluster.workload_pool == "p-test.svc.id.goog"


def test_existing_mode_creates_only_a_provider(recorder):
    recorder.call_results["gcp:container/getCluster:getCluster"] = {
        "id": "projects/p-test/locations/europe-west4/clusters/shared",
        "endpoint": "198.51.100.7",
        "masterAuths": [{"clusterCaCertificate": "Q0EtRVhJU1RJTkc="}],
    }
    rec = recorder.run(
        lambda: GkeCluster("gke", ExistingClusterArgs(project="p-test", name="shared", location="europe-west4"))
    )
    assert rec.tree() == {
        ("gke-inference:infra:GkeCluster", "gke", None),
        ("pulumi:providers:kubernetes", "gke-k8s", "gke"),
    }
    assert rec.calls == [
        ("gcp:container/getCluster:getCluster", {"name": "shared", "location": "europe-west4", "project": "p-test"})
    ]
    cluster = rec.value
    assert rec.resolve(cluster.cluster_id) == "projects/p-test/locations/europe-west4/clusters/shared"
    assert rec.resolve(cluster.name) == "shared"
    kubeconfig = json.loads(rec.resolve(cluster.kubeconfig))
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": "https://198.51.100.7",
        "certificate-authority-data": "Q0EtRVhJU1RJTkc=",
    }
    assert rec.is_secret(cluster.kubeconfig)
    assert cluster.workload_pool == "p-test.svc.id.goog"


# -- refused arguments: one test per rule, nothing registered ---------------------------------------


def test_cluster_name_rule(recorder):
    assert recorder.refused(lambda: GkeCluster("gke", replace(BASE, name="C1"))) == [
        ("name", "'C1' is not a GKE cluster name: up to 40 lowercase letters, digits and hyphens, starting with a "
                 "letter and ending with a letter or digit")
    ]
    existing = ExistingClusterArgs(project="p-test", name="c" * 41, location="us-central1")
    assert [p for p, _ in recorder.refused(lambda: GkeCluster("gke", existing))] == ["name"]


def test_monitoring_components(recorder):
    args = replace(BASE, monitoring_components=("DCGM", "GPU"), managed_prometheus=False)
    assert recorder.refused(lambda: GkeCluster("gke", args)) == [
        ("monitoring_components.1", "'GPU' is not one of SYSTEM_COMPONENTS, APISERVER, SCHEDULER, CONTROLLER_MANAGER, "
                                    "STORAGE, HPA, POD, DAEMONSET, DEPLOYMENT, STATEFULSET, KUBELET, CADVISOR, DCGM, "
                                    "JOBSET"),
        ("monitoring_components", "must include SYSTEM_COMPONENTS (GKE rejects the list otherwise)"),
        ("monitoring_components", "DCGM, which exports through Managed Prometheus: set managed_prometheus true or "
                                  "drop DCGM"),
    ]


def test_private_ranges_and_endpoint(recorder):
    assert recorder.refused(lambda: GkeCluster("gke", replace(BASE, master_ipv4_cidr="172.16.0.0/27"))) == [
        ("master_ipv4_cidr", "172.16.0.0/27 is a /27; the control plane's private range must be a /28")
    ]
    public = replace(BASE, private_nodes=False, private_endpoint=True)
    assert recorder.refused(lambda: GkeCluster("gke", public)) == [
        ("private_endpoint", "a private endpoint needs private_nodes (it applies to private clusters only)")
    ]


def test_channel_version_profile_and_system_pool(recorder):
    args = replace(BASE, release_channel="NIGHTLY", min_master_version="latest", hpa_profile="FAST",
                   system_pool=SystemPoolArgs(min_nodes=3, max_nodes=2), labels={"env": "Test"})
    assert recorder.refused(lambda: GkeCluster("gke", args)) == [
        ("release_channel", "'NIGHTLY' is not one of RAPID, REGULAR, STABLE, EXTENDED"),
        ("min_master_version", "'latest' is not a GKE version like 1.33 or 1.33.5-gke.1014000"),
        ("hpa_profile", "'FAST' is not one of PERFORMANCE, NONE"),
        ("system_pool.min_nodes", "system_pool.min_nodes (3) must be ≤ system_pool.max_nodes (2)"),
        ("labels.env", "label value 'Test' must be 0–63 lowercase letters, digits, '_' or '-'"),
    ]


def test_wrong_nested_type_is_named(recorder):
    args = replace(BASE, system_pool={"min_nodes": 1}, master_authorized_networks=("10.0.0.0/8",))
    assert recorder.refused(lambda: GkeCluster("gke", args)) == [
        ("master_authorized_networks.0", "expected AuthorizedNetwork, got str '10.0.0.0/8': build it with "
                                         "AuthorizedNetwork(...)"),
        ("system_pool", "expected SystemPoolArgs, got dict {'min_nodes': 1}: build it with SystemPoolArgs(...)"),
    ]

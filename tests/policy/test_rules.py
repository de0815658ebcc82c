"""Every rule passes the known-good stack and fails on a targeted bad input, naming rule and field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy.rules import RESOURCE_RULES, STACK_RULES, check_resource, check_stack
from tests.policy.conftest import GOOD_DEPLOYMENT, container, resource
from tests.policy.test_gateway_rules import GATEWAY_RULE_CASES

_DELETE = object()


def mutate(inputs: dict[str, Any], path: str, value: Any) -> None:
    """Set (or delete, with _DELETE) a dotted path; ``[i]`` indexes lists."""
    parts = path.replace("[", ".[").split(".")
    node: Any = inputs
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
    last = parts[-1]
    key: Any = int(last[1:-1]) if last.startswith("[") else last
    if value is _DELETE:
        del node[key]
    else:
        node[key] = value


def test_good_stack_passes_every_rule(good_stack):
    assert check_stack(good_stack) == []


# (resource in good_stack, path to change, new value, rule expected to fire, field it names)
BAD_CASES = [
    ("gke-cluster", "privateClusterConfig.enablePrivateNodes", False, "gke-private-nodes",
     "privateClusterConfig.enablePrivateNodes"),
    ("gke-cluster", "privateClusterConfig", _DELETE, "gke-private-nodes", "privateClusterConfig.enablePrivateNodes"),
    ("gke-cluster", "workloadIdentityConfig", _DELETE, "gke-workload-identity", "workloadIdentityConfig.workloadPool"),
    ("gke-cluster", "workloadIdentityConfig.workloadPool", "gke-inference-prod", "gke-workload-identity",
     "workloadIdentityConfig.workloadPool"),
    ("gke-cluster", "enableLegacyAbac", True, "gke-no-legacy-abac", "enableLegacyAbac"),
    ("gke-cluster", "masterAuth.clientCertificateConfig.issueClientCertificate", True, "gke-no-static-credentials",
     "masterAuth.clientCertificateConfig.issueClientCertificate"),
    ("gke-cluster", "masterAuth.username", "admin", "gke-no-static-credentials", "masterAuth.username"),
    ("gke-cluster", "masterAuth.password", "hunter2hunter2hunter2", "gke-no-static-credentials", "masterAuth.password"),
    ("gke-cluster", "releaseChannel", _DELETE, "gke-release-channel", "releaseChannel.channel"),
    ("gke-cluster", "releaseChannel.channel", "UNSPECIFIED", "gke-release-channel", "releaseChannel.channel"),
    ("gke-cluster", "datapathProvider", "LEGACY_DATAPATH", "gke-network-policy", "datapathProvider"),
    ("gke-cluster", "enableShieldedNodes", False, "gke-shielded-nodes", "enableShieldedNodes"),
    ("h100-pool", "nodeConfig.shieldedInstanceConfig.enableSecureBoot", False, "nodepool-gpu-secure-boot",
     "nodeConfig.shieldedInstanceConfig.enableSecureBoot"),
    ("h100-pool", "nodeConfig.shieldedInstanceConfig", _DELETE, "nodepool-gpu-secure-boot",
     "nodeConfig.shieldedInstanceConfig.enableSecureBoot"),
    ("h100-pool", "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", False, "nodepool-gpu-secure-boot",
     "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring"),
    ("h100-pool", "nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA", "nodepool-gke-metadata",
     "nodeConfig.workloadMetadataConfig.mode"),
    ("h100-pool", "nodeConfig.serviceAccount", _DELETE, "nodepool-no-default-sa", "nodeConfig.serviceAccount"),
    ("h100-pool", "nodeConfig.serviceAccount", "default", "nodepool-no-default-sa", "nodeConfig.serviceAccount"),
    ("h100-pool", "nodeConfig.serviceAccount", "123456789012-compute@developer.gserviceaccount.com",
     "nodepool-no-default-sa", "nodeConfig.serviceAccount"),
    ("h100-pool", "nodeConfig.taints", [], "nodepool-gpu-taint", "nodeConfig.taints"),
    ("h100-pool", "nodeConfig.taints", [{"key": "nvidia.com/gpu", "value": "present", "effect": "PREFER_NO_SCHEDULE"}],
     "nodepool-gpu-taint", "nodeConfig.taints"),
    ("models-bucket", "uniformBucketLevelAccess", False, ("bucket-uniform-access", "bucket-hns-create-rules"),
     "uniformBucketLevelAccess"),
    ("models-bucket", "publicAccessPrevention", "inherited", "bucket-public-access-prevention",
     "publicAccessPrevention"),
    ("models-bucket", "versioning.enabled", True, "bucket-hns-create-rules", "versioning.enabled"),
    ("models-bucket", "softDeletePolicy.retentionDurationSeconds", 0, "bucket-recoverable",
     "softDeletePolicy.retentionDurationSeconds"),
    ("models-bucket", "softDeletePolicy", _DELETE, "bucket-recoverable", "softDeletePolicy.retentionDurationSeconds"),
    ("models-reader", "member", "allUsers", "iam-no-public-members", "member"),
    ("models-reader", "member", "allAuthenticatedUsers", "iam-no-public-members", "member"),
    ("models-reader", "role", "roles/editor", "iam-no-primitive-roles", "role"),
    ("models-reader", "role", "roles/owner", "iam-no-primitive-roles", "role"),
    ("models-reader", "role", "roles/viewer", "iam-no-primitive-roles", "role"),
    ("vllm", "spec.template.spec.containers[0].securityContext", {"privileged": True}, "k8s-no-privileged",
     "spec.template.spec.containers[0].securityContext.privileged"),
    ("vllm", "spec.template.spec.containers[0].resources.limits", {}, "k8s-serving-resources-probes",
     "spec.template.spec.containers[0].resources.limits"),
    ("vllm", "spec.template.spec.containers[0].resources", _DELETE, "k8s-serving-resources-probes",
     ("spec.template.spec.containers[0].resources.requests", "spec.template.spec.containers[0].resources.limits")),
    ("vllm", "spec.template.spec.containers[0].readinessProbe", _DELETE, "k8s-serving-resources-probes",
     "spec.template.spec.containers[0].readinessProbe"),
    ("vllm", "spec.template.spec.containers[0].livenessProbe", _DELETE, "k8s-serving-resources-probes",
     "spec.template.spec.containers[0].livenessProbe"),
    ("vllm", "spec.template.spec.containers[0].image", "vllm/vllm-openai:v0.32.0", "k8s-image-digest",
     "spec.template.spec.containers[0].image"),
    ("vllm", "spec.template.spec.containers[0].image", "vllm/vllm-openai@sha256:abc", "k8s-image-digest",
     "spec.template.spec.containers[0].image"),
    ("vllm", "spec.template.spec.initContainers", [container(name="fetch", image="busybox:1.37", ports=[])],
     "k8s-image-digest", "spec.template.spec.initContainers[0].image"),
    ("vllm", "spec.template.spec.containers[0].env[1]", {"name": "HF_TOKEN", "value": "plain"},
     "k8s-no-secret-literals", "spec.template.spec.containers[0].env[1].value"),
    ("vllm", "spec.template.spec.containers[0].env[1]", {"name": "VLLM_API_KEY", "value": "[secret]"},
     "k8s-no-secret-literals", "spec.template.spec.containers[0].env[1].value"),
    ("vllm", "spec.template.spec.containers[0].env[1]", {"name": "EXTRA", "value": "hf_" + "a1B2" * 9},
     "k8s-no-secret-literals", "spec.template.spec.containers[0].env[1].value"),
    ("vllm", "spec.template.spec.containers[0].args[2]", "--api-key=letmein", "k8s-no-secret-literals",
     "spec.template.spec.containers[0].args[2]"),
    ("vllm-hpa", "spec.behavior", _DELETE, "k8s-hpa-behavior", ("spec.behavior.scaleUp", "spec.behavior.scaleDown")),
    ("vllm-hpa", "spec.behavior.scaleDown", _DELETE, "k8s-hpa-behavior", "spec.behavior.scaleDown"),
]


@pytest.mark.parametrize("name,path,value,rule,field", BAD_CASES, ids=[f"{c[3]}:{c[1]}" for c in BAD_CASES])
def test_bad_input_is_reported(good_stack, name, path, value, rule, field):
    target = next(r for r in good_stack if r["name"] == name)
    mutate(target["inputs"], path, value)
    violations = check_stack(good_stack)
    fields = field if isinstance(field, tuple) else (field,)
    rules = rule if isinstance(rule, tuple) else (rule,)
    assert [(v.rule, v.resource, v.field) for v in violations] == [(r, name, f) for r in rules for f in fields]
    assert all(v.message for v in violations)  # each says how to fix


def test_every_rule_has_a_bad_case():
    tested = {r for case in BAD_CASES for r in (case[3] if isinstance(case[3], tuple) else (case[3],))}
    tested |= {"iam-non-authoritative", "k8s-pdb-for-replicated-serving"}
    tested |= set(GATEWAY_RULE_CASES)  # tests/policy/test_gateway_rules.py
    assert tested == {r.name for r in RESOURCE_RULES} | set(STACK_RULES)


@pytest.mark.parametrize("token,suggested", [
    ("gcp:storage/bucketIAMBinding:BucketIAMBinding", "BucketIAMMember"),
    ("gcp:projects/iAMPolicy:IAMPolicy", "IAMMember"),
    ("gcp:storage/managedFolderIamBinding:ManagedFolderIamBinding", "ManagedFolderIamMember"),
    ("gcp:serviceaccount/iAMPolicy:IAMPolicy", "IAMMember"),
])
def test_authoritative_iam_is_rejected(token, suggested):
    violations = check_resource(token, "grant", {"role": "roles/storage.objectViewer", "members": ["user:a@b.c"]})
    assert [(v.rule, v.field) for v in violations] == [("iam-non-authoritative", "type")]
    assert suggested in violations[0].message


def test_non_authoritative_iam_members_pass():
    for token in ("gcp:projects/iAMMember:IAMMember", "gcp:serviceaccount/iAMMember:IAMMember",
                  "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"):
        assert check_resource(token, "grant", {"role": "roles/logging.logWriter", "member": "serviceAccount:x"}) == []


def test_public_member_inside_a_binding_list_is_reported():
    violations = check_resource("gcp:storage/bucketIAMBinding:BucketIAMBinding", "b",
                                {"role": "roles/storage.objectViewer", "members": ["user:a@b.c", "allUsers"]})
    assert sorted(v.rule for v in violations) == ["iam-no-public-members", "iam-non-authoritative"]


def test_cpu_pool_needs_no_gpu_taint_or_secure_boot(good_stack):
    pool = copy.deepcopy(next(r for r in good_stack if r["name"] == "h100-pool")["inputs"])
    pool["nodeConfig"].update(machineType="e2-standard-8", guestAccelerators=[], taints=[], shieldedInstanceConfig={})
    assert check_resource("gcp:container/nodePool:NodePool", "system", pool) == []


def test_accelerator_optimized_machine_counts_as_gpu_pool_without_guest_accelerators(good_stack):
    pool = copy.deepcopy(next(r for r in good_stack if r["name"] == "h100-pool")["inputs"])
    pool["nodeConfig"].update(machineType="g2-standard-8", taints=[])
    del pool["nodeConfig"]["guestAccelerators"]
    assert [v.rule for v in check_resource("gcp:container/nodePool:NodePool", "l4", pool)] == ["nodepool-gpu-taint"]


def test_calico_network_policy_is_accepted(good_stack):
    cluster = next(r for r in good_stack if r["name"] == "gke-cluster")["inputs"]
    del cluster["datapathProvider"]
    cluster["networkPolicy"] = {"enabled": True, "provider": "CALICO"}
    assert check_stack(good_stack) == []


def test_probes_not_required_on_portless_sidecars_or_jobs(good_stack):
    deployment = next(r for r in good_stack if r["name"] == "vllm")["inputs"]
    sidecar = container(name="log-shipper", ports=[])
    del sidecar["readinessProbe"], sidecar["livenessProbe"]
    deployment["spec"]["template"]["spec"]["containers"].append(sidecar)
    job = copy.deepcopy(GOOD_DEPLOYMENT)
    job.update(apiVersion="batch/v1", kind="Job")
    job["spec"] = {"template": {"spec": {"restartPolicy": "Never", "containers": [container(resources={})]}}}
    good_stack.append(resource("kubernetes:batch/v1:Job", "batch", job))
    assert check_stack(good_stack) == []


def test_rules_see_leaderworkerset_and_cronjob_pod_templates():
    pod = {"containers": [container(image="vllm/vllm-openai:latest")]}
    lws = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "metadata": {"name": "big"},
           "spec": {"leaderWorkerTemplate": {"size": 2, "leaderTemplate": {"spec": pod},
                                             "workerTemplate": {"spec": pod}}}}
    fields = [v.field for v in check_resource("kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet", "big", lws)]
    assert fields == ["spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].image",
                      "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].image"]
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}
    fields = [v.field for v in check_resource("kubernetes:batch/v1:CronJob", "c", cron)]
    assert fields == ["spec.jobTemplate.spec.template.spec.containers[0].image"]


def test_env_value_from_and_harmless_literals_pass():
    ok = container(env=[
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
        {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
        {"name": "MAX_TOKENS", "value": "4096"},
        {"name": "HF_HUB_OFFLINE", "value": "1"},
    ], args=["--api-key", "$(VLLM_API_KEY)"])
    deployment = copy.deepcopy(GOOD_DEPLOYMENT)
    deployment["spec"]["template"]["spec"]["containers"] = [ok]
    assert check_resource("kubernetes:apps/v1:Deployment", "vllm", deployment) == []


def test_keda_scaled_object_needs_behavior():
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "vllm"},
              "spec": {"scaleTargetRef": {"name": "vllm"}, "triggers": []}}
    fields = [v.field for v in check_resource("kubernetes:keda.sh/v1alpha1:ScaledObject", "so", scaled)]
    assert fields == ["spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp",
                      "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown"]


# -- stack-level PDB rule ----------------------------------------------------------------------


def _without(stack, name):
    return [r for r in stack if r["name"] != name]


def test_missing_pdb_is_reported_for_replicated_serving(good_stack):
    violations = check_stack(_without(good_stack, "vllm-pdb"))
    assert [(v.rule, v.resource, v.field) for v in violations] == [
        ("k8s-pdb-for-replicated-serving", "Deployment/llm/vllm", "PodDisruptionBudget")]


def test_pdb_must_select_the_pods_in_the_same_namespace(good_stack):
    pdb = next(r for r in good_stack if r["name"] == "vllm-pdb")["inputs"]
    pdb["spec"]["selector"]["matchLabels"] = {"app": "other"}
    assert [v.rule for v in check_stack(good_stack)] == ["k8s-pdb-for-replicated-serving"]
    pdb["spec"]["selector"]["matchLabels"] = {"app": "vllm"}
    pdb["metadata"]["namespace"] = "default"
    assert [v.rule for v in check_stack(good_stack)] == ["k8s-pdb-for-replicated-serving"]


def test_single_replica_without_autoscaler_needs_no_pdb(good_stack):
    stack = _without(_without(good_stack, "vllm-pdb"), "vllm-hpa")
    next(r for r in stack if r["name"] == "vllm")["inputs"]["spec"]["replicas"] = 1
    assert check_stack(stack) == []


def test_autoscaled_single_replica_still_needs_a_pdb(good_stack):
    stack = _without(good_stack, "vllm-pdb")
    next(r for r in stack if r["name"] == "vllm")["inputs"]["spec"]["replicas"] = 1
    assert [v.rule for v in check_stack(stack)] == ["k8s-pdb-for-replicated-serving"]
    hpa = next(r for r in stack if r["name"] == "vllm-hpa")["inputs"]
    hpa["spec"]["maxReplicas"] = 1
    assert check_stack(stack) == []


def test_flat_bucket_is_recoverable_through_versioning_or_soft_delete(good_stack):
    bucket = next(r for r in good_stack if r["name"] == "models-bucket")
    bucket["inputs"].update(hierarchicalNamespace={"enabled": False}, versioning={"enabled": True},
                            softDeletePolicy={"retentionDurationSeconds": 0})
    assert check_stack(good_stack) == []
    bucket["inputs"]["versioning"] = {"enabled": False}
    assert [(v.rule, v.field) for v in check_stack(good_stack)] == [("bucket-recoverable", "versioning.enabled")]


def test_hns_rule_reads_the_same_pair_the_component_refuses():
    """The policy and ModelBucket agree: the component never renders what the policy refuses."""
    from infra.storage import ModelBucketArgs, validate_model_bucket_args

    args = ModelBucketArgs(project="p-test", name="p-test-models", location="us-central1", versioning=True)
    assert [p.property_path for p in validate_model_bucket_args(args)] == ["versioning"]
    inputs = {"hierarchicalNamespace": {"enabled": True}, "versioning": {"enabled": True},
              "uniformBucketLevelAccess": True}
    assert [v.field for v in check_resource("gcp:storage/bucket:Bucket", "b", inputs)
            if v.rule == "bucket-hns-create-rules"] == ["versioning.enabled"]

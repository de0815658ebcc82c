"""``stack.render.clean_value``: what the mock engine hands over becomes what render writes."""

from __future__ import annotations

from stack.render import SECRET_MASK, SECRET_SIG_KEY, clean_value

SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's secret signature (reference/pulumi-mocks-render.md)


def secret(value):
    return {SECRET_SIG_KEY: SIG_VALUE, "value": value}


def test_integral_floats_become_ints_recursively():
    assert clean_value({"count": 16.0, "ratio": 0.5, "list": [1.0, 2.5, {"n": 3.0}]}) == {
        "count": 16,
        "ratio": 0.5,
        "list": [1, 2.5, {"n": 3}],
    }
    assert type(clean_value(200.0)) is int


def test_none_values_are_dropped():
    assert clean_value({"a": None, "b": {"c": None, "d": False}}) == {"b": {"d": False}}


def test_secret_scalar_is_masked():
    assert clean_value({"kubeconfig": secret('{"users": [{"token": "t0p"}]}')}) == {"kubeconfig": SECRET_MASK}


def test_secret_mapping_keeps_its_shape():
    # A Kubernetes Secret's stringData must stay a mapping for schema validation; only values are masked.
    assert clean_value({"stringData": secret({"token": "hf_abc", "key": "sk-1"})}) == {
        "stringData": {"token": SECRET_MASK, "key": SECRET_MASK}
    }
    assert clean_value(secret(["a", {"b": "c"}])) == [SECRET_MASK, {"b": SECRET_MASK}]


def test_secret_values_never_survive():
    cleaned = repr(clean_value({"a": [secret("hf_abc")], "b": secret({"x": secret("sk-1")})}))
    assert "hf_abc" not in cleaned and "sk-1" not in cleaned and SIG_VALUE not in cleaned


def test_manifest_filenames_are_portable():
    from stack.render import manifest_filename

    binding = {"kind": "ClusterRoleBinding", "metadata": {"name": "custom-metrics:system:auth-delegator"}}
    assert manifest_filename(2, binding) == "002-clusterrolebinding-custom-metrics_system_auth-delegator.yaml"
    service = {"kind": "Service", "metadata": {"namespace": "llm", "name": "vllm"}}
    assert manifest_filename(28, service) == "028-service-llm-vllm.yaml"

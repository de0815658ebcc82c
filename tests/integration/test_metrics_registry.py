"""Every vLLM metric the platform scales, scrapes, charts or alerts on exists on a real vLLM
server's /metrics with the registered type and labels (vLLM 0.32, CPU build)."""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.integration.test_serving import call
from workloads.metrics import VLLM_METRICS

pytestmark = pytest.mark.integration

REMOVED_IN_VLLM_0_32 = ("vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds")
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


@pytest.fixture(scope="module")
def exposition(vllm_server) -> str:
    # One finished request, so every counter and histogram has samples for this model.
    status, body = call(vllm_server, "/v1/completions", {
        "model": vllm_server.served_model_name, "prompt": "metrics", "max_tokens": 4, "ignore_eos": True,
    })
    assert status == 200, body
    with urllib.request.urlopen(f"{vllm_server.base_url}/metrics", timeout=10) as response:
        return response.read().decode()


def families(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := _TYPE_LINE.match(line))}


def sample_labels(text: str, name: str) -> set[str]:
    labels: set[str] = set()
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and m.group(1) in (name, f"{name}_bucket", f"{name}_count", f"{name}_sum"):
            labels |= {pair.split("=", 1)[0] for pair in m.group(2).split(",") if "=" in pair}
    return labels


@pytest.mark.parametrize("metric", VLLM_METRICS, ids=lambda m: m.name)
def test_registered_vllm_metric_exists_with_its_type_and_labels(exposition, metric):
    declared = families(exposition)
    # prometheus_client in vLLM 0.32's environment declares counters by their sample name (`*_total`);
    # older clients declared the family without the suffix. Either way the type must match.
    declared_as = metric.name if metric.name in declared else metric.family
    assert declared_as in declared, f"{metric.name} is not on /metrics of vLLM 0.32"
    assert declared[declared_as] == metric.type
    assert set(metric.labels) <= sample_labels(exposition, metric.name), metric.labels


def test_samples_carry_the_served_model_name(exposition, vllm_server):
    assert f'model_name="{vllm_server.served_model_name}"' in exposition


def test_names_removed_from_vllm_are_not_exposed(exposition):
    declared = families(exposition)
    for name in REMOVED_IN_VLLM_0_32:
        assert name not in declared

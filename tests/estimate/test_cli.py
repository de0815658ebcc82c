"""``gke-infer estimate`` and ``gke-infer simulate`` end to end (in-process ``main``)."""

from __future__ import annotations

import json

import pytest

from stack.cli import main


def test_estimate_prod_json(capsys):
    assert main(["estimate", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    terms = document["coldStart"]["terms"]
    assert [t["name"] for t in terms][:3] == ["cluster autoscaler", "GPU node create", "GPU driver install"]
    assert all(t["source"] and t["assumption"] for t in terms)
    assert document["coldStart"]["totalSeconds"] == pytest.approx(sum(t["seconds"] for t in terms), abs=0.1)
    cost = document["cost"]
    assert cost["replicas"] == {"min": 6, "max": 10}
    assert set(cost["total"]["hourly"]) == {"min", "max"} and set(cost["total"]["monthly"]) == {"min", "max"}
    assert cost["total"]["monthly"]["max"] == pytest.approx(cost["total"]["hourly"]["max"] * 730, abs=0.01)
    pool = next(line for line in cost["lines"] if line["item"] == "pool h100")
    assert pool["nodes"] == {"min": 2, "max": 4}
    assert pool["nodeHourly"]["onDemand"] > pool["nodeHourly"]["spot"] > 0
    assert cost["dollarsPerMillionOutputTokens"]["onDemand"] > 0


def test_estimate_table(capsys):
    assert main(["estimate", "dev", "--set", "model.weights.backend=runaiStreamer"]) == 0
    out = capsys.readouterr().out
    assert "weights: runaiStreamer" in out and "startupProbe window" in out
    assert "$ per million output tokens" in out


def test_estimate_with_report(tmp_path, capsys):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"output_throughput": 1800, "max_concurrency": 48}))
    assert main(["estimate", "dev", "--report", str(report), "--json"]) == 0
    throughput = json.loads(capsys.readouterr().out)["cost"]["throughput"]
    assert throughput["output_tokens_per_second"] == 1800 and throughput["concurrency"] == 48


def test_estimate_bad_input_exits_2(tmp_path, capsys):
    assert main(["estimate", "prod", "--set", "planning.slo.ttftSeconds=-1"]) == 2
    assert "platform.planning.slo.ttftSeconds" in capsys.readouterr().err
    assert main(["estimate", "prod", "--report", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_simulate_prod_burst_prints_presets_and_writes_a_png(tmp_path, capsys):
    assert main(["simulate", "prod", "--pattern", "burst", "--duration", "900", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for preset in (
        "stack: HPA",
        "k8s defaults",
        "Helm-style: HPA cpu>80%",
        "KEDA min 0, pod-metric",
        "KEDA min 0, gateway",
    ):
        assert preset in out
    png = tmp_path / "simulate-burst.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    document = json.loads((tmp_path / "simulate-burst.json").read_text())
    assert len(document["ranking"]) == 7 and document["seed"] == 1
    assert document["limits"][0]["preset"] == "limit: static peak (10 replicas)"
    assert document["notApplicable"][0]["reason"].startswith("Pod snapshots restore single-GPU pods only")
    assert document["ranking"][0]["startup"] is not None and "dominatedBy" in document["ranking"][0]


def test_simulate_trace_json(tmp_path, capsys):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(json.dumps({"t": i * 0.5, "output_tokens": 100}) for i in range(600)))
    assert main(["simulate", "dev", "--trace", str(trace), "--json", "--out", str(tmp_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["durationSeconds"] == 300.0
    assert all(row["requests"] == 600 for row in document["ranking"])
    assert (tmp_path / "simulate-trace.png").exists()


def test_simulate_bad_trace_exits_2(tmp_path, capsys):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("not json\n")
    assert main(["simulate", "dev", "--trace", str(trace), "--out", str(tmp_path)]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_simulate_notes_a_keda_target_stuck_at_zero(tmp_path, capsys):
    argv = ["simulate", "dev", "--set", "autoscaling.mode=keda", "--set",
            "autoscaling.metrics=[{metric: queue, target: 5}]", "--pattern", "poisson", "--duration", "1800"]
    assert main([*argv, "--json", "--out", str(tmp_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    stuck = [n for n in document["notes"] if "ended at 0 replicas" in n]
    # the stack preset, its KEDA twin and the stack's two headroom variants (a buffer does not wake KEDA)
    assert len(stuck) == 4 and stuck[0].startswith("stack: KEDA queue>5")
    rows = {r["preset"]: r for r in document["ranking"]}
    assert rows["KEDA min 0, gateway queue + in-flight activation"]["unserved"] == 0


def test_estimate_prod_start_options_and_headroom_cost(capsys):
    from stack.plan.estimate import machine_price
    from stack.render import load_stack_config

    assert main(["estimate", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    starts = {option["start"]: option for option in document["startOptions"]}
    new, buffer = starts["new node"], starts["active buffer node"]
    node_seconds = sum(t["seconds"] for t in new["terms"] if t["phase"] == "node")
    assert buffer["totalSeconds"] == pytest.approx(new["totalSeconds"] - node_seconds, abs=0.1)
    assert all(t["source"] for option in starts.values() if "terms" in option for t in option["terms"])
    assert starts["Pod snapshot, new node"]["refused"].startswith("Pod snapshots restore single-GPU pods only")
    # prod's own buffer (serving.capacityBuffer: 1 replica, active): one idle on-demand a3-highgpu-8g
    price = machine_price(load_stack_config("prod"), "a3-highgpu-8g").on_demand
    (active,) = document["headroom"]
    assert (active["strategy"], active["nodes"], active["hourly"]) == ("active", 1, pytest.approx(price))
    # without it: what headroomReplicas (2) would cost, active (2 × node price) and standby (no compute)
    assert main(["estimate", "prod", "--json", "--set", "serving.capacityBuffer.replicas=0"]) == 0
    active, standby = json.loads(capsys.readouterr().out)["headroom"]
    assert (active["strategy"], active["nodes"], active["hourly"]) == ("active", 2, pytest.approx(2 * price))
    assert (standby["strategy"], standby["hourly"]) == ("standby", 0.0)


def test_estimate_table_shows_buffer_and_snapshot_starts(capsys):
    assert main(["estimate", "dev", "--set", "model.weights.backend=runaiStreamer",
                 "--set", "planning.simulation.capacityBuffer.replicas=1"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "active buffer node" in out and "standby node resume" in out and "Pod snapshot restore" in out
    assert "Headroom: CapacityBuffer of 1 replica(s), active: 1 node(s) idle" in out

"""The local kubelet runs a pod's exec probes and preStop hook with the pod's command, mapped to this machine:
the in-pod script path to the checkout, and `python3` to this interpreter (a binary, as in the pod's image; on
PATH here it may be a pyenv shim that took 0.3-32 s to start on a loaded 2-core machine, docs/drain.md)."""

from __future__ import annotations

import sys

from stack.local.probes import LOCAL_PROBE_DIR, ProbeSpec, localize_probe_path


def test_the_pods_python3_is_this_interpreter_and_the_script_is_the_checkouts():
    assert localize_probe_path("python3") == sys.executable
    assert localize_probe_path("/etc/vllm-probe/drain_wait.py") == str(LOCAL_PROBE_DIR / "drain_wait.py")
    assert localize_probe_path("--flag") == "--flag"


def test_an_exec_probe_runs_with_the_mapped_command():
    probe = ProbeSpec.from_k8s("readiness", {"exec": {"command": ["python3", "/etc/vllm-probe/readiness.py"]},
                                             "periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 1},
                               resolve_port=lambda port: 8000, local_port=18000)
    assert probe.command == [sys.executable, str(LOCAL_PROBE_DIR / "readiness.py")]
    assert (probe.period, probe.timeout, probe.failure_threshold) == (2.0, 3.0, 1)

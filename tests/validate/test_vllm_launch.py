"""How validate finds vLLM's server arguments in a container: exec form, or a `bash -c` script read as the
shell splits it (issue 20 item 2: the LeaderWorkerSet leader runs vLLM inside `bash -c`)."""

from __future__ import annotations

import pytest

from stack.checks import shell_script, vllm_check
from stack.checks.vllm_check import Launch, classify

# The shape workloads/vllm_server.py renders for a LeaderWorkerSet leader: Ray head, wait for the group, exec vLLM.
LEADER_SCRIPT = (
    "ray start --head --port=6379 --num-gpus=8 && "
    "until [ $(ray status 2>/dev/null | grep -c node_) -ge 2 ]; do sleep 5; done && "
    "exec python3 -m vllm.entrypoints.openai.api_server --model /models/m --tensor-parallel-size 8 "
    "--pipeline-parallel-size 2 --distributed-executor-backend ray"
)
WORKER_SCRIPT = "ray start --address=$(LWS_LEADER_ADDRESS):6379 --num-gpus=8 --block"


def bash(script: str, **extra) -> dict:
    return {"name": "vllm", "image": "vllm/vllm-openai@sha256:" + "a" * 64, "command": ["/bin/bash", "-c"],
            "args": [script], **extra}


# -- the shell reader -------------------------------------------------------------------------


def test_the_leader_script_splits_into_its_simple_commands():
    assert shell_script.simple_commands(LEADER_SCRIPT) == [
        ["ray", "start", "--head", "--port=6379", "--num-gpus=8"],
        ["[", "$(ray status 2>/dev/null | grep -c node_)", "-ge", "2", "]"],  # `until` dropped, substitution kept
        ["sleep", "5"],
        ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "/models/m", "--tensor-parallel-size",
         "8", "--pipeline-parallel-size", "2", "--distributed-executor-backend", "ray"],  # `exec` dropped
    ]


def test_quotes_comments_continuations_redirections_and_prefixes_read_as_the_shell_does():
    script = (
        "set -e  # fail fast; not a command\n"
        "echo 'a;b' \"c d\"\n"
        "VLLM_LOGGING_LEVEL=INFO env -u X HF_HUB_OFFLINE=1 vllm serve /m \\\n"
        "  --served-model-name 'my model' 2>&1 | tee /tmp/log &\n"
        "wait"
    )
    assert shell_script.simple_commands(script) == [
        ["set", "-e"],
        ["echo", "a;b", "c d"],
        ["vllm", "serve", "/m", "--served-model-name", "my model"],
        ["tee", "/tmp/log"],
        ["wait"],
    ]


def test_an_unclosed_quote_is_an_error():
    with pytest.raises(ValueError, match="No closing quotation"):
        shell_script.simple_commands("vllm serve /m --served-model-name 'oops")


@pytest.mark.parametrize("words,script", [
    (["/bin/bash", "-c", "S"], "S"),
    (["sh", "-ec", "S", "arg0"], "S"),
    (["bash", "-o", "pipefail", "-c", "S"], "S"),
    (["bash", "-x", "-c", "S"], "S"),
    (["bash", "start.sh"], None),  # a script file, not -c
    (["python3", "-c", "S"], None),  # not a shell
])
def test_shell_script_finds_the_c_argument(words, script):
    assert shell_script.shell_script(words) == script


def test_expansion_uses_literal_env_only():
    env = shell_script.literal_env({"env": [{"name": "PORT", "value": "8000"},
                                            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]})
    assert env == {"PORT": "8000"}
    assert shell_script.expand_kubernetes("--port $(PORT) --api-key $(KEY)", env) == "--port 8000 --api-key $(KEY)"
    assert shell_script.expand_shell("${PORT}/$PORT/$KEY", env) == "8000/8000/$KEY"


# -- classifying containers -------------------------------------------------------------------


def test_the_leader_is_parsed_from_its_bash_script():
    launch = classify(bash(LEADER_SCRIPT))
    assert launch == Launch(
        "parsed", "shell script, python3 -m vllm.entrypoints.openai.api_server (8 args)",
        ("--model", "/models/m", "--tensor-parallel-size", "8", "--pipeline-parallel-size", "2",
         "--distributed-executor-backend", "ray"),
    )


def test_a_ray_only_worker_is_a_checked_non_vllm_container():
    launch = classify(bash(WORKER_SCRIPT))
    assert launch.status == "not vLLM" and launch.args == ()
    assert launch.how == ("runs only Ray (`ray start '--address=$(LWS_LEADER_ADDRESS):6379' --num-gpus=8 --block`): "
                          "a Ray node of the leader's cluster, no vLLM arguments of its own")


def test_a_worker_that_runs_vllm_headless_is_parsed():
    launch = classify(bash("exec vllm serve /models/m --headless --data-parallel-start-rank 1"))
    assert launch.status == "parsed"
    assert launch.args == ("/models/m", "--headless", "--data-parallel-start-rank", "1")


def test_arguments_reach_the_parser_as_the_shell_splits_them():
    """An argument joined into the script unquoted is re-split by bash; the check sees what vLLM would get."""
    script = "exec python3 -m vllm.entrypoints.openai.api_server --override-generation-config " + '{"temperature": 0.5}'
    assert classify(bash(script)).args == ("--override-generation-config", "{temperature:", "0.5}")


def test_env_references_in_the_script_are_expanded_from_literal_env():
    container = bash("exec vllm serve /m --port $(PORT) --max-num-seqs ${SEQS} --api-key $(KEY)",
                     env=[{"name": "PORT", "value": "8000"}, {"name": "SEQS", "value": "64"},
                          {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
    assert classify(container).args == ("/m", "--port", "8000", "--max-num-seqs", "64", "--api-key", "$(KEY)")


@pytest.mark.parametrize("script,reason", [
    ("exec vllm serve /m --port 'oops", "its shell script does not split into words (No closing quotation)"),
    ("exec vllm serve /m --max-model-len $(cat /etc/len)",
     "vLLM's arguments use command substitution, only known at run time"),
    ("exec /opt/start-vllm.sh --port 8000", "its shell script runs no command recognised as vLLM's server "
     "(vllm serve, python -m vllm.entrypoints.openai.api_server) although it names vllm"),
    ("vllm serve /a & vllm serve /b", "its shell script launches vLLM 2 times; expected once"),
])
def test_a_launch_that_cannot_be_read_offline_is_not_parsed_with_the_reason(script, reason):
    assert classify(bash(script)) == Launch("not parsed", reason)


@pytest.mark.parametrize("container,status", [
    ({"image": "x", "command": ["python", "-u", "-m", "vllm.entrypoints.openai.api_server"], "args": ["--port", "1"]},
     "parsed"),
    ({"image": "x", "command": ["python3", "-m", "vllm.entrypoints.cli.main", "serve", "/m"]}, "parsed"),
    ({"image": "curlimages/curl", "command": ["sh", "-c", "curl -s http://vllm.llm.svc:8000/health"]}, "not vLLM"),
])
def test_exec_and_module_forms(container, status):
    assert classify(container).status == status


def test_only_objects_with_a_vllm_launch_are_reported_and_their_other_containers_with_them(tmp_path):
    group = {"size": 2, "leaderTemplate": {"spec": {"containers": [bash(LEADER_SCRIPT)]}},
             "workerTemplate": {"spec": {"containers": [bash(WORKER_SCRIPT)]}}}
    lws = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
           "metadata": {"name": "big", "namespace": "llm"}, "spec": {"leaderWorkerTemplate": group}}
    curl = {"name": "c", "image": "curl", "command": ["sh", "-c", "x"]}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "smoke", "namespace": "llm"},
           "spec": {"template": {"spec": {"containers": [curl]}}}}
    report = vllm_check.check_manifests([lws, job], venv=tmp_path / ".venv-serve")
    assert report.skipped_reason == ".venv-serve not built (make serve-env)" and report.checked == 0
    assert [(c.object, c.path, c.name, c.launch.status) for c in report.containers] == [
        ("LeaderWorkerSet/llm/big", "spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0]", "vllm", "parsed"),
        ("LeaderWorkerSet/llm/big", "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0]", "vllm",
         "not vLLM"),
    ]
    assert report.containers[0].describe() == (
        "LeaderWorkerSet/llm/big leaderTemplate container 'vllm': "
        "shell script, python3 -m vllm.entrypoints.openai.api_server (8 args)")

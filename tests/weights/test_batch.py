"""Batch input check (function, in-pod script, CLI) and the input/output layout; the Job itself is tested in
tests/components/test_batch.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workloads import batch as b


def chat(custom_id: str, **body) -> str:
    return json.dumps(
        {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], **body},
        }
    )


GOOD = [
    chat("a"),
    "",
    chat("b", max_tokens=8),
    json.dumps({"custom_id": "e", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}),
    json.dumps({"custom_id": "s", "method": "POST", "url": "/score", "body": {"text_1": "a", "text_2": "b"}}),
]


def test_good_input_has_no_errors():
    assert b.check_batch_input(GOOD) == []
    assert b.check_batch_input(GOOD, served_model="tiny") == []


def test_completions_line_is_refused_with_its_line_number():
    lines = [
        chat("a"),
        json.dumps({"custom_id": "c", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x"}}),
    ]
    assert b.check_batch_input(lines) == [
        (
            "line 2: url /v1/completions is not served by vLLM's batch runner and aborts the whole run; "
            "send /v1/chat/completions with body.messages"
        )
    ]


def test_every_bad_shape_is_reported():
    lines = [
        "{not json",
        "[1, 2]",
        json.dumps({"method": "GET", "url": "/v1/chat/completions", "body": {"messages": []}}),
        chat("dup"),
        chat("dup"),
        json.dumps({"custom_id": "u", "method": "POST", "url": "/v1/other", "body": {}}),
        json.dumps({"custom_id": "nb", "method": "POST", "url": "/v1/chat/completions", "body": "text"}),
        chat("m", model="other"),
    ]
    assert b.check_batch_input(lines, served_model="tiny") == [
        "line 1: not valid JSON (Expecting property name enclosed in double quotes, column 2)",
        "line 2: expected a JSON object, got list",
        "line 3: custom_id must be a non-empty string (outputs are matched by it)",
        "line 3: method must be \"POST\", got 'GET'",
        "line 3: body.messages must be a non-empty list of {role, content} objects",
        "line 5: custom_id 'dup' repeats line 4",
        (
            "line 6: url '/v1/other' is not one the batch runner serves (/v1/chat/completions, /v1/embeddings, "
            "/v1/audio/transcriptions, /v1/audio/translations, */score, */rerank)"
        ),
        "line 7: body must be a JSON object",
        "line 8: body.model 'other' is not the served model 'tiny'",
    ]


def test_empty_input_is_an_error():
    assert b.check_batch_input(["", "  "]) == ["input: no requests (the file is empty or blank)"]


def run_script(tmp_path: Path, lines: list[str], index: str, count: int, served: str = "tiny") -> tuple[int, str, str]:
    source = tmp_path / "input.jsonl"
    source.write_text("\n".join(lines) + "\n")
    target = tmp_path / f"shard-{index}.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", b.CHECK_SCRIPT, str(source), str(target), index, str(count), served],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, target.read_text() if target.exists() else ""


def test_in_pod_script_shards_checked_input(tmp_path):
    rc, out, shard0 = run_script(tmp_path, GOOD, "0", 2)
    assert rc == 0, out
    assert out.strip() == "4 requests checked; shard 0 of 2: 2 requests"
    assert [json.loads(line)["custom_id"] for line in shard0.splitlines()] == ["a", "e"]
    rc, _, shard1 = run_script(tmp_path, GOOD, "1", 2)
    assert rc == 0 and [json.loads(line)["custom_id"] for line in shard1.splitlines()] == ["b", "s"]
    rc, _, whole = run_script(tmp_path, GOOD, "", 1)  # JOB_COMPLETION_INDEX unset → 0
    assert rc == 0 and len(whole.splitlines()) == 4


def test_in_pod_script_exits_2_on_bad_input_and_writes_nothing(tmp_path):
    bad = [
        chat("a"),
        json.dumps({"custom_id": "c", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x"}}),
    ]
    rc, out, shard = run_script(tmp_path, bad, "0", 1)
    assert rc == b.INVALID_INPUT_EXIT == 2
    assert "line 2: url /v1/completions" in out
    assert shard == ""


def test_cli_check(tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(GOOD))
    assert b.main(["check", str(good), "--model", "tiny"]) == 0
    assert capsys.readouterr().out.strip() == "4 requests, 0 errors"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(chat("x", model="big"))
    assert b.main(["check", str(bad), "--model", "tiny"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "line 1: body.model 'big' is not the served model 'tiny'"
    assert b.main(["check", str(tmp_path / "missing.jsonl")]) == 2


def test_io_layout():
    assert b.io_layout("batch/input.jsonl", "batch/output.jsonl", 1) == (
        "batch",
        "/batch-io/input.jsonl",
        "/batch-io/output.jsonl",
    )
    assert b.io_layout("batch/in/x.jsonl", "batch/out/y.jsonl", 3) == (
        "batch",
        "/batch-io/in/x.jsonl",
        "/batch-io/out/y-$(JOB_COMPLETION_INDEX)-of-3.jsonl",
    )
    assert b.io_layout("in.jsonl", "results/out.jsonl", 1) == ("", "/batch-io/in.jsonl", "/batch-io/results/out.jsonl")
    for inp, out, message in [
        ("/abs.jsonl", "o.jsonl", "input_object"),
        ("i.jsonl", "dir/", "output_object: 'dir/' must be an object name"),
        ("same.jsonl", "same.jsonl", "must differ"),
    ]:
        with pytest.raises(ValueError, match=message):
            b.io_layout(inp, out, 1)


"""Malformed stack files end in exit 2 naming the file (and line), never in a traceback; nothing is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stack.cli import main

ROOT = Path(__file__).resolve().parents[2]

CASES = {
    "a list": ("- a\n- b\n", "error: stack file: Pulumi.dev.yaml holds a list; it must be a mapping"),
    "a bare string": ("just a string\n", "error: stack file: Pulumi.dev.yaml holds a string; it must be a mapping"),
    "config is a list": ("config: [1]\n", "error: stack file: Pulumi.dev.yaml: `config` is a list"),
    "platform is a number": (
        "config:\n  gke-inference:platform: 5\n",
        "error: platform: Pulumi.dev.yaml: `gke-inference:platform` is a number; it must be a mapping",
    ),
    "tabs": (
        "config:\n\tgke-inference:platform: {}\n",
        "error: stack file: Pulumi.dev.yaml:2:1: not valid YAML: found character '\\t' that cannot start any "
        "token (YAML indents with spaces, never tabs)",
    ),
    "syntax error": (
        "config: {a: [}\n",
        "error: stack file: Pulumi.dev.yaml:1:14: not valid YAML: expected the node content, but found '}'",
    ),
    "empty file": ("", "error: platform: Pulumi.dev.yaml has no gke-inference:platform object"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_stack_file_exits_2_naming_it(case, tmp_path, monkeypatch, capsys):
    text, expected = CASES[case]
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["render", "dev", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith(expected)
    assert not (tmp_path / "out").exists()


def test_a_component_refusal_is_bad_input_not_a_traceback(tmp_path, capsys, monkeypatch):
    """A refusal only a component raises at render time (the config does not run the dashboard's validator; one
    is planted here) exits 2 naming the component and argument, and writes nothing."""
    from infra import dashboard
    from infra.validation import Problem

    monkeypatch.setattr(dashboard, "validate_observability_dashboard_args",
                        lambda args: [Problem("evaluation_interval_seconds", "planted refusal")])
    assert main(["render", "dev", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith(
        "error: ObservabilityDashboard 'observability': evaluation_interval_seconds: planted refusal"
    )
    assert not (tmp_path / "out").exists()

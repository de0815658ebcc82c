"""The rendered vLLM args parse with vLLM's own parser (CPU build in .venv-serve)."""

from __future__ import annotations

import pytest

from stack.local.spec import adapt_args
from stack.local.vllm_args import check_vllm_args_many

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results(spec, serve_python, tmp_path):
    rendered = spec.args
    adapted = adapt_args(rendered, model_dir=tmp_path, port=18123).args
    typo = [*rendered, "--max-num-seqz", "8"]
    removed = [*rendered, "--disable-log-requests"]
    bad_choice = [*rendered, "--kv-cache-dtype", "fp9"]
    bad_type = [*rendered, "--max-model-len", "lots"]
    argvs = [rendered, adapted, typo, removed, bad_choice, bad_type]
    return dict(zip(["rendered", "adapted", "typo", "removed", "bad_choice", "bad_type"],
                    check_vllm_args_many(argvs, python=serve_python), strict=True))


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory):
    return tmp_path_factory.mktemp("args-model")


def test_rendered_args_parse(results):
    assert results["rendered"] == []


def test_locally_adapted_args_parse(results):
    assert results["adapted"] == []


def test_typod_flag_fails(results):
    assert results["typo"] == ["unrecognized arguments: --max-num-seqz"]


def test_removed_flag_fails(results):
    # Removed in vLLM ~0.12 (vllm#29402); passing it breaks startup (kserve#4883).
    assert results["removed"] == ["unrecognized arguments: --disable-log-requests"]


def test_bad_choice_fails(results):
    assert len(results["bad_choice"]) == 1
    assert results["bad_choice"][0].startswith("argument --kv-cache-dtype: invalid choice: 'fp9'")


def test_bad_type_fails(results):
    assert len(results["bad_type"]) == 1
    assert results["bad_type"][0].startswith("argument --max-model-len")

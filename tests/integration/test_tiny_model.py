"""The tiny model is deterministic and shaped for vLLM's CPU attention."""

from __future__ import annotations

import json

import pytest

from stack.local.tiny_model import make_tiny_model

pytestmark = pytest.mark.integration


def test_same_bytes_every_build_and_cpu_friendly_shape(tiny_model_dir, serve_python, tmp_path):
    fresh = make_tiny_model(tmp_path / "m", python=serve_python)
    names = sorted(p.name for p in tiny_model_dir.iterdir())
    assert names == ["chat_template.jinja", "config.json", "generation_config.json",
                     "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    for name in names:
        assert (fresh / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
    config = json.loads((fresh / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert (config["hidden_size"], config["num_attention_heads"], config["head_dim"]) == (256, 4, 64)
    assert config["vocab_size"] == 512
    tokenizer = json.loads((fresh / "tokenizer.json").read_text())
    assert len(tokenizer["model"]["vocab"]) == 512
    assert "<|im_start|>" in (fresh / "chat_template.jinja").read_text()

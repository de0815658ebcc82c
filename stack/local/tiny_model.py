"""A tiny, deterministic Llama model for serving real vLLM on CPU (no hub access needed).

`make_tiny_model(DIR)` writes into DIR, in Hugging Face layout:
- `config.json` + `model.safetensors`: a `LlamaForCausalLM` with random weights drawn from a
  fixed seed (hidden 256, 4 heads -> head_dim 64, the smallest head size vLLM's CPU attention
  supports; head_dim 16 fails at the first request, see reference/real-vllm-on-cpu.md),
  2 layers, vocab 512, 2048 positions;
- `tokenizer.json` + `tokenizer_config.json`: a byte-level BPE trained with `tokenizers` on a
  fixed corpus (vocab 512), with a ChatML-style chat template;
- `generation_config.json`.

The build needs torch/transformers/tokenizers, which live in `.venv-serve`; `make_tiny_model`
runs this file there by subprocess, so callers in the Pulumi venv need none of them.
The same seed gives the same bytes on every run (tested).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SEED = 1234
HIDDEN_SIZE = 256
NUM_HEADS = 4  # head_dim = 64
NUM_LAYERS = 2
INTERMEDIATE_SIZE = 512
VOCAB_SIZE = 512
MAX_POSITIONS = 2048
SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A platform engineer deploys vLLM on Kubernetes with GPU node pools.",
    "Weights stream from object storage into GPU memory before the server is ready.",
    "Requests wait in a queue; the autoscaler adds replicas when the queue grows.",
    "Time to first token, time per output token and end-to-end latency are measured.",
    "Hello! How can I help you today? Please tell me about your model and your cluster.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 16 32 64 128 256 512 1024 2048 4096.",
    "def serve(model, port=8000):\n    return start_server(model, host='0.0.0.0', port=port)\n",
    "user: what is the capital of France?\nassistant: The capital of France is Paris.",
    "Liveness probes restart hung containers; readiness probes take pods out of service.",
]


def build(out_dir: Path) -> None:
    """Build the model and tokenizer into `out_dir` (needs torch, transformers, tokenizers)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Repeat the corpus so enough merges are frequent to fill the vocabulary.
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<|end_of_text|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)

    bos_id = tok.token_to_id("<|begin_of_text|>")
    eos_id = tok.token_to_id("<|end_of_text|>")
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        tie_word_embeddings=False,
        torch_dtype="bfloat16",
    )
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out_dir, safe_serialization=True)
    GenerationConfig(bos_token_id=bos_id, eos_token_id=eos_id).save_pretrained(out_dir)


def make_tiny_model(out_dir: Path, *, python: Path | None = None) -> Path:
    """Create the tiny model in `out_dir` by running this file in the serving venv.

    Args:
        out_dir: target directory (created; existing model files are overwritten).
        python: interpreter with torch/transformers; default: `ensure_serve_env()`.
    Returns: `out_dir`.
    """
    if python is None:
        from stack.local.serve_env import ensure_serve_env

        python = ensure_serve_env()
    out_dir = Path(out_dir).resolve()
    subprocess.run([str(python), str(Path(__file__).resolve()), str(out_dir)], check=True)
    return out_dir


def cached_tiny_model(cache_root: Path | None = None, *, python: Path | None = None) -> Path:
    """The tiny model in a cache directory keyed by this file's content; made when missing.

    The build is deterministic, so a directory made by the same source is the same model;
    editing this file changes the key and a fresh model is made.

    Args:
        cache_root: parent directory (default `~/.cache/gke-inference`).
        python: interpreter with torch/transformers; default `ensure_serve_env()`.
    """
    import hashlib

    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    root = cache_root or Path.home() / ".cache" / "gke-inference"
    target = root / f"tiny-model-{digest}"
    if not (target / "model.safetensors").exists():
        tmp = root / f".tiny-model-{digest}.tmp{os.getpid()}"
        make_tiny_model(tmp, python=python)
        try:
            tmp.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: tiny_model.py DIR", file=sys.stderr)
        raise SystemExit(2)
    build(Path(sys.argv[1]))

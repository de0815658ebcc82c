"""Request datasets: vLLM's `random` (token ids decoded by the model's tokenizer) and a small
bundled conversation set.

`random_dataset` reproduces vllm 0.32 `RandomDataset.sample` (vllm/benchmarks/datasets/) step
by step with the same numpy generator, so for the same tokenizer, seed and lengths it yields
the same prompts as `vllm bench serve --dataset-name random` (tested against vLLM's code):
1. `rng = np.random.default_rng(seed)`; input lengths uniform in
   [floor(L*(1-r)), ceil(L*(1+r))] with L = input_len - special tokens the tokenizer adds,
   output lengths likewise (at least 1), offsets uniform in [0, vocab_size);
2. allowed ids = range(vocab_size) minus the special ids;
3. request i: ids = allowed[(offset_i + i + arange(len_i)) % len(allowed)], decoded to text,
   re-encoded and topped up / truncated (up to 10 tries) until it is len_i tokens again.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BUNDLED_CONVERSATIONS = Path(__file__).parent / "data" / "conversations.jsonl"


@dataclass
class SampleRequest:
    """One request to send: a prompt (text, or chat messages), its token length, max tokens."""

    prompt: str | list[dict[str, str]]
    prompt_len: int
    expected_output_len: int


class HFTokenizer:
    """The parts of a Hugging Face tokenizer directory the datasets need, via `tokenizers`.

    Mirrors `PreTrainedTokenizerFast`: `vocab_size` excludes added tokens, `all_special_ids`
    are the ids of the special tokens named in tokenizer_config.json, `decode` keeps special
    tokens, `encode(add_special_tokens=False)`.
    """

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        path = model_dir / "tokenizer.json"
        if not path.exists():
            raise FileNotFoundError(f"--tokenizer: {path} not found (a Hugging Face tokenizer "
                                    "directory with tokenizer.json is needed)")
        self.tok = Tokenizer.from_file(str(path))
        self.vocab_size = self.tok.get_vocab_size(with_added_tokens=False)
        config_path = model_dir / "tokenizer_config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        names: list[str] = []
        for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                    "cls_token", "mask_token"):
            value = config.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if value:
                names.append(value)
        for key in ("additional_special_tokens", "extra_special_tokens"):
            extra = config.get(key) or []
            names += [n for e in extra if (n := e.get("content") if isinstance(e, dict) else e)]
        ids = []
        for name in names:
            tid = self.tok.token_to_id(name)
            if tid is not None and tid not in ids:
                ids.append(tid)
        self.all_special_ids = ids
        post = self.tok.post_processor
        self.num_special_tokens_to_add = post.num_special_tokens_to_add(False) if post else 0

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)


def _decode_to_target_len(tokenizer: HFTokenizer, ids: list[int], target: int,
                          rng: np.random.Generator, max_retry: int = 10) -> tuple[str, list[int]]:
    remaining = max_retry
    while True:
        prompt = tokenizer.decode(ids)
        ids = tokenizer.encode(prompt)
        if remaining <= 0:
            break
        if len(ids) == target:
            break
        if len(ids) < target:
            ids.extend(rng.integers(0, tokenizer.vocab_size, size=target - len(ids)).tolist())
        else:
            ids = ids[:target]
        remaining -= 1
    return prompt, ids


def random_dataset(tokenizer: HFTokenizer, num_requests: int, input_len: int, output_len: int,
                   *, range_ratio: float = 0.0, seed: int = 0) -> list[SampleRequest]:
    """vLLM's random dataset (see module docstring), without a shared prefix.

    Args:
        tokenizer: the served model's tokenizer.
        num_requests: how many requests.
        input_len: mean prompt length in tokens (`--random-input-len`).
        output_len: mean output length in tokens (`--random-output-len`); send with ignore_eos.
        range_ratio: lengths vary uniformly by +/- this fraction (`--random-range-ratio`).
        seed: `--seed` (vLLM's default is 0).
    """
    if not 0.0 <= range_ratio < 1.0:
        raise ValueError(f"--range-ratio must be in [0, 1), got {range_ratio}")
    rng = np.random.default_rng(seed)
    real_input = max(0, int(input_len) - tokenizer.num_special_tokens_to_add)
    in_low = math.floor(real_input * (1 - range_ratio))
    in_high = math.ceil(real_input * (1 + range_ratio))
    out_low = max(math.floor(output_len * (1 - range_ratio)), 1)
    out_high = max(math.ceil(output_len * (1 + range_ratio)), 1)
    if in_low < 1:
        raise ValueError(f"--input-len {input_len} is too small for this tokenizer")
    input_lens = rng.integers(in_low, in_high + 1, size=num_requests)
    output_lens = rng.integers(out_low, out_high + 1, size=num_requests)
    offsets = rng.integers(0, tokenizer.vocab_size, size=num_requests)
    allowed = np.array(list(set(np.arange(tokenizer.vocab_size)) - set(tokenizer.all_special_ids)))
    requests = []
    for i in range(num_requests):
        n = int(input_lens[i])
        ids = allowed[(int(offsets[i]) + i + np.arange(n)) % len(allowed)].tolist()
        prompt, adjusted = _decode_to_target_len(tokenizer, ids, n, rng)
        requests.append(SampleRequest(prompt, len(adjusted), int(output_lens[i])))
    return requests


def conversation_dataset(num_requests: int, *, output_len: int | None = None,
                         path: Path = BUNDLED_CONVERSATIONS, seed: int = 0,
                         tokenizer: HFTokenizer | None = None) -> list[SampleRequest]:
    """Chat requests from a JSONL file of `{"messages": [...], "output_len": N}` lines.

    Requests are drawn in a seeded shuffled order, repeating the file if `num_requests` is
    larger. prompt_len counts the messages' content tokens when a tokenizer is given (the
    server's `usage.prompt_tokens` replaces it in the results, as in vLLM).

    Args:
        num_requests: how many requests.
        output_len: override every line's `output_len`.
        path: the JSONL file (default: the bundled `loadtest/data/conversations.jsonl`).
        seed: shuffle seed.
        tokenizer: optional, for prompt_len.
    """
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"--dataset-path {path}: no conversations")
    for n, item in enumerate(lines, 1):
        if not isinstance(item.get("messages"), list) or not item["messages"]:
            raise ValueError(f"--dataset-path {path}: line {n} has no `messages` list")
    rng = np.random.default_rng(seed)
    order: list[int] = []
    while len(order) < num_requests:
        order += rng.permutation(len(lines)).tolist()
    out = []
    for idx in order[:num_requests]:
        conversation: dict[str, Any] = lines[idx]
        messages = conversation["messages"]
        n_prompt = (sum(len(tokenizer.encode(m["content"])) for m in messages)
                    if tokenizer else 0)
        out.append(SampleRequest(messages, n_prompt,
                                 int(output_len or conversation.get("output_len", 64))))
    return out


def messages_as_text(messages: list[dict[str, str]]) -> str:
    """A chat turned into one prompt for `/v1/completions`."""
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"

"""Check rendered vLLM server arguments with vLLM's own argument parser.

The parser and `validate_parsed_serve_args` are vLLM's (CPU build, same version as the GPU
image's `vllm==` pin), run inside `.venv-serve` by subprocess; nothing here re-implements
vLLM's flag list. Catches unknown flags (e.g. the removed `--disable-log-requests`), bad
choices (e.g. `--kv-cache-dtype fp9`) and bad types. Free-text flags (`--quantization`,
`--load-format`) are only checked by vLLM when the engine starts, not here
(see /work/shared/reference/real-vllm-on-cpu.md).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

# Runs in .venv-serve: parse argv from stdin (JSON), print a JSON list of errors.
_CHECKER = r"""
import json, sys
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.entrypoints.launchers.cli_args import make_arg_parser, validate_parsed_serve_args

class ArgError(Exception):
    pass

def _error(message):
    raise ArgError(message)

results = []
for argv in json.load(sys.stdin):
    parser = make_arg_parser(FlexibleArgumentParser(description="vLLM OpenAI server"))
    parser.error = _error
    errors = []
    try:
        ns = parser.parse_args(argv)
        validate_parsed_serve_args(ns)
    except ArgError as exc:
        errors.append(str(exc))
    except (TypeError, ValueError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    except SystemExit as exc:
        errors.append(f"vLLM's parser exited with status {exc.code}")
    results.append(errors)
print("\n__VLLM_ARGS_RESULT__" + json.dumps(results))
"""


def check_vllm_args(args: list[str], *, python: Path | None = None) -> list[str]:
    """Parse `args` (the vLLM container's args) with vLLM's parser; return the errors.

    Args:
        args: server arguments as rendered, e.g. `["--model", "/models/m", "--port", "8000"]`.
        python: the serving venv's interpreter; default `ensure_serve_env()` (builds it if missing).
    Returns: a list of error messages, empty when vLLM accepts the arguments.
    """
    return check_vllm_args_many([args], python=python)[0]


def check_vllm_args_many(argvs: list[list[str]], *, python: Path | None = None) -> list[list[str]]:
    """`check_vllm_args` for several argument lists in one process (vLLM imports once, ~10 s)."""
    if python is None:
        from stack.local.serve_env import ensure_serve_env

        python = ensure_serve_env()
    env = {**os.environ, "VLLM_LOGGING_LEVEL": "ERROR", "VLLM_TARGET_DEVICE": "cpu"}
    proc = subprocess.run(
        [str(python), "-c", _CHECKER],
        input=json.dumps([list(a) for a in argvs]),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    marker = "__VLLM_ARGS_RESULT__"
    if marker not in proc.stdout:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"vLLM argument check did not run (exit {proc.returncode}): "
                           + " | ".join(tail))
    return json.loads(proc.stdout.rsplit(marker, 1)[1])

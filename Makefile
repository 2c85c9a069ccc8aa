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

.PHONY: venv test lint unit e2e render render-all up preview destroy bench clean clean-all

CHECKOV_VENV := .venv-checkov

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
	touch $@

# checkov in its own venv: its pins conflict with the Pulumi SDK's.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/pip install -q -r requirements-checkov.txt -c constraints-checkov.txt
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed

## The test command (README, CI): lint, types, mock tests, policies, checkov, renders, e2e with real R.
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
## What-ifs: make render STACK=dev SET="kubepar:rBackend=redis kubepar:workers=8"
SET ?=
render: venv
	$(PY) tools/render.py $(STACK) $(foreach setting,$(SET),--set $(setting))

render-all: venv
	@for stack in $(STACKS); do $(PY) tools/render.py $$stack || exit 1; done

POLICY_VENV := policies/venv

$(POLICY_VENV)/.installed: policies/requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install -q -r policies/requirements.txt -c constraints.txt
	touch $@

## pulumi up on $(STACK) (default: local, the current kubectl context), with the guardrails.
up: venv $(POLICY_VENV)/.installed
	@command -v pulumi >/dev/null || { echo "pulumi CLI not found: https://www.pulumi.com/docs/install/"; exit 1; }
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK) --policy-pack policies

preview: venv $(POLICY_VENV)/.installed
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK) --policy-pack policies

destroy:
	pulumi destroy --stack $(STACK)

## Benchmarks: rewrites BENCHMARKS.md (takes about 7 minutes).
bench: venv
	$(PY) tools/bench.py --write BENCHMARKS.md

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

clean-all: clean
	rm -rf $(VENV) $(CHECKOV_VENV) $(POLICY_VENV)

# kubepar: the targets the README and CI use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= local
# Every shipped stack: one Pulumi.<stack>.yaml each.
STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
# Every target keeps state in this folder: no Pulumi account needed. Run
# pulumi through these targets (or export the same PULUMI_BACKEND_URL), or it
# looks for the stack in another backend and skips the guardrails.
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL
# Your own Pulumi CLI, or else the one `make engine` built.
PULUMI ?= $(if $(shell command -v pulumi),pulumi,$(CURDIR)/build/engine/bin/pulumi)
ARGS ?=


.PHONY: engine cluster cluster-down
.PHONY: policy-venv
.PHONY: venv test lint unit e2e render render-all up preview destroy output status config config-secret forward docs bench clean clean-all

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

## The test command (README, CI): lint, types, mock tests, policies, checkov, renders, e2e with real R,
## and the real engine (Pulumi CLI, Kubernetes provider, control plane) on the kwok stack.
test: venv lint engine
	$(PY) -m pytest -q tests

## The real engine, built from Go modules into a cache outside the clone, linked into build/engine/bin.
engine:
	bash engine/build.sh

## A local control plane with kwok nodes shaped like the kwok stack's pools: build/cluster/kubeconfig.
cluster: venv engine
	STACK=kwok bash engine/cluster.sh up

cluster-down:
	bash engine/cluster.sh down

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
	$(PY) -m tools.render $(STACK) $(foreach setting,$(SET),--set $(setting))

render-all: venv
	@for stack in $(STACKS); do $(PY) -m tools.render $$stack || exit 1; done

POLICY_VENV := policies/venv

## The policy pack's virtual environment (CI and `make up` use it): its packages, and the project on its path.
policy-venv: $(POLICY_VENV)/.installed

$(POLICY_VENV)/.installed: policies/requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install -q -r policies/requirements.txt -c constraints.txt
	# The pack imports kubepar's ground floor (components/ground): a .pth file puts the project on its path.
	echo "$(CURDIR)" > $$($(POLICY_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/kubepar.pth
	touch $@

PULUMI_CHECK = @command -v $(PULUMI) >/dev/null || { echo "pulumi CLI not found: https://www.pulumi.com/docs/install/"; exit 1; }
STACK_SELECT = mkdir -p .pulumi-state && $(PULUMI) stack select --create $(STACK) >/dev/null

ifeq ($(STACK),kwok)
# The kwok stack runs on the engine built here (make engine) against make cluster's
# control plane, through the Automation API (tools/stack.py): that CLI has no Python
# language host, so the policy pack is checked on the render of the same config.
up preview destroy: venv engine
	$(PY) -m tools.stack $@ --stack kwok $(ARGS)
else
## pulumi up on $(STACK) (default: local, the current kubectl context), with the guardrails.
up: venv $(POLICY_VENV)/.installed
	$(PULUMI_CHECK)
	$(STACK_SELECT)
	$(PULUMI) up --stack $(STACK) --policy-pack policies $(ARGS)

## What `make up` would change, with the guardrails.
preview: venv $(POLICY_VENV)/.installed
	$(PULUMI_CHECK)
	$(STACK_SELECT)
	$(PULUMI) preview --stack $(STACK) --policy-pack policies $(ARGS)

## Removes everything the stack made (refused while deletionProtection is true).
destroy: venv
	$(PULUMI_CHECK)
	$(PULUMI) destroy --stack $(STACK) $(ARGS)
endif

## The stack's outputs; one with KEY=url (secrets shown: KEY=password).
KEY ?=
output:
	$(PULUMI_CHECK)
	$(PULUMI) stack output --stack $(STACK) $(KEY) $(if $(filter password kubeconfig,$(KEY)),--show-secrets)

## What the stack holds now.
status:
	$(PULUMI_CHECK)
	$(PULUMI) stack --stack $(STACK)

## Set config: make config STACK=dev SET="workers=8 workerCpu=2" (then make up).
config:
	$(PULUMI_CHECK)
	$(STACK_SELECT)
	@for setting in $(SET); do $(PULUMI) config set --stack $(STACK) "kubepar:$${setting%%=*}" "$${setting#*=}" || exit 1; done

## Set a secret (asks for it): make config-secret STACK=dev KEY=password
config-secret:
	$(PULUMI_CHECK)
	$(STACK_SELECT)
	$(PULUMI) config set --stack $(STACK) --secret "kubepar:$(KEY)"

## RStudio or JupyterLab on http://localhost: the portForward output, run.
forward:
	$(PULUMI_CHECK)
	$$($(PULUMI) stack output --stack $(STACK) portForward)

## docs/configuration.md from Pulumi.yaml (a test fails when they differ).
docs: venv
	$(PY) -m tools.config_reference --write docs/configuration.md

## Benchmarks: rewrites BENCHMARKS.md (takes about 7 minutes).
bench: venv
	$(PY) -m tools.bench --write BENCHMARKS.md

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

clean-all: clean
	rm -rf $(VENV) $(CHECKOV_VENV) $(POLICY_VENV)

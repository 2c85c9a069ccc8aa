# kubepar: the targets the README and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= local
# Every shipped stack: one Pulumi.<stack>.yaml each.
STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
# Where the stack's state lives: its kubepar:stateBackend (the GKE stacks: a
# bucket, shared with CI), or else this folder (no Pulumi account needed).
# Run pulumi through these targets (or export the same PULUMI_BACKEND_URL):
# the program refuses a run from another backend than the stack names.
STATE_BACKEND := $(shell sed -n 's/^[[:space:]]*kubepar:stateBackend:[[:space:]]*//p' Pulumi.$(STACK).yaml 2>/dev/null | tr -d "\"'")
PULUMI_BACKEND_URL ?= $(or $(STATE_BACKEND),file://$(CURDIR)/.pulumi-state?metadata=skip)
export PULUMI_BACKEND_URL
# A clone whose stack file holds no encryption salt (CI's checkout, a second
# laptop) uses the secrets manager recorded in the stack's state.
export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER := true
# SET reaches the helper scripts through the environment, quotes intact.
SET ?=
export SET
ARGS ?=
KEY ?=
ENGINE_PULUMI := $(CURDIR)/build/engine/bin/pulumi
# kwok stacks run on the engine built here (make engine) against make
# cluster's control plane; every other stack on your own Pulumi CLI.
ifneq ($(filter kwok kwok-%,$(STACK)),)
LOCAL_ENGINE := yes
PULUMI ?= $(ENGINE_PULUMI)
else
PULUMI ?= pulumi
endif


.PHONY: engine cluster cluster-down
.PHONY: policy-venv
.PHONY: help pulumi-cli backend
.PHONY: venv test lint unit e2e render render-all up preview destroy output status recover config config-secret forward docs bench bench-faults mutation clean clean-all

## This list.
help:
	@awk '/^## /{text = text (text ? " " : "") substr($$0, 4); next} \
	     /^[a-z][-a-z0-9]*( [a-z][-a-z0-9]*)*:/ && text {split($$0, t, ":"); printf "  make %-22s %s\n", t[1], text} \
	     {text = ""}' $(MAKEFILE_LIST)
	@echo "  Options: STACK=<name> (default local), SET=\"key=value ...\", ARGS=\"--yes\", KEY=<output or secret>"

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

# engine hub's tests run the hub image's JupyterHub (PyPI, its own pins) and the proxy
# (npm, the chart's configurable-http-proxy) as local processes.
HUB_VENV := .venv-hub
HUB_PROXY := build/hub/node_modules/.bin/configurable-http-proxy
$(HUB_VENV)/.installed: requirements-hub.txt constraints-hub.txt
	$(PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/pip install -q --upgrade pip
	$(HUB_VENV)/bin/pip install -q -r requirements-hub.txt -c constraints-hub.txt
	touch $@

$(HUB_PROXY):
	npm install --silent --no-audit --no-fund --prefix build/hub configurable-http-proxy@5.2.0

# Spark's tests run the rendered roles from PyPI's pyspark (the image's Spark, on Debian's Java 17) and
# the session's client, pyspark-client, in a virtualenv of its own (both provide the pyspark package).
SPARK_VENV := .venv-spark
SPARK_CLIENT_VENV := .venv-spark-client
$(SPARK_VENV)/.installed: requirements-spark.txt
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install -q --upgrade pip
	$(SPARK_VENV)/bin/pip install -q -r requirements-spark.txt
	touch $@

$(SPARK_CLIENT_VENV)/.installed: requirements-spark-client.txt constraints-spark-client.txt
	$(PYTHON) -m venv $(SPARK_CLIENT_VENV)
	$(SPARK_CLIENT_VENV)/bin/pip install -q --upgrade pip
	$(SPARK_CLIENT_VENV)/bin/pip install -q -r requirements-spark-client.txt -c constraints-spark-client.txt
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(HUB_VENV)/.installed $(HUB_PROXY) \
	$(SPARK_VENV)/.installed $(SPARK_CLIENT_VENV)/.installed

## The test command (README, CI): lint, types, mock tests, policies, checkov, renders, e2e with real R,
## and the real engine (Pulumi CLI, Kubernetes provider, control plane) on the kwok stack.
test: venv lint engine
	$(PY) -m pytest -q tests

## The real engine, built from Go modules into a cache outside the clone, linked into build/engine/bin.
engine:
	bash engine/build.sh

## A local control plane with kwok nodes shaped like the kwok stack's pools: build/cluster/kubeconfig.
cluster: $(VENV)/.installed engine
	STACK=$(if $(LOCAL_ENGINE),$(STACK),kwok) bash engine/cluster.sh up

## Stops the local control plane and removes its folder.
cluster-down:
	bash engine/cluster.sh down

## ruff and mypy.
lint: venv
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy

## The tests without the end-to-end ones.
unit: venv
	$(PY) -m pytest -q tests --ignore=tests/e2e

## The end-to-end tests alone (the pods' processes, run locally).
e2e: venv
	$(PY) -m pytest -q tests/e2e

## Offline render of one stack: build/render/$(STACK)/{kubernetes,gcp,outputs}.yaml
## What-ifs: make render STACK=dev SET="rBackend=redis workers=8"
render: $(VENV)/.installed
	$(PY) -m tools.render $(STACK)

## The offline render of every shipped stack.
render-all: $(VENV)/.installed
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

## Checks the Pulumi CLI the stack needs, before anything is installed.
pulumi-cli:
ifdef LOCAL_ENGINE
	@test -x $(PULUMI) || { echo "make: STACK=$(STACK) runs on the engine built here: run make engine (10-30 minutes once), then make cluster" >&2; exit 1; }
else
	@command -v $(PULUMI) >/dev/null || { echo "make: no Pulumi CLI on PATH: install it (https://www.pulumi.com/docs/install/), or try kubepar on this machine without one: make cluster, then make up STACK=kwok" >&2; exit 1; }
	@cli=$$(command -v $(PULUMI)); command -v pulumi-language-python >/dev/null || test -x "$$(dirname "$$cli")/pulumi-language-python" \
	    || { echo "make: $$cli has no Python language host beside it (pulumi-language-python): the CLI make engine builds runs only STACK=kwok; install the Pulumi CLI (https://www.pulumi.com/docs/install/) for STACK=$(STACK)" >&2; exit 1; }
endif

## Where STACK's state lives (its kubepar:stateBackend, or this folder). CI: CI_BACKEND=required.
backend:
	@if [ "$(CI_BACKEND)" = required ] && [ -z "$(STATE_BACKEND)" ]; then \
	    echo "make backend: Pulumi.$(STACK).yaml names no kubepar:stateBackend; CI deploys only stacks whose state has one home (docs/guardrails.md)" >&2; exit 1; fi
	@echo "$(PULUMI_BACKEND_URL)"

# Shows Pulumi's own prompts (the passphrase that protects a new stack's secrets).
STACK_SELECT = mkdir -p .pulumi-state && $(PULUMI) stack select --create $(STACK)

ifdef LOCAL_ENGINE
# Through the Automation API (tools/stack.py): the CLI built here has no
# Python language host, so the policy pack is checked on the render of the
# same config. It asks before changing anything, as the real CLI does.
up preview destroy: pulumi-cli $(VENV)/.installed engine
	$(PY) -m tools.stack $@ --stack $(STACK) $(ARGS)
else
## pulumi up on $(STACK) (default: local, the current kubectl context), with the guardrails.
up: pulumi-cli $(VENV)/.installed $(POLICY_VENV)/.installed
	@$(PY) -m tools.stack check --stack $(STACK)
	$(STACK_SELECT)
	$(PULUMI) up --stack $(STACK) --policy-pack policies $(ARGS)

## What `make up` would change, with the guardrails.
preview: pulumi-cli $(VENV)/.installed $(POLICY_VENV)/.installed
	@$(PY) -m tools.stack check --stack $(STACK)
	$(STACK_SELECT)
	$(PULUMI) preview --stack $(STACK) --policy-pack policies $(ARGS)

## Removes everything the stack made, after asking (refused while deletionProtection is true).
destroy: pulumi-cli $(VENV)/.installed
	$(PULUMI) destroy --stack $(STACK) $(ARGS)
endif

## The stack's outputs; one with KEY=url (secrets shown: KEY=password).
output: pulumi-cli
	$(PULUMI) stack output --stack $(STACK) $(KEY) $(if $(filter password kubeconfig,$(KEY)),--show-secrets)

## After an interrupted make up (stack locked, creates cut off): unlock, remove what the dead run made (docs/operations.md).
recover: pulumi-cli $(VENV)/.installed
	$(PY) -m tools.recover --stack $(STACK) $(ARGS)

## What the stack holds now.
status: pulumi-cli
	$(PULUMI) stack --stack $(STACK)

## Set config: make config STACK=dev SET='workers=8 packages=["data.table"]' (then make up).
config: pulumi-cli $(VENV)/.installed
	$(STACK_SELECT)
	$(PY) -m tools.settings config --stack $(STACK) --pulumi $(PULUMI)

## Set a secret (asks for it): make config-secret STACK=dev KEY=password
config-secret: pulumi-cli
	@test -n "$(KEY)" || { echo "make config-secret: name the key, e.g. make config-secret STACK=$(STACK) KEY=password" >&2; exit 1; }
	$(STACK_SELECT)
	$(PULUMI) config set --stack $(STACK) --secret "kubepar:$(KEY)"

## RStudio or JupyterLab on http://localhost: the portForward output, run.
forward: pulumi-cli
	@command=$$($(PULUMI) stack output --stack $(STACK) portForward) && echo "$$command" && $$command

## docs/configuration.md from Pulumi.yaml (a test fails when they differ).
docs: venv
	$(PY) -m tools.config_reference --write docs/configuration.md
	$(PY) -m tools.roles_reference --write docs/operations.md

## Benchmarks: rewrites BENCHMARKS.md (takes about 7 minutes).
bench: venv
	$(PY) -m tools.bench --write BENCHMARKS.md
	$(PY) -m tools.bench_hub --write BENCHMARKS.md

## Faults under the real controllers, timed: BENCHMARKS.md and docs/operations.md (needs make engine; 4 minutes).
bench-faults: venv
	$(PY) -m tools.bench_faults --write

## Mutation testing of the safety tables and the arithmetic, a table per module (docs/testing.md; not in CI). ARGS="--module PATH".
mutation: venv
	$(PY) -m tools.mutation $(ARGS)

## Removes what the build and tests wrote in this folder (clean-all: the virtual environments too).
clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

clean-all: clean
	rm -rf $(VENV) $(CHECKOV_VENV) $(POLICY_VENV)

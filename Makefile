# The project's verbs. Every target installs what it needs itself, from the lock files.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON := $(shell tools/find-python.sh)
PY_BIN_DIR := $(dir $(PYTHON))
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
PIP_QUIET := --quiet --disable-pip-version-check
# pip prints a warning per package for this machine's optional local mirrors; keep output readable.
PIP_FILTER := grep -v "^WARNING: Location 'file://" || true

.PHONY: help venv test unit lint lint-python lint-infra demo up sim build bench lock clean

help: ## list the verbs
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements/dev.lock pyproject.toml
	@echo "== creating $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@{ $(BIN)/pip install $(PIP_QUIET) -r requirements/dev.lock 2>&1; } | $(PIP_FILTER)
	@{ $(BIN)/pip install $(PIP_QUIET) --no-deps -e . 2>&1; } | $(PIP_FILTER)
	@touch $@

venv: $(BIN)/.installed ## create .venv with the project (editable) and its dev dependencies

$(TOOLS)/%/.installed: requirements/lint-%.lock
	@echo "== creating $(TOOLS)/$*"
	@test -x $(TOOLS)/$*/bin/python || $(PYTHON) -m venv $(TOOLS)/$*
	@{ $(TOOLS)/$*/bin/pip install $(PIP_QUIET) --only-binary rustworkx -r $< 2>&1; } | $(PIP_FILTER)
	@touch $@

test: lint ## lint, then the whole suite (what CI runs)
	$(BIN)/pytest -n 2 --dist loadgroup

# The unit tests include SAM's own transform of template.yaml, run in the SAM CLI's environment.
unit: venv $(TOOLS)/sam/.installed ## the unit tests only (fast)
	$(BIN)/pytest tests/unit -q

lint: lint-python lint-infra ## every linter: ruff, mypy, sam validate --lint, cfn-lint, checkov

lint-python: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/payouts tools/payouts_tools functions

lint-infra: $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed
	$(TOOLS)/sam/bin/sam validate --lint --template template.yaml
	$(TOOLS)/sam/bin/cfn-lint template.yaml
	$(TOOLS)/checkov/bin/checkov --quiet --compact --skip-download --config-file .checkov.yaml -f template.yaml

demo: venv ## the whole system on this machine: publish payouts, follow them, check the ledger
	$(BIN)/payouts demo

sim: venv ## the simulation: 100,000 payouts under the storm mix, every money rule checked
	$(BIN)/payouts sim --faults storm --payouts 5000 --seed 1 --seeds 20 --jobs 2

up: venv ## the local stack, running until Ctrl-C
	$(BIN)/payouts up

build: $(TOOLS)/sam/.installed ## sam build for the Lambda runtime (python3.13, arm64)
	PATH="$(PY_BIN_DIR):$$PATH" $(TOOLS)/sam/bin/sam build --template template.yaml

bench: venv ## benchmarks: print figures and write bench/results.json
	$(BIN)/python -m bench

lock: venv ## re-resolve every lock file from pyproject.toml and requirements/*.in
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.13 \
		--python-platform x86_64-manylinux_2_28 -q -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.13 --python-platform aarch64-manylinux_2_28 \
		-q --no-header --no-annotate -o layers/payouts/requirements.txt
	$(BIN)/uv pip compile requirements/lint-sam.in --python-version 3.13 \
		--python-platform x86_64-manylinux_2_28 -q -o requirements/lint-sam.lock
	$(BIN)/uv pip compile requirements/lint-checkov.in --python-version 3.13 \
		--python-platform x86_64-manylinux_2_28 --only-binary rustworkx -q -o requirements/lint-checkov.lock

clean: ## remove environments, build output and caches
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache node_modules

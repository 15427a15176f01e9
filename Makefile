# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
ECHARTS := layers/core/python/skytune/dashboard/static/vendor/echarts.min.js
BIN := $(CURDIR)/$(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: chromium bench-dashboard install demo test test-autolog test-unit test-integration test-infra test-e2e synth local openapi bench-tuner bench-suite bench-latency bench-search bench-ingest clean

install: $(VENV)/.installed node_modules/.installed java chromium $(ECHARTS)

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[runtime,local,infra,dev,demo]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# DynamoDB Local runs on Java 17+. Debian's package is installed only where java is missing.
java:
	@command -v java >/dev/null || { echo "installing a Java runtime for DynamoDB Local"; \
	  $$(command -v sudo) apt-get update -qq && $$(command -v sudo) apt-get install -y -qq openjdk-17-jre-headless; }

# -- dashboard ------------------------------------------------------------------------------------
# The browser tests drive Debian's chromium (Playwright's own browser download cannot be used);
# installed only where missing, like java.
chromium:
	@command -v chromium >/dev/null || { echo "installing chromium for the dashboard's browser tests"; \
	  $$(command -v sudo) apt-get update -qq && $$(command -v sudo) apt-get install -y -qq chromium; }

# Apache ECharts, pinned by package-lock.json, vendored into the dashboard's static folder (committed,
# so a pip install has it; this copy keeps it equal to the locked version).
$(ECHARTS): node_modules/.installed
	cp node_modules/echarts/dist/echarts.min.js $@

bench-dashboard: install
	$(BIN)/python -m benchmarks.dashboard.run  # a latency benchmark: normal priority (optimiser benchmarks run under nice)
# -- end dashboard --------------------------------------------------------------------------------

demo: install
	$(BIN)/python -m examples.demo

test: install
	$(BIN)/python -m pytest tests -q

test-unit test-integration test-infra test-e2e: install
	$(BIN)/python -m pytest tests/$(subst test-,,$@) -q

synth: install
	cdk synth --quiet --no-notices
	@cat build/bundle-sizes.json

local: install
	$(BIN)/skytune local --allow-command python

openapi: install
	$(BIN)/python scripts/openapi.py > docs/openapi.json

# Benchmarks: peers (Optuna, MLflow, PyTorch) live in their own virtualenv, never in `make test`.
.venv-bench/.installed: pyproject.toml
	@test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e '.[runtime,local,bench]' torch==2.13.0
	@touch $@

# MLflow autologgers beyond scikit-learn (XGBoost, Keras on torch, PyTorch Lightning) against `skytune local`:
# heavy, so in the bench virtualenv and never part of `make test` (tests/autolog is collected only here).
.venv-bench/.autolog: .venv-bench/.installed pyproject.toml
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e '.[runtime,local,infra,bench,autolog,dev]' torch==2.13.0
	@touch $@

test-autolog: install .venv-bench/.autolog
	SKYTUNE_AUTOLOG=1 KERAS_BACKEND=torch nice .venv-bench/bin/python -m pytest tests/autolog -q

bench-tuner: .venv-bench/.installed
	.venv-bench/bin/python -m benchmarks.tuner.run --seeds 20 --budgets 30,50,100 --jobs 2 --markdown benchmarks/tuner/comparison.md

# The broad optimiser suite (issue 15): 14 shifted synthetic functions + 3 scikit-learn tasks, paired
# against Optuna GP/TPE, Ax and random search in the same run; resumable through the JSON-lines file.
bench-suite: .venv-bench/.installed
	mkdir -p build
	nice .venv-bench/bin/python -m benchmarks.tuner.suite --seeds 20 --budget 30,50,100 --workers 1,4 --jobs 2 \
	  --problems $$(.venv-bench/bin/python -c "from benchmarks.tuner.suite_problems import SUITE; print(','.join(SUITE))") \
	  --json build/suite.jsonl --markdown benchmarks/tuner/suite.md

# Beyond AMT (issue 15 section 3): multi-objective, conditional and constrained tuning vs Optuna
.PHONY: bench-beyond-amt
bench-beyond-amt: .venv-bench/.installed
	@mkdir -p build
	nice -n 19 .venv-bench/bin/python -m benchmarks.beyond_amt --part conditional --part constrained \
	  --problems conditional-net,gardner,gramacy,branin-disc --seeds 20 --budget 30 --jobs 2 --json build/beyond_cc.jsonl --markdown build/beyond_cc.md
	nice -n 19 .venv-bench/bin/python -m benchmarks.beyond_amt --part multiobjective \
	  --problems zdt1-6d,dtlz2-6d-3obj,dtlz7-6d-3obj,branin-currin --seeds 20 --budget 30 --jobs 2 --json build/beyond_mo.jsonl --markdown build/beyond_mo.md
	.venv-bench/bin/python -m benchmarks.beyond_amt --latency

bench-latency: install
	$(BIN)/python -m benchmarks.tuner.latency

bench-ingest: install
	$(BIN)/python -m benchmarks.ingest.run --points 20000

bench-search: install .venv-bench/.installed
	.venv-bench/bin/python -m benchmarks.search.run --runs 10000 --growth 1000,10000,30000

clean:
	rm -rf build cdk.out .pytest_cache .hypothesis

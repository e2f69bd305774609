# One entry point per tier. Every target installs what it needs first (`setup` is idempotent).
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION ?= 0.13.9
PYTHON ?= python3
# uv is run as a module of the interpreter it was installed into, so no PATH or shim set-up is needed.
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest
# The tiers without a real component run in parallel worker processes (pytest-xdist); the others share one broker.
PYTEST_WORKERS ?= 2
NO_COMPONENT := -m "not integration and not e2e and not slow"

.PHONY: help setup lint format schemas test test-unit test-integration test-e2e test-contract run bench-ingest bench-gateway bench-feedback bench-ab bench-evaluation bench-alerting clean bench-drift

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## Install uv, the locked virtualenv, Kafka's jars, the helm and promtool binaries (idempotent)
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --all-packages
	bash infra/kafka/fetch.sh
	bash infra/tools/install-helm.sh
	bash infra/tools/install-promtool.sh

lint: setup ## ruff, mypy (strict on schemas/ and the kit), and the committed JSON Schemas are current
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy schemas/src kit/src pii/src drift/src $(wildcard services/*/src) cli/src
	$(RUN) python -m llmops_schemas.jsonschema --check
	$(RUN) python -m llmops_kit.kafka.asyncapi --check
	$(RUN) python -m llmops_schemas.compat

format: ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

schemas: ## Regenerate the committed JSON Schemas from the models, and docs/asyncapi.yaml from them and the topic catalog
	$(RUN) python -m llmops_schemas.jsonschema --write
	$(RUN) python -m llmops_kit.kafka.asyncapi --write

test: lint ## The whole suite: lint, unit, contract, integration (real Kafka + chDB), end to end
	$(PYTEST) -p no:cacheprovider -n $(PYTEST_WORKERS) $(NO_COMPONENT)
	$(PYTEST) -p no:cacheprovider -m "integration or e2e or slow"

test-unit: setup ## Unit tests only (fakes, no broker)
	$(PYTEST) -n $(PYTEST_WORKERS) $(NO_COMPONENT) tests/unit

test-contract: setup ## Schema, AsyncAPI, OpenAPI (schemathesis), Helm and compose checks
	$(PYTEST) -n $(PYTEST_WORKERS) tests/contract

test-integration: setup ## Against a real Kafka broker and the real ClickHouse engine
	$(PYTEST) -m integration

test-e2e: setup ## Kafka, ingest and warehouse as separate processes
	$(PYTEST) -m e2e

run: setup ## Start Kafka, the services and ClickHouse, send a demo workload; Ctrl-C stops
	$(RUN) llmops up

bench-ingest: setup ## End-to-end ingest throughput (median of 5 runs) and request-to-queryable latency (docs/benchmarks.md)
	$(RUN) python benchmarks/bench_ingest.py --repeat 5 --write docs/benchmarks.md

bench-evaluation: setup ## Online heuristic scoring from Kafka to stored scores, and a replay of 100,000 stored calls (docs/benchmarks.md)
	$(RUN) python benchmarks/bench_evaluation.py --write docs/benchmarks.md

bench-gateway: setup ## Latency the gateway adds vs LiteLLM (own venv) and Portkey (npm ci; needs Node) in .cache: chat, tools, Anthropic-translated; c=1 and c=16 (docs/benchmarks.md)
	$(RUN) python benchmarks/bench_gateway.py --write docs/benchmarks.md

bench-feedback: setup ## Feedback events accepted per second by one feedback process, batch and single (docs/benchmarks.md)
	$(RUN) python benchmarks/bench_feedback.py --write docs/benchmarks.md

bench-alerting: setup ## Event to notifier call latency with 100 rules at 1,000 events/s (docs/benchmarks.md)
	$(RUN) python benchmarks/bench_alerting.py --write docs/benchmarks.md

bench-drift: setup ## The drift engine vs Evidently's data-drift preset (own venv in .cache) on scenarios with a known truth, 20 seeds each (docs/benchmarks.md)
	$(RUN) python benchmarks/bench_drift.py --write docs/benchmarks.md

bench-ab: setup ## A/B verdict statistics on simulated experiments: A/A false positives under peeking (2,000 runs each), power (docs/benchmarks.md)
	$(RUN) python benchmarks/bench_ab_verdicts.py --write docs/benchmarks.md

clean: ## Remove local state (.data) but keep the caches
	rm -rf .data

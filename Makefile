# pactwatch — every target works on a fresh clone (Python 3.11, gcc, make).
# uv is bootstrapped with pip into .tools/ when it is not on PATH.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen
EXTRACTORS ?= 1
SAMPLES ?= default
BENCH_ARTICLES ?= 600

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-integration test-e2e lint format eval bench docs up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==0.13.9"

.venv/.installed: pyproject.toml uv.lock shared/pyproject.toml $(wildcard services/*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.installed ## create .venv with every service, the CLI and the dev tools

run: install ## run the whole pipeline locally (embedded Redis unless REDIS_URL is set); Ctrl-C stops it
	$(RUN) pactwatch run --extractors $(EXTRACTORS) --samples $(SAMPLES)

test: install ## unit, integration and end-to-end tests (starts its own redis-server on a free port)
	$(RUN) pytest tests

test-unit: install ## unit tests only
	$(RUN) pytest tests/unit

lint: install ## ruff (lint + format check) and mypy --strict
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

eval: install ## score extraction and deduplication on the dev corpus
	$(RUN) pactwatch eval --corpus tests/corpus/dev

bench: install ## benchmark against bare spaCy (BENCH_ARTICLES=N; BENCH_SEARCH=1: 100k search); .bench/results.json
	BENCH_ARTICLES=$(BENCH_ARTICLES) $(RUN) python -m tests.bench

docs: install ## AsyncAPI document of every service and OpenAPI of the HTTP APIs, into docs/
	$(RUN) python -m tests.apidocs

up: ## docker compose up (needs a Docker engine)
	docker compose up --build

down: ## docker compose down
	docker compose down

clean: ## remove local state: the embedded Redis data, caches, bench results
	rm -rf .pactwatch .bench .pytest_cache .mypy_cache .ruff_cache

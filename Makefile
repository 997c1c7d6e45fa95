# The two commands a fresh clone needs (README): `make preview` and `make check`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: preview check install system-packages services lint test docs layer web web-e2e

$(BIN)/soundstack: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,diagram]'
	touch $@

install: $(BIN)/soundstack

## The main job: the offline preview of a stack (default dev; `make preview STACK=prod`).
preview: install
	$(BIN)/soundstack preview $(STACK)

## Every check and test: ruff (lint + format), mypy, pytest against PostgreSQL and Redis, the
## web client (build, unit tests, and end-to-end in Chromium against `soundstack serve`).
check: system-packages install services lint test web web-e2e

## System packages the checks need beyond Python's: Graphviz (the architecture picture) and
## Node.js ^20.19 with npm (the web client).
system-packages:
	bash .ci/system-packages
	bash .ci/node

services:
	bash .ci/services

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test:
	$(BIN)/python -m pytest

## The web client (app_services/web): install exactly package-lock.json, type-check and build
## (dist/), run its unit tests (vitest). Needs Node ^20.19 or >=22.12 and npm (.ci/node).
web:
	cd app_services/web && npm ci --no-audit --no-fund && npm run build && npm test

## The web client in Debian's Chromium as `soundstack serve --local-aws --web` serves it (the
## stack's CSP, signed media, the feed's WebSocket, the providers' checkout doubles) on PostgreSQL
## and Redis (.ci/web-e2e builds it; screenshots in app_services/web/e2e/screenshots).
web-e2e:
	bash .ci/web-e2e

## Lambda dependency layer for `pulumi up` (the service functions' code needs it): wheels for
## Lambda's arm64 Python, installed by the project's pip into build/layer/python, without what
## Lambda never runs: console scripts and man pages (bin/, share/), byte code (compiled by the
## build machine's Python, not Lambda's), test suites. components/function.py checks its size.
## LAYER_PIP_OPTIONS passes extra pip options (e.g. --index-url of a mirror).
LAMBDA_PYTHON ?= 3.13
LAYER_DIR ?= build/layer
LAYER_REQUIREMENTS ?= app_services/requirements.txt
## The RDS global CA bundle (components/function.py DB_CA_BUNDLE): the services verify the
## database's certificate against it (sslmode=verify-full).
RDS_CA_BUNDLE_URL ?= https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
layer: | $(BIN)/python
	rm -rf $(LAYER_DIR)
	$(BIN)/python -m pip install --quiet --no-compile --platform manylinux2014_aarch64 \
		--only-binary=:all: --implementation cp --python-version $(LAMBDA_PYTHON) \
		--target $(LAYER_DIR)/python $(LAYER_PIP_OPTIONS) -r $(LAYER_REQUIREMENTS)
	rm -rf $(LAYER_DIR)/python/bin $(LAYER_DIR)/python/share
	find $(LAYER_DIR)/python -depth -type d \( -name __pycache__ -o -name tests -o -name test \) \
		-exec rm -rf {} +
	find $(LAYER_DIR)/python -type f -name '*.py[co]' -delete
	{ if [ -f $(LAYER_DIR)/python/botocore/cacert.pem ]; then \
	    cat $(LAYER_DIR)/python/botocore/cacert.pem; fi; \
	  curl -fsSL $(RDS_CA_BUNDLE_URL); } > $(LAYER_DIR)/python/db-ca-bundle.pem
	grep -q 'BEGIN CERTIFICATE' $(LAYER_DIR)/python/db-ca-bundle.pem
	du -sh $(LAYER_DIR)/python

## Only what `layer` needs when no venv exists yet (an existing one is left as it is).
$(BIN)/python:
	$(PY) -m venv $(VENV)

## Regenerate README's generated sections (prod diagram and cost estimate): soundstack docs.
docs: system-packages install
	$(BIN)/soundstack docs

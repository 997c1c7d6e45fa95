# The two commands a fresh clone needs (README): `make preview` and `make check`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: preview check install system-packages services lint test docs layer

$(BIN)/soundstack: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,diagram]'
	touch $@

install: $(BIN)/soundstack

## The main job: the offline preview of a stack (default dev; `make preview STACK=prod`).
preview: install
	$(BIN)/soundstack preview $(STACK)

## Every check and test: ruff (lint + format), mypy, pytest against PostgreSQL and Redis.
check: system-packages install services lint test

## Debian packages the checks need beyond Python's (Graphviz for the architecture picture).
system-packages:
	bash .ci/system-packages

services:
	bash .ci/services

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test:
	$(BIN)/python -m pytest

## Lambda dependency layer for `pulumi up` (the service functions' code needs it): wheels for
## Lambda's arm64 Python, installed by the project's pip into build/layer/python, without what
## Lambda never runs: console scripts and man pages (bin/, share/), byte code (compiled by the
## build machine's Python, not Lambda's), test suites. components/function.py checks its size.
## LAYER_PIP_OPTIONS passes extra pip options (e.g. --index-url of a mirror).
LAMBDA_PYTHON ?= 3.13
LAYER_DIR ?= build/layer
LAYER_REQUIREMENTS ?= app_services/requirements.txt
layer: | $(BIN)/python
	rm -rf $(LAYER_DIR)
	$(BIN)/python -m pip install --quiet --no-compile --platform manylinux2014_aarch64 \
		--only-binary=:all: --implementation cp --python-version $(LAMBDA_PYTHON) \
		--target $(LAYER_DIR)/python $(LAYER_PIP_OPTIONS) -r $(LAYER_REQUIREMENTS)
	rm -rf $(LAYER_DIR)/python/bin $(LAYER_DIR)/python/share
	find $(LAYER_DIR)/python -depth -type d \( -name __pycache__ -o -name tests -o -name test \) \
		-exec rm -rf {} +
	find $(LAYER_DIR)/python -type f -name '*.py[co]' -delete
	du -sh $(LAYER_DIR)/python

## Only what `layer` needs when no venv exists yet (an existing one is left as it is).
$(BIN)/python:
	$(PY) -m venv $(VENV)

## Regenerate README's generated sections (prod diagram and cost estimate): soundstack docs.
docs: system-packages install
	$(BIN)/soundstack docs

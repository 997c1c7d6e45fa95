# The two commands a fresh clone needs (README): `make preview` and `make check`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: preview check install services lint test docs layer

$(BIN)/soundstack: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/soundstack

## The main job: the offline preview of a stack (default dev; `make preview STACK=prod`).
preview: install
	$(BIN)/soundstack preview $(STACK)

## Every check and test: ruff (lint + format), mypy, pytest against PostgreSQL and Redis.
check: install services lint test

services:
	bash .ci/services

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test:
	$(BIN)/python -m pytest

## Lambda dependency layer for `pulumi up` (the service functions' code needs it): wheels for
## Lambda's arm64 Python, installed into build/layer/python (components/function.py).
LAMBDA_PYTHON ?= 3.13
layer:
	rm -rf build/layer
	$(PY) -m pip install --quiet --platform manylinux2014_aarch64 --only-binary=:all: \
		--implementation cp --python-version $(LAMBDA_PYTHON) --target build/layer/python \
		-r app_services/requirements.txt

## Regenerate README's generated sections (prod diagram and cost estimate): soundstack docs.
docs: install
	$(BIN)/soundstack docs

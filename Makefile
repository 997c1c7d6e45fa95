# The two commands a fresh clone needs (README): `make preview` and `make check`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: preview check install services lint test

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

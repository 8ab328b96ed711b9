# runwire: two commands from a fresh clone — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed


.PHONY: install run cluster test lint typecheck format demo bench clean schemas

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'uv>=0.13,<0.14'

$(STAMP): $(UV) uv.lock pyproject.toml libs/pyproject.toml tools/pyproject.toml clients/python/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages --quiet
	touch $(STAMP)

install: $(STAMP) ## create .venv and install everything (idempotent)

run: install ## start NATS (embedded unless RUNWIRE_NATS_URL is set) and every service
	$(PY) -m runwire_dev

cluster: install ## a local 3-node JetStream cluster, two stream API instances and every service
	$(PY) -m runwire_dev --cluster

demo: install ## against a running `make run`: one project through ingest, agent and a workflow
	$(PY) -m runwire_dev.demo

test: install lint ## lint, type-check and run the whole test suite
	$(PY) -m pytest

lint: install ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy benchmarks

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schemas: install ## regenerate the published JSON Schema of the envelope
	$(PY) -m runwire.contract.schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

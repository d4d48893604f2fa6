# Two commands: `make run` (set up, then serve) and `make test` (set up, then the whole suite).
# Both are idempotent; the engine build and the virtual environment are cached.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup engine run test lint bench clean

setup: $(STAMP) engine

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $(STAMP)

engine:
	@./scripts/build-engine.sh

run: setup
	$(VENV)/bin/dds serve

test: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: setup
	$(VENV)/bin/python -m bench.bench_instances
	$(VENV)/bin/python -m bench.bench_auth
	$(VENV)/bin/python bench/bench_backup.py --size-mb 1024
	$(VENV)/bin/python bench/bench_physical.py --size-mb 1024

clean:
	rm -rf $(VENV) bin

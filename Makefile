# Two commands: `make run` (set up, then serve) and `make test` (set up, then the whole suite).
# Both are idempotent; the engine build and the virtual environment are cached.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
JS_STAMP := tests/js/node_modules/.installed

.PHONY: setup engine browser wrk postgres run test lint bench crash clean

setup: $(STAMP) engine

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $(STAMP)

engine:
	@./scripts/build-engine.sh

# Test-only clients from npm (the MongoDB shell), pinned by tests/js/package-lock.json.
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $(JS_STAMP)

# The browser tests drive Debian's chromium through Playwright (a browser download cannot work here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# wrk (a C load generator) drives bench_api and bench_load; `make test` runs every bench at its small size (tests/bench).
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

# Debian's PostgreSQL: the engine's PostgreSQL backend is tested on a primary and a streaming standby
# (tests/api/test_engine_standby.py) and FerretDB's own backend tests need a server (scripts/test-engine.sh).
postgres:
	@{ ls /usr/lib/postgresql/*/bin/initdb && command -v pg_autoctl; } >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq postgresql postgresql-15-auto-failover pg-auto-failover-cli; }

run: setup $(if $(filter postgresql,$(DDS_REPLICA_SET_STORAGE)),postgres)
	$(VENV)/bin/dds serve

test: setup $(JS_STAMP) browser wrk postgres
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src
	./scripts/test-engine.sh
	$(VENV)/bin/pytest -q

# The crash trials with more kill points than `make test` runs (every job kind, 6 delays).
crash: setup
	DDS_CRASH_DELAYS=0.02,0.1,0.3,0.6,1.0,2.0 $(VENV)/bin/pytest -q -m crash

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: setup wrk
	$(VENV)/bin/python -m bench.bench_instances
	$(VENV)/bin/python -m bench.bench_auth
	$(VENV)/bin/python bench/bench_backup.py --size-mb 1024
	$(VENV)/bin/python bench/bench_physical.py --size-mb 1024
	$(VENV)/bin/python bench/bench_backup_postgresql.py --size-mb 1024
	$(VENV)/bin/python bench/bench_pitr_postgresql.py
	$(VENV)/bin/python -m bench.bench_api
	$(VENV)/bin/python -m bench.bench_gateway
	$(VENV)/bin/python -m bench.bench_authz
	$(VENV)/bin/python bench/bench_archiver.py
	$(VENV)/bin/python -m bench.bench_load
	$(VENV)/bin/python -m bench.bench_engine

clean:
	rm -rf $(VENV) bin

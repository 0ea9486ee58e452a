# salesreports — every target sets up what it needs (idempotent; fast when already installed).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
SR      := $(VENV)/bin/salesreports
STAMP   := $(VENV)/.installed
SYSSTAMP := build/.sysdeps
AXE     := node_modules/axe-core/axe.min.js
PARAMS  ?= params/config.yaml
PERIOD  ?=
WORKERS ?=
REPS    ?= all
# make test: pytest-xdist workers, each running whole test files (TEST_WORKERS=0: one process)
TEST_WORKERS ?= 2
# fonts-noto-cjk: Japanese (and Chinese, Korean) pages and charts. postgresql: the tests start a throwaway server (tests/pgserver.py; its programs are in /usr/lib/postgresql/<v>/bin)
DEBIAN_PACKAGES := chromium poppler-utils fonts-liberation fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 postgresql

.PHONY: help setup sysdeps demo-data validate reports preview send lab kernel check docs lint format typecheck test \
        test-fast bench bench-kpis bench-plan bench-preview i18n i18n-check clean distclean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,lab,dask]'
	@touch $(STAMP)

setup: $(STAMP) sysdeps $(AXE) ## Create .venv and install the package, tools, Debian packages, axe-core and the pre-commit hook
	@if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/pre-commit install >/dev/null; fi

sysdeps: ## Install Debian packages (chromium, poppler-utils, fonts, postgresql) when missing
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# axe-core (the accessibility checker the browser tests inject into every page type), pinned by package-lock.json;
# installed when missing or when the lock changes
$(AXE): package.json package-lock.json | sysdeps
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 18+ with npm (Debian: apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(AXE)

data/demo/deals.csv: | $(STAMP)
	$(SR) demo-data --out data/demo

demo-data: $(STAMP) ## Build the deterministic demo data set in data/demo (SEED=7)
	$(SR) demo-data --out data/demo --seed $${SEED:-7}

validate: setup data/demo/deals.csv ## Validate the data source named in params/config.yaml
	$(SR) validate --params $(PARAMS)

reports: setup data/demo/deals.csv ## Demo data if absent, validate, run and render every scorecard (PERIOD=2026-10)
	$(SR) validate --params $(PARAMS) --quiet
	$(SR) run --params $(PARAMS) $(if $(PERIOD),--period $(PERIOD)) --reps $(REPS) $(if $(WORKERS),--workers $(WORKERS))

preview: setup data/demo/deals.csv ## One scorecard into build/preview/ (never the period's reports): make preview REP=R007 PERIOD=2026-10
	$(SR) preview --params $(PARAMS) --rep $${REP:-R001} $(if $(PERIOD),--period $(PERIOD)) $(if $(TEMPLATE),--template $(TEMPLATE))

send: setup ## Write scorecard emails to build/outbox (dry run); make send PERIOD=2026-10 SEND=1 sends them
	$(SR) send --params $(PARAMS) $(if $(PERIOD),--period $(PERIOD)) $(if $(SEND),--send,--dry-run)

# as root, JupyterLab wants --allow-root; without a display (a server, CI) it cannot open a browser: it prints the URL
LAB_FLAGS = $(if $(filter 0,$(shell id -u)),--allow-root) $(if $(DISPLAY)$(WAYLAND_DISPLAY),,--no-browser)
LAB_ARGS ?=
LAB_DIR ?= reports

kernel: $(STAMP) ## Install the project's Jupyter kernel "salesreports" (this .venv's Python) into the .venv
	$(PY) -m ipykernel install --sys-prefix --name salesreports --display-name "salesreports (.venv)" >/dev/null

lab: setup data/demo/deals.csv kernel ## Start JupyterLab on reports/ (LAB_DIR=...) with the project's kernel; LAB_ARGS="--port 8899" adds flags
	$(VENV)/bin/jupyter lab --notebook-dir=$(LAB_DIR) --ServerApp.ip=127.0.0.1 $(LAB_FLAGS) $(LAB_ARGS)

check: setup ## Lint the notebook templates (parameters cell, no outputs, executes)
	$(SR) check --params $(PARAMS)

docs: $(STAMP) ## Write docs/mapping.md (every key of source and settings files) from the models
	$(SR) mapping-docs --out docs/mapping.md

lint: $(STAMP) ## ruff lint + format check
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

typecheck: $(STAMP) ## mypy --strict over the package
	$(VENV)/bin/mypy src/salesreports

# the translation catalogs (salesreports.catalogs): messages.pot from the code, the templates' Markdown, the KPI
# registry and the coaching defaults; each language's .po updated (no fuzzy guesses, obsolete entries dropped)
LOCALES := src/salesreports/locale
i18n: $(STAMP) ## Extract the messages, update each language's catalog, compile the .mo files (then translate new entries)
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k N_ -k ngettext:1,2 --no-location --sort-output --omit-header --add-comments=TRANSLATORS: -o $(LOCALES)/messages.pot .
	@for lang in de es fr; do po=$(LOCALES)/$$lang/LC_MESSAGES/messages.po; \
	  if [ -f $$po ]; then $(VENV)/bin/pybabel -q update -i $(LOCALES)/messages.pot -o $$po -l $$lang \
	    --no-fuzzy-matching --ignore-obsolete --init-missing; \
	  else $(VENV)/bin/pybabel -q init -i $(LOCALES)/messages.pot -o $$po -l $$lang; fi; done
	$(VENV)/bin/pybabel -q compile -d $(LOCALES)

i18n-check: $(STAMP) ## Every message translated in every shipped catalog, no unused entries, .mo files current
	$(PY) -m salesreports.catalogs check

test: setup lint typecheck i18n-check ## Everything CI runs: lint, types, the whole test suite (notebooks, browser, SMTP) with coverage
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

test-fast: $(STAMP) ## The tests without notebooks, browser and slow markers
	$(PY) -m pytest -m "not notebooks and not browser and not slow" --no-cov

bench: setup data/demo/deals.csv ## Benchmark: naive loop vs fresh kernels vs fast mode (writes build/bench/results.json)
	$(PY) -m salesreports.bench reports

bench-kpis: setup ## Benchmark: load_dataset + every KPI on 10.8 million deals (targets 20 s, 4 GiB; writes build/bench/kpis.json)
	$(PY) -m salesreports.bench kpis

bench-plan: setup ## Benchmark: planning 1,000, 5,000 and 20,000 reps (memory and time curve; targets at 5,000: 3 GiB, 60 s; writes build/bench/plan.json)
	$(PY) -m salesreports.bench reports --plan-only --plan-reps 1000,5000,20000

bench-preview: setup data/demo/deals.csv ## Benchmark: one-off preview, a watch re-render, check (targets 4 s, 1 s, 3 s; writes build/bench/preview.json)
	$(PY) -m salesreports.bench preview --params $(PARAMS) --rep $${REP:-R007}

clean: ## Remove build outputs
	rm -rf build

distclean: clean ## Remove build outputs, demo data and the virtual environment
	rm -rf $(VENV) data/demo

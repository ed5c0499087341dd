# The two commands of the README: `make run` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint docs clean app app-assets system-deps

run: $(VENV)/.run-installed
	$(BIN)/sim run baseline

test: $(VENV)/.test-installed system-deps $(VENV)/.app-assets
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --nbmake tests notebooks

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# Regenerate the files derived from the schema and the data (tests fail when they are stale).
docs: $(VENV)/.run-installed
	$(BIN)/python -m tools.docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[test]"
	touch $@ $(VENV)/.run-installed

# The classroom page (sim app) and its browser tests: Debian's Chromium, and npm to fetch solara's
# browser files from the npm registry into the venv (so the page works offline). The script installs
# only what is missing and never Debian's npm beside NodeSource's Node.js (they conflict).
system-deps:
	scripts/system_deps.sh

$(VENV)/.app-assets: scripts/fetch_solara_assets.sh | $(BIN)/python system-deps
	scripts/fetch_solara_assets.sh $(VENV)/share/solara/cdn
	touch $@

app-assets: $(VENV)/.app-assets

$(VENV)/.app-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[app]"
	touch $@

app: $(VENV)/.app-installed $(VENV)/.app-assets
	$(BIN)/sim app

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis

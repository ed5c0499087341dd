# The two commands of the README: `make run` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint docs clean app app-assets system-deps

run: $(VENV)/.run-installed
	$(BIN)/sim run scenarios/baseline.yaml

test: $(VENV)/.test-installed system-deps $(VENV)/.app-assets
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --nbmake tests notebooks

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .

# Regenerate the files derived from the schema and the data (tests fail when they are stale).
docs: $(VENV)/.run-installed
	$(BIN)/python -m sim.docs_gen

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[test]"
	touch $@ $(VENV)/.run-installed

# The classroom page (sim app): Debian's Chromium for its browser tests, npm to fetch solara's browser
# files from the npm registry into the venv (so the page works offline), once (stamp file).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
system-deps:
	@test -x /usr/bin/chromium && command -v npm >/dev/null || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver npm; }

$(VENV)/.app-assets: scripts/fetch_solara_assets.sh | $(BIN)/python
	@command -v npm >/dev/null || $(MAKE) system-deps
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

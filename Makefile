# The two commands of the README: `make run` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint docs clean

run: $(VENV)/.run-installed
	$(BIN)/sim run scenarios/baseline.yaml

test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

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

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis

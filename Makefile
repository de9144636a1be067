# Each target sets up its own virtualenv with the pinned install, so a fresh machine
# with only Python 3.11 needs nothing else.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test validate bench soak ui clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/grok-assets demo

test: $(STAMP)
	$(BIN)/ruff check grok_assets grok_assets_tests benchmarks
	$(BIN)/ruff format --check grok_assets grok_assets_tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py --days 250 --seed 7

ui: $(STAMP)
	$(BIN)/grok-assets ui

validate: $(STAMP)
	env -i PATH="$(CURDIR)/$(BIN):/usr/bin:/bin" HOME="$(CURDIR)" $(BIN)/dagster definitions validate -w workspace.yaml

clean:
	rm -rf $(VENV) .dagster_home .pytest_cache .ruff_cache

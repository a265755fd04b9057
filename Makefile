# Two commands: `make demo` runs the gateway on demo data, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test pytest lint install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The SDK (sdk/python) is a separate distribution; it shares the venv so its tests can
# start the gateway.
install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]' -e sdk/python
	$(BIN)/python -m gateway.assets

demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m gateway.assets
	$(BIN)/analytics-gateway demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd sdk/python && $(abspath $(BIN))/mypy

# Two runs: the server's tests/ and the SDK's tests/ are different `tests` packages.
pytest: install
	$(BIN)/pytest
	cd sdk/python && $(abspath $(BIN))/pytest

test: lint pytest

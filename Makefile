# One entry point for people and CI. `make demo` and `make test` each set up what they need.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= slow-database

.PHONY: venv demo test unit lint bench lab clean

$(BIN)/festsafe-nb: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(BIN)/festsafe-nb

## Run the High Latency runbook headless on the embedded demo environment; prints the report path.
demo: venv
	$(BIN)/festsafe-nb run high-latency --env demo -p scenario=$(SCENARIO)

## Lint, type-check and run every test (integration tests start their own services).
test: venv lint
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest -m "not integration and not browser"

lint: venv
	$(BIN)/ruff check festsafe_nb tests bench
	$(BIN)/ruff format --check festsafe_nb tests bench
	$(BIN)/mypy festsafe_nb

bench: venv
	$(BIN)/python bench/run_all.py

## Open the runbooks in JupyterLab (loopback only).
lab: venv
	$(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Every target sets up .venv itself, so each works on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench policies clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)  ## start the service on its embedded default (SQLite, policies/)
	$(BIN)/govsvc serve

test: $(STAMP)  ## run the test suite (needs PostgreSQL on 127.0.0.1:5432)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)  ## formatting, lint and types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

policies: $(STAMP)  ## check, format-check and test the shipped policies
	$(BIN)/govsvc policy check policies/
	$(BIN)/govsvc policy fmt --check policies/
	$(BIN)/govsvc policy test policies/

bench: $(STAMP)  ## benchmarks, run apart from the suite
	for b in tests/bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .govsvc

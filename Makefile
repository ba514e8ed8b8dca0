# Two commands a new user needs: `make run` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check bench clean lock

# Installs come from the lock file (exact versions, hashes checked); `make lock` refreshes it.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 --quiet

lock: $(STAMP)  ## re-resolve the pinned versions within pyproject.toml's ranges
	$(BIN)/pip install --quiet 'uv>=0.13,<0.14'
	$(UV_COMPILE) --upgrade -o requirements.lock
	$(UV_COMPILE) --upgrade --extra dev --extra bench -o requirements-dev.lock
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock

run: $(STAMP)  ## start the daemon on the embedded SQLite default
	$(BIN)/cphpost-monitor db upgrade
	$(BIN)/cphpost-monitor run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck  ## ruff, mypy and the whole pytest suite
	$(BIN)/pytest

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

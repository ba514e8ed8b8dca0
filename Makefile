# Two commands a new user needs: `make run` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-stress lint typecheck check bench clean lock

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

# The whole suite, one process per core: most e2e time is waiting on subprocesses and servers,
# so two workers halve CI's wall time on two cores (the tests wait for events, not for quiet).
TEST_WORKERS ?= 2
test: lint typecheck  ## ruff, mypy and the whole pytest suite
	$(BIN)/pytest -n $(TEST_WORKERS)

FAST_MARKERS := not e2e and not scale and not bench and not postgres
WORKERS ?= auto

test-fast: $(STAMP)  ## the inner loop: all but the e2e, scale, bench and PostgreSQL tests, a tenth of the property examples, one process per core
	HYPOTHESIS_PROFILE=fast $(BIN)/pytest -q -n $(WORKERS) -m "$(FAST_MARKERS)" $(ARGS)

# A pytest selection beside a CPU hog on every core: make test-stress TESTS=tests/scale RUNS=3
TESTS ?= tests
RUNS ?= 1
test-stress: $(STAMP)  ## $(TESTS) $(RUNS) times in a row under load (tests/stress.sh)
	tests/stress.sh --runs $(RUNS) -- $(TESTS) $(ARGS)

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

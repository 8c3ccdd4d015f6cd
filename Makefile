# Two commands for a newcomer: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export TIERING_HOME ?= $(CURDIR)/data
DEMO_CLIENTS ?= 2000
DEMO_MONTHS ?= 24
DEMO_START ?= 2024-11
DEMO_SEED ?= 20261128
# Test files run side by side on pytest-xdist workers, a file per worker (its fixtures built once):
# most of a test's time is dbt's and Dagster's single-threaded Python, so two workers on two
# cores halve the suite. The longest files are handed out first (tests/conftest.py keeps their
# order; --no-loadscope-reorder stops xdist ordering files by their number of tests).
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= logical

.PHONY: run test setup setup-spark demo-data refresh serve clean test-spark bench

$(BIN)/tiering: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

setup: $(BIN)/tiering

# A demo landing zone, simulated once; delete $(TIERING_HOME) to start again.
demo-data: setup
	@if [ ! -d "$${TIERING_LANDING_DIR:-$(TIERING_HOME)/landing}" ]; then \
		$(BIN)/tiering simulate --out "$${TIERING_LANDING_DIR:-$(TIERING_HOME)/landing}" \
			--truth "$(TIERING_HOME)/truth" --clients $(DEMO_CLIENTS) --months $(DEMO_MONTHS) \
			--start $(DEMO_START) --seed $(DEMO_SEED); \
	fi

run: demo-data
	$(BIN)/tiering refresh

test: setup
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests

serve: demo-data
	$(BIN)/tiering serve

# The same project built on DuckDB and on Spark (local, pyspark) over a small simulation, and
# compared (tests/spark, docs/scaling.md). Needs Java 17; installs the `spark` extra (pinned in
# requirements-spark.lock, on top of requirements.lock) into the same venv.
$(VENV)/.spark-installed: $(BIN)/tiering requirements-spark.lock
	@command -v java >/dev/null || { echo "the spark extra (pyspark) needs Java 17 on PATH" >&2; exit 1; }
	$(BIN)/pip install --quiet -c requirements.lock -c requirements-spark.lock -e '.[spark]'
	@touch $@

setup-spark: $(VENV)/.spark-installed

test-spark: setup-spark
	@command -v java >/dev/null || { echo "make test-spark needs Java 17 on PATH" >&2; exit 1; }
	TIERING_TEST_SPARK=1 $(BIN)/pytest -q -s tests/spark

clean:
	rm -rf $(VENV) data target logs reports

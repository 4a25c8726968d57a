# press-monitor. `make run` and `make test` each set up their own .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test replay lint bench bench-quick clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "press-monitor needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

## Run the daemon on the example config with SQLite.
run: $(STAMP)
	$(BIN)/monitor run

## Run the whole test suite (PostgreSQL too when MONITOR_TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest

## Replay the seed texts into the configured database.
replay: $(STAMP)
	$(BIN)/monitor replay seeds/

## Benchmarks with their own local feed server (never part of `make test`); see bench/README.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

## The same at a tenth of the size (about 1.5 minutes).
bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) var .pytest_cache

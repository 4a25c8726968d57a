# press-monitor. `make run` and `make test` each set up their own .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-packages replay lint bench bench-quick clean

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
test: $(STAMP) test-packages
	$(BIN)/python -m pytest

## Debian packages some tests drive: the browser test (chromium, chromium-driver) and
## the unit check (systemd-analyze). Installed only when missing, only as root with
## apt-get; otherwise the line to run is printed and those tests skip (fail under CI=true).
test-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make test: installing$$missing (apt-get) for the browser and unit tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-get update -qq && apt-get install -y -qq$$missing >/dev/null; } \
			|| echo "make test: could not install$$missing; those tests will skip (fail under CI=true)"; \
	else \
		echo "make test: these tests need Debian packages that are missing; install them with:"; \
		echo "    sudo apt-get install$$missing"; \
		echo "(without them those tests skip; under CI=true they fail)"; \
	fi

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

# Shopkeeper: `make run` serves MCP over stdio, `make test` runs every check CI runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: run test lint typecheck contracts pytest browser bench format clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime pyproject.toml
	$(PIP) install --quiet -e ".[dev]"
	touch $@

## run: set up (first time) and serve MCP over stdio on the default SQLite database
run: $(VENV)/.runtime
	$(VENV)/bin/shopkeeper-mcp

## test: set up the dev tools (first time), then ruff, pyright (strict), import-linter and pytest
test: lint typecheck contracts pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.dev
	$(VENV)/bin/pyright

contracts: $(VENV)/.dev
	$(VENV)/bin/lint-imports

pytest: $(VENV)/.dev browser
	$(PY) -m pytest

## browser: Debian's Chromium and ChromeDriver for the approval page's browser test (installed when missing and apt-get can)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and chromium-driver (apt-get) for the browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
		|| { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }; \
	else echo "note: the browser test needs chromium and chromium-driver (e.g. sudo apt-get install chromium chromium-driver)"; fi

## bench: cold start, latency, memory and the order tools over 1,000,000 seeded orders against a bare MCP echo
## server, measured in one run (minutes; BENCH_ARGS="--quick" for a smoke run, "--orders 0" skips the orders)
BENCH_ARGS ?=
bench: $(VENV)/.dev
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info

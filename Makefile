# Shopkeeper: `make run` serves MCP over stdio, `make test` runs every check CI runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: run test lint typecheck contracts pytest test-servers bench format clean dist bundle

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

pytest: $(VENV)/.dev test-servers
	$(PY) -m pytest

## test-servers: what some tests start for themselves: Debian's Chromium and ChromeDriver (the approval
## page in a browser) and PostgreSQL 15's server programs; installed when missing and apt-get can
test-servers:
	@missing=""; \
	{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || missing="chromium chromium-driver"; \
	{ [ -x "$$(pg_config --bindir 2>/dev/null)/initdb" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
		|| missing="$$missing postgresql-15"; \
	if [ -z "$$missing" ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing$$missing (apt-get) for the tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
		|| { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }; \
	else echo "note: some tests need$$missing (e.g. sudo apt-get install$$missing)"; fi

## bench: cold start, latency, memory and the order tools over 1,000,000 seeded orders against a bare MCP echo
## server, on SQLite and on a throwaway PostgreSQL, and orders_place from 1/4/16 clients, measured in one run
## (minutes; BENCH_ARGS="--quick" for a smoke run, "--orders 0" skips the orders, "--engines sqlite" skips PostgreSQL,
## "--skip-basics" skips cold start/latency/memory; 16 HTTP clients against 2 workers and echo: "--skip-http" skips them)
BENCH_ARGS ?=
bench: $(VENV)/.dev
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

## dist: the wheel and the sdist in dist/ (pip install them, or uvx --from the wheel). PYTHONDONTWRITEBYTECODE
## is dropped for the build only: with it, setuptools prints a "byte-compiling is disabled" warning per step.
dist: $(VENV)/.dev
	rm -f dist/shopkeeper_mcp-*.whl dist/shopkeeper_mcp-*.tar.gz
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m build --outdir dist .

## bundle: dist/shopkeeper-<version>.mcpb, an MCP Bundle for desktop hosts, its dependencies built for this
## machine's platform and Python (packaging/build_bundle.py); checked with the mcpb CLI when npx is there
## (MCPB_VALIDATE=0 skips that check, e.g. offline)
MCPB_VALIDATE ?= 1
bundle: dist
	rm -f dist/shopkeeper-*.mcpb
	$(PY) packaging/build_bundle.py --wheel dist/shopkeeper_mcp-*.whl --out dist
	@if [ "$(MCPB_VALIDATE)" = 1 ] && command -v npx >/dev/null; then \
		tmp=$$(mktemp -d) && $(PY) -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("manifest.json", sys.argv[2])' \
			dist/shopkeeper-*.mcpb $$tmp \
		&& npx --yes @anthropic-ai/mcpb@2.1.2 validate $$tmp/manifest.json; status=$$?; rm -rf $$tmp; exit $$status; \
	else echo "note: the manifest was not checked with the mcpb CLI (needs npx; MCPB_VALIDATE=$(MCPB_VALIDATE))"; fi

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info

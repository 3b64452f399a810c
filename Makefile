# costops: `make demo` and `make test` work on a fresh clone; `make` creates .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DEMO_DB := demo.duckdb
N ?= 1000000

.PHONY: install test test-fast check-wheel lint format demo readme bench bench-claude-code bench-spark scale browser java screenshot sample prices clean

install: $(STAMP)

# $(call venv-install,PIP_FLAGS,EXTRAS): create .venv if missing, install costops editable, stamp $@.
define venv-install
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "costops needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(1) --upgrade pip
	$(PY) -m pip install $(1) -e '.$(2)'
	touch $@
endef

$(STAMP): pyproject.toml
	$(call venv-install,--quiet,[dev])

# pytest exits 5 when it collects no tests: that is a failure here, not a pass.
test: $(STAMP)
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

# For local loops: everything but the tests marked slow (fuzz, kill, bombs). CI runs `make test`.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

# The built wheel, installed into a fresh venv outside the checkout, runs the demo (.ci/run).
check-wheel: $(STAMP)
	bash scripts/check-wheel.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check costops tests sample_logs scripts benchmarks
	$(VENV)/bin/ruff format --check costops tests sample_logs scripts benchmarks
	$(VENV)/bin/mypy costops

format: $(STAMP)
	$(VENV)/bin/ruff format costops tests sample_logs scripts benchmarks
	$(VENV)/bin/ruff check --fix costops tests sample_logs scripts benchmarks

# The demo needs costops, not the test and lint tools: a venv that has the dev install serves as
# is, else only the runtime dependencies go in (-qq: pip's notes are not the demo's output).
RUN_STAMP := $(VENV)/.installed-run
DEMO_STAMP = $(if $(wildcard $(STAMP)),$(STAMP),$(RUN_STAMP))

$(RUN_STAMP): pyproject.toml
	$(call venv-install,-qq,)

demo: $(DEMO_STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB).wal
	$(VENV)/bin/costops ingest sample_logs --timestamp 2026-03-20T12:00:00Z --db $(DEMO_DB)
	$(VENV)/bin/costops report --by feature --db $(DEMO_DB)
	$(VENV)/bin/costops report --by model --db $(DEMO_DB)
	$(VENV)/bin/costops simulate caching --ttl best --db $(DEMO_DB)
	$(VENV)/bin/costops dashboard -o dashboard.html --config sample_logs/costops.yaml --embeddings sample_logs/embeddings.parquet --db $(DEMO_DB)
	@echo
	@echo "dashboard: $$(pwd)/dashboard.html"
	@echo "next: costops is in .venv; activate it (or call .venv/bin/costops) and use the demo database:"
	@echo "  source .venv/bin/activate"
	@echo "  export COSTOPS_DB=$(DEMO_DB)"
	@echo "  costops simulate plan --features translate,doc-summarize"
	@echo "  costops simulate semantic-cache --embeddings sample_logs/embeddings.parquet --labels sample_logs/embedding_labels.csv --sweep 0.86:0.98:0.02"
	@echo "  costops --help    # every command, with real output: docs/commands.md"

# Re-run the examples in README.md and docs/commands.md on a fresh demo.duckdb and paste their
# real output (CI fails when that changes either file).
readme: $(STAMP)
	$(PY) scripts/readme_examples.py

# Benchmarks at N requests (default 1M); writes BENCHMARKS.md. Data is generated, not committed.
bench: $(STAMP)
	$(PY) benchmarks/bench.py --n $(N)
	$(PY) benchmarks/semantic.py --db bench_out/$(N)/bench.duckdb

# After `make bench N=…`: a store COPIES times that size, and report on it (appends to BENCHMARKS.md).
COPIES ?= 10
scale: $(STAMP)
	$(PY) benchmarks/scale.py --db bench_out/$(N)/bench.duckdb --copies $(COPIES)

# After `make bench N=10000000`: the Spark engine (local) beside DuckDB on that store, over the
# Parquet lake `ingest --to` writes (its own section of BENCHMARKS.md).
SPARK_N ?= 10000000
bench-spark: $(STAMP) java
	$(PY) benchmarks/spark.py --n $(SPARK_N)

# Generated Claude Code session folders, costops against ccusage (npm, into bench_out/node) on
# each; writes its own section of BENCHMARKS.md.
SESSIONS ?= 600 6000
bench-claude-code: $(STAMP)
	$(PY) benchmarks/claude_code.py --sessions $(SESSIONS)

# Debian's Chromium for the dashboard's browser test (skipped where it is missing).
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || $(SUDO) apt-get install -y chromium \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

# Java 17 for the Spark engine's local sessions (`--engine spark`, tests/test_spark.py).
java:
	@command -v java >/dev/null 2>&1 || $(SUDO) apt-get install -y openjdk-17-jre-headless \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y openjdk-17-jre-headless)

# The README's dashboard picture, from the demo database.
screenshot: demo browser
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
		--disable-component-update --disable-sync --user-data-dir=$$(mktemp -d) --hide-scrollbars \
		--window-size=1400,1900 --virtual-time-budget=10000 \
		--screenshot=docs/dashboard.png file://$$(pwd)/dashboard.html

# The packaged pricing tables from the installed genai-prices data + scripts/prices/overrides.yaml
# (review the diff of costops/pricing_data/ before committing).
prices: $(STAMP)
	$(PY) scripts/make_prices.py
	$(VENV)/bin/costops pricing check

# Regenerate the committed sample (deterministic: same seed, same bytes).
sample: $(STAMP)
	$(PY) sample_logs/generate.py --seed 7 --out sample_logs

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB).wal dashboard.html .pytest_cache .mypy_cache .ruff_cache

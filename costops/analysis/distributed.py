"""An analysis session on Spark: the source registered, pricing sent as small tables, the priced
views built, so every analysis reads the same names it reads on DuckDB.

Pricing is loaded and model names matched in a local DuckDB (the pricing tables are small: a few
thousand rows), then each table is sent to Spark, which broadcasts it in the pricing joins. The
requests are priced by the same SQL (costops.rates.cost, costops.analysis.units) transpiled.
The evals' targets and the units' verdicts are materialised (once per lake and prices in a
process); the priced requests stay a view, so Spark prices only the columns a query reads. The
rollup and the stored cache are DuckDB's: on Spark every report reads the priced requests.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from costops.analysis import units
from costops.analysis.cache import STORED_REQUESTS
from costops.analysis.exact import MACROS_SQL
from costops.engine import select_list
from costops.engine.portable import to_spark
from costops.engine.spark import SparkEngine, spark_errors, start
from costops.errors import UsageError
from costops.ingest.lake import MANIFEST
from costops.rates.cost import (
    PRICED_VIEW_SQL,
    PRICING_TABLES,
    RAW_RATE_COLUMNS,
    load_price_tables,
    pricing_fingerprint,
)
from costops.rates.match import map_models
from costops.rates.tables import load_tables, pricing_sources
from costops.store.migrations import migrate

# The model names the source logs (what model matching needs), read on Spark.
SOURCE_NAMES_SQL = """
SELECT DISTINCT provider, model FROM requests
UNION SELECT DISTINCT NULL AS provider, model FROM evals WHERE model IS NOT NULL
"""
# Model matching in the local DuckDB reads them from here (and a cascade's extra names).
LOCAL_NAMES_SQL = """
    SELECT provider, model FROM _source_names
    UNION SELECT DISTINCT provider, model FROM extra_models
"""
SHIPPED_TABLES = (*PRICING_TABLES, "extra_models")
# The SQL the kept views come from (a new costops computes them afresh).
CODE = "\0".join([units.EVAL_TARGETS_SQL, units.UNIT_STATUS_SQL])
MATCHED_TABLES = ("model_candidates", "model_map", "name_versions", "extra_models")

# The unit views, each materialised once: evals get a key of their own (Spark's, kept by the
# materialisation; one line may hold several evals), requests none (no position to keep).
SCOPED_EVALS_SPARK_SQL = "SELECT monotonically_increasing_id() AS eval_row, * FROM evals"
SCOPED_REQUESTS_SQL = "SELECT CAST(NULL AS BIGINT) AS request_row, * FROM requests"


class PricedSparkEngine(SparkEngine):
    """The Spark engine with the local DuckDB that matched its model names."""

    def __init__(self, engine: SparkEngine, pricing: duckdb.DuckDBPyConnection) -> None:
        super().__init__(engine.spark)
        self.pricing = pricing

    def add_model_names(self, names: list[tuple[str | None, str]]) -> None:
        """Make names no logged request uses priceable (a cascade's candidate)."""
        self.pricing.executemany("INSERT INTO extra_models VALUES (?, ?)", names)
        map_models(self.pricing, LOCAL_NAMES_SQL)
        _ship(self.pricing, self, MATCHED_TABLES)


@contextmanager
def spark_session(
    target: str, source: str, pricing_dirs: list[str] | None = None
) -> Iterator[PricedSparkEngine]:
    """An engine on `target` (costops.engine.spark.start) over `source`, priced."""
    engine = SparkEngine(start(target))
    pricing = duckdb.connect()
    try:
        with spark_errors():  # reading the source and building the views, as one line too
            yield _priced(engine, source, pricing_dirs, pricing)
    finally:
        pricing.close()


def _priced(
    engine: SparkEngine,
    source: str,
    pricing_dirs: list[str] | None,
    pricing: duckdb.DuckDBPyConnection,
) -> PricedSparkEngine:
    """The source registered, the pricing tables loaded and matched in `pricing` (a local
    DuckDB) and sent, the priced views built."""
    migrate(pricing, ":memory:")  # the store's tables: their columns are what Spark reads
    register_source(engine, source, pricing)
    pricing.execute("SET TimeZone = 'UTC'")
    pricing.execute(MACROS_SQL)
    tables = load_tables(sources=pricing_sources(pricing_dirs))
    load_price_tables(pricing, tables)
    names = engine.execute(SOURCE_NAMES_SQL).fetchall()
    pricing.execute("CREATE TEMP TABLE _source_names (provider VARCHAR, model VARCHAR)")
    if names:
        pricing.executemany("INSERT INTO _source_names VALUES (?, ?)", names)
    map_models(pricing, LOCAL_NAMES_SQL)
    priced = PricedSparkEngine(engine, pricing)
    _ship(pricing, priced, SHIPPED_TABLES)
    _build_views(priced, _reuse_key(source, pricing_fingerprint(tables.content_hash)))
    return priced


def register_source(engine: SparkEngine, source: str, store: duckdb.DuckDBPyConnection) -> None:
    """`requests` and `evals` from a lake written by `costops ingest --to DIR` (any path Spark
    reads: a folder, s3a://…, abfss://…) or from catalog tables (`table:catalog.schema.requests`:
    evals from the table `evals` beside it, when there is one), with the columns of `store`'s
    tables (a migrated DuckDB)."""
    spark = engine.spark
    if source.startswith("table:"):
        name = source[len("table:") :]
        requests = spark.table(name)
        evals_name = ".".join([*name.split(".")[:-1], "evals"])
        evals = spark.table(evals_name) if spark.catalog.tableExists(evals_name) else None
    else:
        base = source.rstrip("/")
        requests = _read_parquet(engine, f"{base}/requests", source)
        evals = _read_parquet(engine, f"{base}/evals", None)
    engine.register("requests", requests.select(*(c for c, _ in _described(store, "requests"))))
    if evals is None:  # no evals anywhere: an empty table with their columns
        engine.upload("evals", _described(store, "evals"), [])
    else:
        engine.register("evals", evals.select(*(c for c, _ in _described(store, "evals"))))


def _read_parquet(engine: SparkEngine, path: str, required: str | None) -> Any:
    """The Parquet files under `path`; None where there are none (and `required` is None),
    a one-line error naming `required` where they are required. Other failures (access,
    damage) are Spark's errors."""
    from pyspark.errors import AnalysisException

    try:
        return engine.spark.read.parquet(path)
    except AnalysisException as exc:
        if exc.getCondition() not in ("PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA"):
            raise
        if required is None:
            return None
        raise UsageError(
            f"--source {required}: no lake there ({path}: write one with "
            "`costops ingest LOGS --to DIR`)"
        ) from exc


def _described(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """A local table's columns: (name, DuckDB type), in order."""
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {table}").fetchall()]


def _ship(pricing: duckdb.DuckDBPyConnection, engine: SparkEngine, tables: tuple[str, ...]) -> None:
    for table in tables:
        rows = pricing.execute(f"SELECT * FROM {table}").fetchall()
        engine.upload(table, _described(pricing, table), rows)


def _build_views(engine: SparkEngine, key: str | None) -> None:
    """priced_requests, eval_targets, unit_status and evaluated_requests, as on DuckDB; the
    evals' targets and the units' verdicts are computed once per `key` in this process."""
    engine.execute(PRICED_VIEW_SQL)
    once = functools.partial(_materialise_once, engine, key)
    once("scoped_evals", SCOPED_EVALS_SPARK_SQL)
    once("_targets", to_spark(units.EVAL_TARGETS_SQL))
    evals = select_list(engine, "evals", prefix="e.")
    engine.execute(
        f"CREATE OR REPLACE TEMP VIEW eval_targets AS SELECT {evals}, t.unit_id, "
        "t.eval_model_key, t.shadow FROM scoped_evals e JOIN _targets t ON t.eval_row = e.eval_row"
    )
    engine.execute("CREATE OR REPLACE TEMP VIEW scoped_targets AS SELECT * FROM eval_targets")
    once("unit_status", to_spark(units.UNIT_STATUS_SQL))
    engine.execute(f"CREATE OR REPLACE TEMP VIEW scoped_requests AS {SCOPED_REQUESTS_SQL}")
    query = f"({units.EVALUATED_REQUESTS_SQL})"
    dropped = ["request_row", *(c.strip() for c in RAW_RATE_COLUMNS.split(","))]
    kept = select_list(engine, query, exclude=dropped)
    # a view: Spark prices only the columns a query reads (materialising every priced column
    # of every request would hold the whole table in the executors' memory)
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {STORED_REQUESTS} AS SELECT {kept} FROM {query}")
    engine.execute(
        f"CREATE OR REPLACE TEMP VIEW evaluated_requests AS SELECT * FROM {STORED_REQUESTS}"
    )
    shown = select_list(engine, "evaluated_requests", exclude=["unit_evaluated", "unit_success"])
    engine.execute(
        f"CREATE OR REPLACE TEMP VIEW priced_requests AS SELECT {shown} FROM evaluated_requests"
    )


# What this process has computed in a SparkSession: (session, view) -> the key it was built for.
_KEPT: dict[tuple[int, str], str] = {}


def _reuse_key(source: str, pricing_hash: str) -> str | None:
    """What the evals' targets and the verdicts depend on: the lake (its manifest changes with
    every source file written) and the prices. None, so computed every time, for a source
    whose content this process cannot see (a catalog table, an object store)."""
    manifest = Path(source) / MANIFEST
    if source.startswith("table:") or not manifest.is_file():
        return None
    seen = f"{source}\0{manifest.read_text(encoding='utf-8')}\0{pricing_hash}\0{CODE}"
    return hashlib.sha256(seen.encode()).hexdigest()


def _materialise_once(engine: SparkEngine, key: str | None, name: str, spark_sql: str) -> None:
    kept = (id(engine.spark), name)
    if key is not None and _KEPT.get(kept) == key and engine.spark.catalog.tableExists(name):
        return
    engine.materialise(name, spark_sql)
    if key is not None:
        _KEPT[kept] = key

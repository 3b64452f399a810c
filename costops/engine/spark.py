"""The Spark engine: costops' SQL on a SparkSession, local (`--engine spark`) or a cluster over
Spark Connect (`--engine sc://HOST:PORT`, Databricks Connect included).

Statements arrive in DuckDB's dialect and are transpiled (costops.engine.portable). A temp table
becomes a temp view over a materialised result (a local checkpoint: computed once, lineage cut);
an INSERT into one re-materialises it with the new rows. Results come back as tuples, with the
column names costops gave them and timestamps as UTC wall-clock times, as DuckDB gives them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from costops.engine.portable import DOT, parse, rewrite, spark_sql
from costops.errors import EngineError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Every session: UTC (costops stores UTC times), and the optimizer's constraint propagation off
# (it ran out of memory at 2 GB planning the FOCUS query: a known Spark problem with wide CASE
# trees). Local sessions also keep shuffles small: the intermediates are small once aggregated.
SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.constraintPropagation.enabled": "false",
}
LOCAL_SETTINGS = {
    "spark.log.level": "OFF",  # costops reports Spark's errors itself, in one line
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "2g",
    # costops writes no tables: no spark-warehouse folder in the user's working directory
    "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "costops-spark-warehouse"),
}
# DuckDB's type names (as DESCRIBE gives them) for a small table sent to Spark.
SPARK_TYPES = {"VARCHAR": "STRING", "TEXT": "STRING", "TIMESTAMP": "TIMESTAMP_NTZ",
               "BIGINT": "BIGINT", "INTEGER": "INT", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN",
               "DATE": "DATE", "HUGEINT": "DECIMAL(38, 0)"}  # fmt: skip


def start(target: str) -> SparkSession:
    """A SparkSession for `--engine`: `spark` (local, every core), `local[N]`, or
    `sc://HOST:PORT` (Spark Connect)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise UsageError(
            "--engine spark needs pyspark: pip install 'costops[spark]' (and Java 17)"
        ) from exc
    builder = SparkSession.builder.appName("costops")
    if target.startswith("sc://"):
        builder = builder.remote(target)
    else:
        builder = builder.master("local[*]" if target == "spark" else target)
        for key, value in LOCAL_SETTINGS.items():
            builder = builder.config(key, value)
    for key, value in SETTINGS.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, an unreachable cluster: one line, not a JVM trace
        first = _first_line(str(exc), type(exc).__name__)
        raise UsageError(f"--engine {target}: Spark did not start: {first}") from exc
    return spark


class SparkCursor:
    """A query's result, fetched on first use."""

    def __init__(self, frame: DataFrame | None) -> None:
        self._frame = frame
        self._rows: list[tuple[Any, ...]] | None = None

    @property
    def description(self) -> list[tuple[str, str]]:
        if self._frame is None:
            return []
        with spark_errors():  # Spark Connect analyses the query when its schema is asked for
            fields = self._frame.schema.fields
        return [(f.name.replace(DOT, "."), f.dataType.simpleString()) for f in fields]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._fetched(), []
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._fetched()
        return rows.pop(0) if rows else None

    def _fetched(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            with spark_errors():
                self._rows = [] if self._frame is None else _collect(self._frame)
        return self._rows


@contextmanager
def spark_errors() -> Iterator[None]:
    """Spark's errors (an analysis error, a lost executor) as one line, exit 5."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as exc:
        raise EngineError(f"Spark: {_first_line(str(exc), type(exc).__name__)}") from exc
    except Py4JJavaError as exc:  # a failed job (a damaged file): the Java exception says why
        cause = str(exc.java_exception.toString())
        raise EngineError(f"Spark: {_first_line(cause, 'a Spark job failed')}") from exc


def _first_line(text: str, otherwise: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else otherwise


def _collect(frame: DataFrame) -> list[tuple[Any, ...]]:
    """Rows as tuples; timestamps read as UTC wall-clock times (PySpark would give the local
    time of this process's zone for Spark's zone-aware TIMESTAMP)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    zoned = [f.name for f in frame.schema if isinstance(f.dataType, TimestampType)]
    if zoned:
        frame = frame.select(
            *(
                F.col(f"`{f.name}`").cast("timestamp_ntz").alias(f.name)
                if f.name in zoned
                else F.col(f"`{f.name}`")
                for f in frame.schema
            )
        )
    return [tuple(row) for row in frame.collect()]


class SparkEngine:
    """An engine (costops.engine.Engine) over a SparkSession."""

    engine_name = "spark"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def execute(self, sql: str, parameters: Sequence[object] | None = None) -> SparkCursor:
        """Run one statement of costops' SQL; Spark's failure is one line (EngineError)."""
        with spark_errors():
            return self._execute(sql, parameters)

    def _execute(self, sql: str, parameters: Sequence[object] | None) -> SparkCursor:
        args = {f"p{i}": _literal(v) for i, v in enumerate(parameters or [])}
        tree = rewrite(parse(sql))
        if isinstance(tree, exp.Create) and tree.kind == "TABLE":
            self._create_table(tree, args)
        elif isinstance(tree, exp.Insert):
            name = _table_name(tree.this)
            added = tree.expression
            rows = (
                f"SELECT * FROM {spark_sql(added)}"
                if isinstance(added, exp.Values)
                else spark_sql(added)
            )
            self.materialise(name, f"SELECT * FROM `{name}` UNION ALL {rows}", args)
        elif isinstance(tree, exp.Drop):
            for table in tree.args["tables"]:
                self.spark.catalog.dropTempView(table.name)
        else:
            frame = self.spark.sql(spark_sql(tree), args=args or None)
            return SparkCursor(None if isinstance(tree, exp.Create) else frame)
        return SparkCursor(None)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        for row in rows:
            self.execute(sql, row)

    def materialise(self, name: str, spark_sql: str, args: dict[str, Any] | None = None) -> None:
        """Compute a query (Spark's dialect) once and name its result: a temp view over a local
        checkpoint."""
        frame = self.spark.sql(spark_sql, args=args or None).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)

    def register(self, name: str, frame: DataFrame) -> None:
        """A source (a lake's table, a catalog table) under the name costops' SQL reads."""
        frame.createOrReplaceTempView(name)

    def upload(self, name: str, columns: Sequence[tuple[str, str]], rows: list[Any]) -> None:
        """A small table from this process (a pricing table), broadcast to every join it is in:
        Spark cannot size a table made from Python rows, and would shuffle every request to
        join it."""
        from pyspark.sql.functions import broadcast

        schema = ", ".join(f"`{c}` {spark_type(t)}" for c, t in columns)
        broadcast(self.spark.createDataFrame(rows, schema=schema)).createOrReplaceTempView(name)

    def _create_table(self, tree: exp.Create, args: dict[str, Any]) -> None:
        if tree.expression is not None:
            self.materialise(_table_name(tree.this), spark_sql(tree.expression), args)
            return
        schema = tree.this
        assert isinstance(schema, exp.Schema)
        columns = [(c.name, c.args["kind"].sql("duckdb")) for c in schema.expressions]
        self.upload(_table_name(schema), columns, [])


def _table_name(node: exp.Expr) -> str:
    table = node.this if isinstance(node, exp.Schema) else node
    assert isinstance(table, exp.Table)
    return table.name


def spark_type(duckdb_type: str) -> str:
    """Spark's name for a DuckDB column type (of the few costops' tables use)."""
    base = duckdb_type.upper()
    if base.startswith("DECIMAL"):
        return base
    try:
        return SPARK_TYPES[base]
    except KeyError:
        raise UsageError(f"--engine spark: no Spark type for {duckdb_type}") from None


def _literal(value: object) -> object:
    """A bound value as Spark takes it (its named parameters take Python literals)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value

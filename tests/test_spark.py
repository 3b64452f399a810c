"""The Spark engine against DuckDB: the same analyses, the same numbers (a differential test).

Every analysis runs on the demo month twice, on the DuckDB store and on Spark over the Parquet
lake `ingest --to` wrote beside it, and the JSON must agree: counts and text exactly, money and
ratios within 1e-9 relative (Spark adds doubles in another order; costops' exact sums are
DECIMAL on both). The hand-computed report fixture (tests/test_report.py) must give its hand
values on Spark too. One local SparkSession serves the module.

Spark needs Java 17 and pyspark (`pip install 'costops[spark]'`); without them the tests skip,
except where COSTOPS_REQUIRE_SPARK=1 (CI) makes that a failure.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, FIXTURE_PRICING

pytestmark = pytest.mark.spark
LOCAL = "local[2]"
RELATIVE = 1e-9


@pytest.fixture(scope="module", autouse=True)
def spark() -> Any:
    """The module's SparkSession (every --engine local[2] below gets this one)."""
    missing = [what for what, ok in (("pyspark", importlib.util.find_spec("pyspark")),
                                     ("java", shutil.which("java"))) if not ok]  # fmt: skip
    if missing:
        message = f"the Spark engine needs {' and '.join(missing)}"
        if os.environ.get("COSTOPS_REQUIRE_SPARK") == "1":
            pytest.fail(message + " (COSTOPS_REQUIRE_SPARK=1)")
        pytest.skip(message)
    from costops.engine.spark import start

    return start(LOCAL)


def same(duckdb_value: Any, spark_value: Any, where: str = "") -> None:
    """Equal: exactly, or within RELATIVE for floats (money, ratios)."""
    if isinstance(duckdb_value, float) and isinstance(spark_value, float | int):
        assert math.isclose(duckdb_value, spark_value, rel_tol=RELATIVE, abs_tol=1e-12), where
    elif isinstance(duckdb_value, dict):
        assert isinstance(spark_value, dict) and list(duckdb_value) == list(spark_value), where
        for key, value in duckdb_value.items():
            same(value, spark_value[key], f"{where}.{key}")
    elif isinstance(duckdb_value, list):
        assert isinstance(spark_value, list) and len(duckdb_value) == len(spark_value), where
        for index, (a, b) in enumerate(zip(duckdb_value, spark_value, strict=True)):
            same(a, b, f"{where}[{index}]")
    else:
        assert duckdb_value == spark_value, f"{where}: {duckdb_value!r} != {spark_value!r}"


def both(run, db: str, lake: str, *args: str) -> tuple[Any, Any]:
    on_duckdb = run(*args, "--db", db, "--format", "json")
    on_spark = run(*args, "--engine", LOCAL, "--source", lake, "--format", "json")
    assert on_spark.code == on_duckdb.code, on_spark.stderr
    assert on_duckdb.code in (0, 1), on_duckdb.stderr  # 1: a budget breached
    return on_duckdb.json(), on_spark.json()


# Each analysis that runs on Spark, down the paths its options take.
COMMANDS = [
    ["report", "--by", "feature"],
    ["report", "--by", "model,day", "--tz", "America/New_York", "--cost", "list"],
    ["report", "--by", "attr.team,week", "--since", "2026-03-05", "--until", "2026-03-10",
     "--where", "model=gpt-4.1"],
    ["tasks", "--by", "feature"],
    ["budget", "check", "--task-cost", "1", "--daily-cost", "5", "--by", "feature",
     "--monthly-cost", "10", "--forecast"],
    ["simulate", "caching", "--ttl", "best"],
    ["simulate", "batch", "--features", "translate,doc-summarize"],
    ["simulate", "cascade", "--from", "claude-sonnet-4-6", "--to", "claude-haiku-4-5"],
    ["simulate", "output", "--cap", "800"],
    ["simulate", "plan", "--features", "translate,doc-summarize"],
    ["simulate", "self-host", "--model", "llama-3.1-8b", "--autoscale", "--fine-tune-cost", "500"],
    ["simulate", "self-host", "--model", "llama-3.1-70b", "--by", "model,attr.team"],
    ["reconcile"],
]  # fmt: skip


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_spark_gives_duckdbs_numbers(run, demo_store: tuple[str, str], args: list[str]) -> None:
    db, lake = demo_store
    on_duckdb, on_spark = both(run, db, lake, *args)
    same(on_duckdb, on_spark)


def test_focus_export_is_the_same_file(run, demo_store: tuple[str, str], tmp_path: Path) -> None:
    db, lake = demo_store
    local, spark = tmp_path / "duckdb.csv", tmp_path / "spark.csv"
    assert run("export", "focus", "-o", str(local), "--db", db).code == 0
    result = run("export", "focus", "-o", str(spark), "--engine", LOCAL, "--source", lake)
    assert result.code == 0, result.stderr
    rows = [list(csv.reader(p.read_text(encoding="utf-8").splitlines())) for p in (local, spark)]
    assert len(rows[0]) > 1000 and len(rows[0]) == len(rows[1])
    for a, b in zip(*rows, strict=True):
        for x, y in zip(a, b, strict=True):
            same(_number(x), _number(y))


def _number(text: str) -> Any:
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def test_hand_computed_report_on_spark(run, report_db: str, tmp_path: Path) -> None:
    """tests/test_report.py's fixture: A $6.00 (2 units), B $2.50, C $1.00, D $0.50 with one
    unpriced request; shares .60/.25/.10/.05; TA1 fails, a3 and b1 pass, c1 fails."""
    lake = str(tmp_path / "lake")
    files = (str(DATA / "report_requests.jsonl"), str(DATA / "report_evals.jsonl"))
    assert run("ingest", *files, "--db", str(tmp_path / "again.duckdb"), "--to", lake).code == 0
    args = ("report", "--by", "feature", "--pricing", FIXTURE_PRICING)
    on_duckdb, on_spark = both(run, report_db, lake, *args)
    same(on_duckdb, on_spark)
    rows = {row["feature"]: row for row in on_spark["rows"]}
    assert [rows[f]["cost"] for f in "ABCD"] == [6.0, 2.5, 1.0, 0.5]
    assert [rows[f]["share"] for f in "ABCD"] == [0.6, 0.25, 0.1, 0.05]
    assert [rows[f]["units"] for f in "ABCD"] == [2, 2, 1, 2]
    assert rows["D"]["unpriced_requests"] == 1
    assert (rows["A"]["successful_units"], rows["B"]["successful_units"]) == (1, 1)
    assert rows["C"]["pass_rate"] == 0.0
    assert on_spark["totals"]["cost"] == 10.0


def test_damaged_lake_is_one_line(run, demo_store: tuple[str, str], tmp_path: Path) -> None:
    _, lake = demo_store
    damaged = tmp_path / "lake"
    shutil.copytree(lake, damaged)
    victim = next((damaged / "requests").rglob("*.parquet"))
    victim.write_bytes(b"PAR1 not really parquet PAR1")
    result = run("report", "--engine", LOCAL, "--source", str(damaged))
    assert result.code == 5
    assert result.stderr.startswith("costops: error: Spark: ") and result.stderr.count("\n") == 1


def test_source_without_a_lake(run, tmp_path: Path) -> None:
    result = run("report", "--engine", LOCAL, "--source", str(tmp_path / "nowhere"))
    assert result.code == 2 and "no lake there" in result.stderr
    assert result.stderr.count("\n") == 1


def test_catalog_tables_as_the_source(
    run, demo_store: tuple[str, str], spark: Any, tmp_path: Path
) -> None:
    """`--source table:…`: the requests table named, the evals from `evals` beside it."""
    db, lake = demo_store
    for table in ("requests", "evals"):
        spark.sql(f"DROP TABLE IF EXISTS default.{table}")
        frame = spark.read.parquet(f"{lake}/{table}").drop("day")
        frame.write.option("path", str(tmp_path / table)).saveAsTable(f"default.{table}")
    try:
        args = ("report", "--by", "feature", "--format", "json")
        on_duckdb = run(*args, "--db", db)
        on_spark = run(*args, "--engine", LOCAL, "--source", "table:spark_catalog.default.requests")
        assert on_spark.code == 0, on_spark.stderr
        same(on_duckdb.json(), on_spark.json())
    finally:
        for table in ("requests", "evals"):
            spark.sql(f"DROP TABLE IF EXISTS default.{table}")


def test_unreachable_cluster_is_one_line(run, tmp_path: Path) -> None:
    result = run("report", "--engine", "sc://127.0.0.1:1", "--source", str(tmp_path))
    assert result.code == 2 and "Spark did not start" in result.stderr
    assert result.stderr.count("\n") == 1

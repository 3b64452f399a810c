"""The portability lint and the rules that carry costops' SQL to Spark (no Spark needed).

The lint runs every analysis command on the demo month through a DuckDB connection that says
it is the Spark engine: the analyses take their portable branches, every statement they send is
recorded, and each must be free of the constructs no rule carries (costops.engine.portable's
DENYLIST) and transpile. A DuckDB-only construct added to an analysis fails here, not on a
user's cluster. (The priced cache and the rollup stay DuckDB's: they are built before the
session is handed to an analysis, so the lint does not see them.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from costops.engine.portable import problems, to_spark


@pytest.mark.parametrize(
    ("duckdb_sql", "spark_sql"),
    [
        # UTC wall clock -> a zone's wall clock, and a zone's wall clock -> UTC
        ("SELECT timezone('Asia/Kolkata', timezone('UTC', p.ts)) FROM t p",
         "SELECT FROM_UTC_TIMESTAMP(p.ts, 'Asia/Kolkata') FROM t AS p"),
        ("SELECT CAST(timezone(?, CAST(? AS TIMESTAMP)) AS TIMESTAMP)",
         "SELECT CAST(TO_UTC_TIMESTAMP(CAST(:p1 AS TIMESTAMP_NTZ), :p0) AS TIMESTAMP_NTZ)"),
        # epoch_ms(ts) is milliseconds since the epoch (sqlglot reads it as the inverse)
        ("SELECT epoch_ms(ts), epoch(ts) FROM t",
         "SELECT UNIX_MILLIS(ts), UNIX_MICROS(ts) / 1e6 FROM t"),
        ("SELECT quantile_cont(CASE WHEN x THEN 1.5 END, 0.95) FROM t",
         "SELECT PERCENTILE(CASE WHEN x THEN CAST(1.5 AS DOUBLE) END, CAST(0.95 AS DOUBLE)) "
         "FROM t"),
        # Java's pattern letters: T and Z quoted
        ("SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') FROM t",
         "SELECT DATE_FORMAT(ts, 'yyyy-MM-dd\\'T\\'HH:mm:ss.SSS\\'Z\\'') FROM t"),
        ("SELECT strftime(ts, '%d/%m at %H') FROM t",
         "SELECT DATE_FORMAT(ts, 'dd/MM \\'at\\' HH') FROM t"),
        ('SELECT x AS "attr.team" FROM t', "SELECT x AS `attr__dot__team` FROM t"),
        ("SELECT money_sum(c), decimal_sum(c) FROM t",
         "SELECT CAST(SUM(CAST(c AS DECIMAL(38, 12))) AS DOUBLE), "
         "SUM(CAST(c AS DECIMAL(38, 12))) FROM t"),
        ("SELECT grouping(a, b) FROM t GROUP BY GROUPING SETS ((a, b), ())",
         "SELECT GROUPING_ID(a, b) FROM t GROUP BY GROUPING SETS ((a, b), ())"),
        ("SELECT avg(CASE WHEN x THEN 1.0 ELSE 0.0 END) FROM t",
         "SELECT AVG(CASE WHEN x THEN CAST(1.0 AS DOUBLE) ELSE CAST(0.0 AS DOUBLE) END) FROM t"),
        # positional parameters in the order written, whatever order Spark's SQL puts them in
        ("SELECT ? FROM t WHERE a = ? AND s = '?' LIMIT ?",
         "SELECT :p0 FROM t WHERE a = :p1 AND s = '?' LIMIT :p2"),
        # CTEs stay nested: two subqueries may name their stages alike
        ("SELECT * FROM (WITH s AS (SELECT 1 AS x) SELECT x FROM s) a, "
         "(WITH s AS (SELECT 2 AS x) SELECT x FROM s) b",
         "SELECT * FROM (WITH s AS (SELECT 1 AS x) SELECT x FROM s) AS a, "
         "(WITH s AS (SELECT 2 AS x) SELECT x FROM s) AS b"),
    ],
)  # fmt: skip
def test_rules(duckdb_sql: str, spark_sql: str) -> None:
    assert to_spark(duckdb_sql) == spark_sql


def test_to_json_of_a_scalar_keeps_null() -> None:
    sql = to_spark("SELECT to_json(model_id) FROM t")
    assert sql == (
        "SELECT CASE WHEN model_id IS NULL THEN NULL ELSE SUBSTRING(TO_JSON(NAMED_STRUCT('v', "
        "model_id)), 6, LENGTH(TO_JSON(NAMED_STRUCT('v', model_id))) - 6) END FROM t"
    )


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT * EXCLUDE (a) FROM t", "EXCLUDE"),
        ("SELECT * REPLACE (a + 1 AS a) FROM t", "EXCLUDE/REPLACE"),
        ("SELECT b.* EXCLUDE (a) FROM t b", "EXCLUDE"),
        ("SELECT * FROM r POSITIONAL JOIN c", "POSITIONAL"),
        ("SELECT rowid FROM t", "rowid"),
        ("UPDATE t SET a = s.a FROM s WHERE t.k = s.k", "UPDATE"),
        ("COPY (SELECT 1) TO 'x.csv'", "COPY"),
        ("SELECT list(DISTINCT k ORDER BY k) FROM t", "list(DISTINCT"),
        ("SELECT count(*) FROM duckdb_views()", "catalog"),
        ("SELECT current_setting('threads')", "setting"),
        ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t", "WITHIN GROUP"),
        ("SELECT ? FROM t WHERE a = $1", "numbered parameter"),
        ("SELECT timezone('Europe/Paris', CAST(ts AS TIMESTAMPTZ)) FROM t", "timezone"),
        ("SELECT timezone('UTC', ts) FROM t WHERE timezone(z) IS NULL", "timezone"),
    ],
)  # fmt: skip
def test_denylisted_constructs_are_named(sql: str, named: str) -> None:
    found = problems(sql)
    assert found and any(named in problem for problem in found), found


def test_portable_sql_has_no_problems() -> None:
    assert (
        problems("SELECT p.feature, money_sum(p.cost) FROM evaluated_requests p GROUP BY ALL") == []
    )


# Every analysis, with the options that take it down each of its paths.
COMMANDS = [
    ["report", "--by", "feature"],
    ["report", "--by", "model,day", "--tz", "America/New_York"],
    ["report", "--by", "feature", "--cost", "list"],
    ["report", "--by", "attr.team,week", "--since", "2026-03-05", "--until", "2026-03-10",
     "--where", "model=gpt-4.1"],
    ["tasks"],
    ["tasks", "--by", "feature"],
    ["budget", "check", "--task-cost", "1", "--task-tokens", "100000", "--daily-cost", "5",
     "--by", "feature", "--monthly-cost", "10", "--forecast"],
    ["simulate", "caching", "--ttl", "best"],
    ["simulate", "caching", "--ttl", "1h", "--by", "model"],
    ["simulate", "batch", "--features", "translate,doc-summarize"],
    ["simulate", "cascade", "--from", "claude-sonnet-4-6", "--to", "claude-haiku-4-5"],
    ["simulate", "cascade", "--from", "claude-sonnet-4-6", "--to", "claude-haiku-4-5",
     "--mode", "route", "--escalation-rate", "0.2"],
    ["simulate", "output", "--cap", "800", "--trim", "10"],
    ["simulate", "plan", "--features", "translate,doc-summarize"],
    ["simulate", "self-host", "--model", "llama-3.1-8b", "--autoscale", "--assumed-pass-rate",
     "0.8", "--fine-tune-cost", "500"],
    ["simulate", "self-host", "--model", "llama-3.1-70b", "--by", "model,attr.team"],
    ["reconcile"],
]  # fmt: skip


class SparkShaped:
    """A DuckDB connection that says it is the Spark engine and records what it is sent."""

    engine_name = "spark"

    def __init__(self, con: Any, seen: list[str]) -> None:
        self._con, self._seen = con, seen

    def execute(self, sql: str, parameters: Sequence[object] | None = None) -> Any:
        self._seen.append(sql)
        return self._con.execute(sql, parameters or [])

    def executemany(self, sql: str, rows: Any) -> Any:
        self._seen.append(sql)
        return self._con.executemany(sql, rows)

    def add_model_names(self, names: list[tuple[str | None, str]]) -> None:
        from costops.rates.cost import add_model_names  # on Spark: in its local DuckDB

        add_model_names(self._con, names)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements analyses send their engine (recorded by SparkShaped)."""
    import costops.analysis.session as session

    seen: list[str] = []
    real = session.analysis_session

    @contextmanager
    def spark_shaped(*args: Any, **kwargs: Any) -> Iterator[SparkShaped]:
        with real(*args, **kwargs) as con:
            yield SparkShaped(con, seen)

    monkeypatch.setattr(session, "analysis_session", spark_shaped)
    return seen


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_analysis_statement_is_portable(
    run, demo_store: tuple[str, str], recorded: list[str], args: list[str]
) -> None:
    db, _ = demo_store
    result = run(*args, "--db", db, "--format", "json")
    assert result.code in (0, 1), result.stderr  # 1: a budget breached
    assert recorded, "no statement recorded"
    for sql in recorded:
        assert problems(sql) == [], sql
        to_spark(sql)


def test_export_focus_statements_are_portable(
    run, demo_store: tuple[str, str], recorded: list[str], tmp_path
) -> None:
    db, _ = demo_store
    result = run("export", "focus", "-o", str(tmp_path / "focus.csv"), "--db", db)
    assert result.code == 0, result.stderr
    assert recorded, "no statement recorded"
    for sql in recorded:
        assert problems(sql) == [], sql


def test_spark_engine_needs_a_source(run, db: str) -> None:
    result = run("report", "--engine", "spark", "--db", db)
    assert result.code == 2 and "add --source DIR" in result.stderr
    assert result.stderr.count("\n") == 1


def test_source_needs_the_spark_engine(run, db: str) -> None:
    result = run("report", "--source", "lake", "--db", db)
    assert result.code == 2 and "--source is read by --engine spark" in result.stderr


def test_spark_engine_without_the_extra(run, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in [m for m in sys.modules if m.startswith(("sqlglot", "costops.analysis.distributed",
                                                         "costops.engine.spark"))]:  # fmt: skip
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sqlglot", None)  # as if not installed
    result = run("report", "--engine", "spark", "--source", "lake", "--db", db)
    assert result.code == 2 and "pip install 'costops[spark]'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_ingest_option_with_the_spark_engine(run, db: str) -> None:
    result = run("report", "--engine", "spark", "--source", "lake", "--ingest", "x.jsonl")
    assert result.code == 2 and "costops ingest LOGS --to DIR" in result.stderr


def test_engine_names_are_checked(run, db: str) -> None:
    result = run("report", "--engine", "duckdb2", "--source", "lake", "--db", db)
    assert (
        result.code == 2 and "expected duckdb, spark, local[N] or sc://HOST:PORT" in result.stderr
    )

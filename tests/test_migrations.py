"""Migrations: a blank database built by the migrations matches the declared schema, every
older version upgrades in place with its data kept, and re-opening is a no-op."""

from __future__ import annotations

import duckdb

from costops.store.db import connect
from costops.store.migrations import LATEST_VERSION, MIGRATIONS, MIGRATIONS_TABLE, migrate

EXPECTED_TABLES = {
    "requests",
    "evals",
    "quarantine",
    "ingest_runs",
    "batch_inputs",
    "ingested_files",
    "request_text",
    MIGRATIONS_TABLE,
}


def schema(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()


def test_fresh_database_has_every_table_at_the_latest_version(tmp_path):
    con = connect(str(tmp_path / "a.duckdb"))
    tables = {
        t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert tables == EXPECTED_TABLES
    assert con.execute(f"SELECT max(version) FROM {MIGRATIONS_TABLE}").fetchone() == (
        LATEST_VERSION,
    )
    con.close()


def test_reopening_is_idempotent(tmp_path):
    path = str(tmp_path / "a.duckdb")
    first = connect(path)
    before = schema(first)
    first.close()
    again = connect(path)
    assert schema(again) == before
    assert again.execute(f"SELECT count(*) FROM {MIGRATIONS_TABLE}").fetchone() == (
        len(MIGRATIONS),
    )
    again.close()


def test_every_older_version_upgrades_to_the_same_schema(tmp_path):
    reference = connect(str(tmp_path / "ref.duckdb"))
    expected = schema(reference)
    reference.close()
    for stop in range(len(MIGRATIONS)):
        path = str(tmp_path / f"v{stop}.duckdb")
        con = duckdb.connect(path)
        con.execute(
            f"CREATE TABLE {MIGRATIONS_TABLE} "
            "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
        )
        for number, description, sql in MIGRATIONS[:stop]:
            con.execute(sql)
            con.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, ?, now())", [number, description]
            )
        if stop >= 1:  # data written at an older version survives the upgrade
            con.execute("INSERT INTO ingest_runs (run_id, file, sha256, started_at) "
                        "VALUES (7, 'old.jsonl', 'abc', now())")  # fmt: skip
        migrate(con, path)
        assert schema(con) == expected
        if stop >= 1:
            assert con.execute("SELECT run_id, file FROM ingest_runs").fetchall() == [
                (7, "old.jsonl")
            ]
        con.close()


def test_request_columns_constant_matches_the_table(tmp_path):
    from costops.store.migrations import REQUEST_COLUMNS

    con = connect(str(tmp_path / "a.duckdb"))
    columns = [c for t, c, _ in schema(con) if t == "requests"]
    con.close()
    assert tuple(columns) == REQUEST_COLUMNS

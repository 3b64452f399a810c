"""Numbered schema migrations, recorded in `_costops_migrations`; each runs in one transaction."""

from __future__ import annotations

import duckdb

from costops.errors import DatabaseError

MIGRATIONS_TABLE = "_costops_migrations"

# Append only: a released migration is never edited. Tables may grow, never shrink.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "requests, evals, quarantine, ingest_runs",
        """
        CREATE TABLE ingest_runs (
            run_id        BIGINT PRIMARY KEY,
            file          VARCHAR NOT NULL,
            sha256        VARCHAR NOT NULL,
            format        VARCHAR,
            started_at    TIMESTAMP NOT NULL,
            finished_at   TIMESTAMP,
            lines_read    BIGINT,
            requests_inserted BIGINT,
            requests_replaced BIGINT,
            evals_inserted BIGINT,
            duplicates    BIGINT,
            quarantined   BIGINT
        );
        CREATE TABLE requests (
            request_id    VARCHAR NOT NULL,    -- unique: ingest keeps one record per id
            ts            TIMESTAMP NOT NULL,   -- request start, UTC
            provider      VARCHAR,
            model         VARCHAR NOT NULL,
            feature       VARCHAR,
            task_id       VARCHAR,
            trace_id      VARCHAR,
            session_id    VARCHAR,
            customer      VARCHAR,
            prompt_template VARCHAR,
            environment   VARCHAR,
            workspace     VARCHAR,
            input_tokens  BIGINT NOT NULL,
            cache_read_tokens BIGINT NOT NULL,
            cache_write_5m_tokens BIGINT NOT NULL,
            cache_write_1h_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            reasoning_tokens BIGINT NOT NULL,
            prefix_hash   VARCHAR,
            prefix_tokens BIGINT,
            max_tokens    BIGINT,
            finish_reason VARCHAR,
            status        VARCHAR,
            latency_ms    BIGINT,
            batch         BOOLEAN NOT NULL,
            service_tier  VARCHAR,
            region        VARCHAR,
            logged_cost   DOUBLE,
            attributes    VARCHAR,              -- JSON object text, str -> str
            run_id        BIGINT NOT NULL,
            line_no       BIGINT NOT NULL
        );
        CREATE TABLE evals (
            eval_id       VARCHAR NOT NULL,     -- content hash: the same verdict twice is one row
            request_id    VARCHAR,
            task_id       VARCHAR,
            evaluator     VARCHAR NOT NULL,
            passed        BOOLEAN NOT NULL,
            score         DOUBLE,
            ts            TIMESTAMP,
            model         VARCHAR,
            run_id        BIGINT NOT NULL,
            line_no       BIGINT NOT NULL
        );
        CREATE TABLE quarantine (
            run_id        BIGINT NOT NULL,
            file          VARCHAR NOT NULL,
            line_no       BIGINT NOT NULL,
            reason        VARCHAR NOT NULL,
            raw           VARCHAR NOT NULL,     -- capped at 64 KiB
            quarantined_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        2,
        "batch_inputs: what each batch custom_id asked for",
        """
        CREATE TABLE batch_inputs (
            custom_id     VARCHAR NOT NULL,
            model         VARCHAR,
            max_tokens    BIGINT,
            feature       VARCHAR,
            customer      VARCHAR,
            task_id       VARCHAR,
            prompt_template VARCHAR,
            prefix_hash   VARCHAR,
            prefix_chars  BIGINT,               -- characters of the stable prefix
            prompt_chars  BIGINT,               -- characters of the whole prompt
            run_id        BIGINT NOT NULL,
            line_no       BIGINT NOT NULL
        );
        """,
    ),
    (
        3,
        "request_text: the logged lines kept with --keep-text (opt-in)",
        """
        CREATE TABLE request_text (
            request_id    VARCHAR NOT NULL,
            run_id        BIGINT NOT NULL,
            raw           VARCHAR NOT NULL
        );
        """,
    ),
    (
        4,
        "quarantine: byte length, hash and structure; the line's text only with --keep-text",
        # Rows from before keep their structure; their text (kept then without a choice) goes.
        # Their byte length and hash stay unknown: the stored text was capped and redacted.
        """
        ALTER TABLE quarantine ALTER COLUMN raw DROP NOT NULL;
        ALTER TABLE quarantine ADD COLUMN byte_length BIGINT;
        ALTER TABLE quarantine ADD COLUMN sha256 VARCHAR;
        ALTER TABLE quarantine ADD COLUMN structure VARCHAR;
        UPDATE quarantine SET structure = TRY(json_structure(raw)), raw = NULL;
        """,
    ),
    (
        5,
        "ingested_files: each file last found ingested (path, size, time), to skip it unread",
        """
        CREATE TABLE ingested_files (
            path          VARCHAR PRIMARY KEY,  -- absolute
            size          BIGINT NOT NULL,
            mtime_ns      BIGINT NOT NULL,
            inode         BIGINT NOT NULL,
            ctime_ns      BIGINT NOT NULL,
            sha256        VARCHAR NOT NULL      -- its content, which the store has
        );
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]

# The requests table's columns, in order: what-if scenarios are relations with these columns.
REQUEST_COLUMNS = (
    "request_id", "ts", "provider", "model", "feature", "task_id", "trace_id", "session_id",
    "customer", "prompt_template", "environment", "workspace", "input_tokens",
    "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens",
    "reasoning_tokens", "prefix_hash", "prefix_tokens", "max_tokens", "finish_reason", "status",
    "latency_ms", "batch", "service_tier", "region", "logged_cost", "attributes", "run_id",
    "line_no",
)  # fmt: skip


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
        [MIGRATIONS_TABLE],
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute(f"SELECT coalesce(max(version), 0) FROM {MIGRATIONS_TABLE}").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, path: str) -> int:
    """Bring the schema to LATEST_VERSION; refuse a database written by a newer costops."""
    version = current_version(con)
    if version > LATEST_VERSION:
        raise DatabaseError(
            f"{path}: database schema version {version} is newer than this costops supports "
            f"({LATEST_VERSION}); upgrade costops to use it"
        )
    for number, description, sql in MIGRATIONS:
        if number <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            # inside the transaction: a kill before the first commit leaves no half-made schema
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
            )
            con.execute(sql)
            con.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, ?, current_timestamp::TIMESTAMP)",
                [number, description],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return LATEST_VERSION

"""Open the costops DuckDB file: UTC session, migrations on open, clear errors when locked,
damaged or out of disk space, and nothing that is not a DuckDB file."""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from costops.analysis.exact import MACROS_SQL
from costops.errors import DatabaseError, DatabaseLocked
from costops.store.migrations import LATEST_VERSION, current_version, migrate

DEFAULT_DB = "costops.duckdb"
# DuckDB's own cap (COSTOPS_MEMORY_LIMIT overrides both); the process adds a few hundred MB on
# top. Ingest uses less, so a multi-GB file ingests under 2 GB of RSS (BENCHMARKS.md).
MEMORY_LIMIT = "2GB"
INGEST_MEMORY_LIMIT = "1536MB"
# Never fetch or load an extension behind the user's back: a SQLite or Postgres path would make
# DuckDB download its scanner. Everything costops uses is built into the duckdb wheel.
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
# Bytes 8-11 of every DuckDB database file (the main header's magic).
DUCKDB_MAGIC = b"DUCK"
SQLITE_MAGIC = b"SQLite format 3\x00"
# What DuckDB (or the OS under it) says when a write finds no room: ENOSPC, EFBIG, EDQUOT.
DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")
DAMAGED = ("Corrupt database file", "checksum")


def resolve_db_path(db: str | None) -> str:
    if db is not None and not db:
        raise DatabaseError("--db: empty path; name a DuckDB file, e.g. --db costops.duckdb")
    return db or os.environ.get("COSTOPS_DB") or DEFAULT_DB


def connect(
    path: str,
    *,
    create: bool = True,
    wait: float = 0.0,
    memory_limit: str = MEMORY_LIMIT,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open and migrate the database at `path`; with create=False a missing file is an error.
    While another process holds the file, retry for up to `wait` seconds, then exit 5.
    read_only=True shares the file with other readers (a writer still excludes them); a
    database that needs a migration is opened for writing instead."""
    check_file(path, create=create and not read_only)
    deadline = time.monotonic() + wait
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only, config=DUCKDB_CONFIG)
            break
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower() and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise _open_error(path, str(exc), read_only=read_only) from exc
        except duckdb.Error as exc:
            raise DatabaseError(f"{path}: {_problem(exc) or _cannot_open(exc)}") from exc
    with storage_errors(path):
        try:
            _configure(con, memory_limit)
            if read_only and current_version(con) != LATEST_VERSION:
                con.close()
                remaining = max(0.0, deadline - time.monotonic())
                return connect(path, create=False, wait=remaining, memory_limit=memory_limit)
            if not read_only:
                migrate(con, path)
        except BaseException:
            con.close()
            raise
    return con


@contextmanager
def open_db(
    path: str,
    *,
    create: bool = True,
    wait: float = 0.0,
    memory_limit: str = MEMORY_LIMIT,
    read_only: bool = False,
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, create=create, wait=wait, memory_limit=memory_limit, read_only=read_only)
    with storage_errors(path):
        try:
            yield con
        finally:
            con.close()  # a checkpoint on a full disk raises here: mapped like the rest


def check_file(path: str, *, create: bool) -> None:
    """Refuse anything DuckDB should not be handed: a missing file unless creating one, a FIFO or
    device (the open would block), and a file without DuckDB's header (another database format
    makes DuckDB look for a scanner extension)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if not create:
            raise DatabaseError(
                f"no database at {os.path.abspath(path)}; create it with `costops ingest FILES` "
                "(add --db to name it), or point at one with --db FILE or $COSTOPS_DB"
            ) from None
        return
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot open database: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise DatabaseError(f"{path}: is a directory, not a DuckDB file; pass --db FILE.duckdb")
    if not stat.S_ISREG(info.st_mode):
        raise DatabaseError(f"{path}: not a regular file (a FIFO or device); pass --db FILE.duckdb")
    try:
        with open(path, "rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot open database: {exc.strerror}") from exc
    if header[8:12] == DUCKDB_MAGIC:
        return
    if header.startswith(SQLITE_MAGIC):
        kind = "a SQLite database"
    elif not header:
        kind = "an empty file"
    else:
        kind = "some other file"
    raise DatabaseError(
        f"{path}: not a DuckDB database ({kind}); pass --db with a costops .duckdb file, "
        "or a new path to create one"
    )


@contextmanager
def storage_errors(path: str) -> Iterator[None]:
    """Turn a full disk or a damaged file, wherever DuckDB meets it, into one line (exit 5)."""
    try:
        yield
    except duckdb.Error as exc:
        problem = _problem(exc)
        if problem is None:
            raise
        raise DatabaseError(f"{path}: {problem}") from exc


def _problem(exc: BaseException) -> str | None:
    """What the user can act on, looking down the chain: a ROLLBACK after a failed write
    raises "no transaction is active" and would hide the write's own error."""
    for seen in causes(exc):
        text = str(seen)
        if any(marker in text for marker in DISK_FULL):
            return (
                f"disk full: {_first_line(seen)}; free space (or raise the file size limit) and "
                "run the command again (the step that failed was rolled back)"
            )
        if isinstance(seen, duckdb.Error) and any(marker in text for marker in DAMAGED):
            return (
                f"database file is damaged ({_first_line(seen)}): "
                "restore it or ingest again into a new file"
            )
    return None


def causes(exc: BaseException) -> Iterator[BaseException]:
    """An exception and what it was raised from or during, nearest first."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _configure(con: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    # Timestamps are stored as UTC; every bucketing converts explicitly with --tz.
    con.execute("SET TimeZone = 'UTC'")
    # Bounded memory whatever the input size: DuckDB spills to disk beyond this.
    con.execute("SET memory_limit = ?", [os.environ.get("COSTOPS_MEMORY_LIMIT", memory_limit)])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # never DuckDB's own bar in costops output
    con.execute(MACROS_SQL)  # money_sum/decimal_sum: exact sums of money


def _open_error(path: str, detail: str, *, read_only: bool) -> DatabaseError:
    if "lock" not in detail.lower():
        return DatabaseError(f"{path}: {_cannot_open(detail)}")
    pid = re.search(r"PID (\d+)", detail)
    who = f" (pid {pid.group(1)})" if pid else ""
    if read_only:
        return DatabaseLocked(
            f"{path}: another costops process{who} is writing the database (an ingest, or a "
            "command refreshing its priced cache); pass --wait SECONDS to wait for it"
        )
    return DatabaseLocked(
        f"{path}: database is in use by another costops process{who}; "
        "wait for it to finish, or pass --wait SECONDS"
    )


def _cannot_open(exc: object) -> str:
    return f"cannot open database: {_first_line(exc)}"


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)

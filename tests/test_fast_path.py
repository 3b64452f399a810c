"""The fast path (DuckDB's JSON reader over a clean canonical file) stores exactly what the
general, line-by-line path stores; anything unusual falls back to the general path."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from costops.ingest import fast
from costops.ingest.run import ingest_source
from costops.ingest.sources import ChunkReader, Source
from costops.store.db import open_db

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
FILES = sorted(
    [
        *DATA.glob("*.jsonl"),
        *DATA.glob("formats/*.jsonl"),
        *(ROOT / "sample_logs").glob("*.jsonl*"),
        *(ROOT / "sample_logs").glob("formats/*.jsonl"),
    ]
)
CANONICAL = [DATA / "report_requests.jsonl", DATA / "report_evals.jsonl",
             ROOT / "sample_logs" / "requests.jsonl.gz"]  # fmt: skip
LINE = (
    '{{"request_id": "{id}", "timestamp": "2026-03-02T10:00:00Z", "model": "gpt-4.1", '
    '"input_tokens": {tokens}, "output_tokens": 2}}'
)

TABLES = {
    "requests": "SELECT * EXCLUDE (run_id) FROM requests ORDER BY request_id",
    "evals": "SELECT * EXCLUDE (run_id) FROM evals ORDER BY eval_id",
    "quarantine": "SELECT line_no, reason, raw FROM quarantine ORDER BY line_no",
}


def _ingest(path: Path, db: Path, *, fast_path: bool):
    with open_db(str(db)) as con:
        result = ingest_source(con, Source(str(path), path), fast_path=fast_path)
        tables = {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}
    return result, tables


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_both_paths_store_the_same_rows(path, tmp_path):
    fast_result, fast_tables = _ingest(path, tmp_path / "fast.duckdb", fast_path=True)
    slow_result, slow_tables = _ingest(path, tmp_path / "slow.duckdb", fast_path=False)
    assert fast_tables == slow_tables
    for counter in ("lines_read", "good_lines", "requests_inserted", "evals_inserted",
                    "quarantined", "formats"):  # fmt: skip
        assert getattr(fast_result, counter) == getattr(slow_result, counter), counter


@pytest.mark.parametrize("path", CANONICAL, ids=lambda p: p.name)
def test_clean_canonical_files_take_the_fast_path(path, tmp_path):
    with open_db(str(tmp_path / "x.duckdb")) as con:
        lines = len(_lines(path))
        sha256, counted, staged = _stage(con, path)
    assert staged is not None and staged.lines == counted == lines
    assert sha256 == hashlib.sha256(b"\n".join(_lines(path)) + b"\n").hexdigest()


def _stage(con, path: Path):
    with ChunkReader(Source(str(path), path)) as reader:
        return fast.stage(con, Source(str(path), path), "auto", reader)


def _lines(path: Path) -> list[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return f.read().splitlines()


def test_a_blank_line_takes_the_general_path_and_line_numbers_stay_true(tmp_path):
    path = tmp_path / "gap.jsonl"
    path.write_text(LINE.format(id="a", tokens=5) + "\n\n" + LINE.format(id="b", tokens=-1) + "\n")
    with open_db(str(tmp_path / "x.duckdb")) as con:
        assert _stage(con, path)[2] is None
        result = ingest_source(con, Source(str(path), path))
        assert con.execute("SELECT line_no FROM requests").fetchall() == [(1,)]
        assert con.execute("SELECT line_no, reason FROM quarantine").fetchall() == [
            (3, "input_tokens is negative: -1")
        ]
    assert result.requests_inserted == 1 and result.quarantined == 1


def test_fast_path_line_numbers_follow_the_file(tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text("".join(LINE.format(id=f"r{n}", tokens=n) + "\n" for n in range(5000)))
    with open_db(str(tmp_path / "x.duckdb")) as con:
        result = ingest_source(con, Source(str(path), path))
        wrong = con.execute(
            "SELECT count(*) FROM requests WHERE line_no <> input_tokens + 1"
        ).fetchone()
    assert result.requests_inserted == 5000 and wrong == (0,)


def _line(**fields) -> str:
    record = {"request_id": "a", "timestamp": "2026-03-02T10:00:00Z", "model": "gpt-4.1",
              "input_tokens": 5, "output_tokens": 2, **fields}  # fmt: skip
    return json.dumps(record)


@pytest.mark.parametrize(
    ("line", "fast_path"),
    [
        (_line(finish_reason="max_tokens"), True),  # a value that ends like the counted keys
        (_line(max_tokens=64, prefix_tokens=2, cache_read_tokens=1), True),
        (_line(attributes={"tool_tokens": 3}), False),  # another key the count cannot tell
        (_line(feature="request_id"), False),
        (_line().replace('"output_tokens": 2', '"output_tokens": 2, "output_tokens": 9'), False),
        (_line().replace('"output_tokens": 2', '"output_tokens" : 2, "output_tokens": 9'), False),
        (_line().replace('"input_tokens"', '"input_\\u0074okens"'), False),
    ],
)
def test_key_counts_let_clean_lines_through_and_repeated_keys_fall_back(line, fast_path, tmp_path):
    """The reader counts `"request_id"` and `_tokens"` in the text; DuckDB counts the keys it
    read (and a finish_reason like "max_tokens"). Any difference takes the general path."""
    path = tmp_path / "one.jsonl"
    path.write_text(line + "\n" + _line(request_id="b") + "\n")
    with open_db(str(tmp_path / "x.duckdb")) as con:
        assert (_stage(con, path)[2] is not None) == fast_path


def test_repeated_requests_keep_the_same_record_on_both_paths(tmp_path):
    """a: output 2 then 7 (7 wins); b: the same output, later time wins; c: a full tie, the later
    line (line 6) wins; d once."""
    path = tmp_path / "repeats.jsonl"
    at = "2026-03-02T10:00:0{}Z"
    records = [
        _line(request_id="a"), _line(request_id="b", timestamp=at.format(5)),
        _line(request_id="a", output_tokens=7), _line(request_id="c", latency_ms=1),
        _line(request_id="b", timestamp=at.format(6)), _line(request_id="c", latency_ms=2),
        _line(request_id="d"),
    ]  # fmt: skip
    path.write_text("".join(record + "\n" for record in records))
    with open_db(str(tmp_path / "x.duckdb")) as con:
        staged = _stage(con, path)[2]
    assert staged is not None and staged.duplicate_ids
    fast_result, fast_tables = _ingest(path, tmp_path / "fast.duckdb", fast_path=True)
    _, slow_tables = _ingest(path, tmp_path / "slow.duckdb", fast_path=False)
    assert fast_tables == slow_tables
    kept = sorted((row[0], row[-1]) for row in fast_tables["requests"])  # (id, line_no)
    assert kept == [("a", 3), ("b", 5), ("c", 6), ("d", 7)]
    assert fast_result.requests_inserted == 4 and fast_result.duplicates == 3


def test_ctrl_c_while_staging_stops_the_ingest_and_stores_nothing(tmp_path, monkeypatch):
    """DuckDB reports Ctrl-C during the staging statement as an error of its own: that is not a
    file its reader cannot read, so the general path must not take over (the CLI exits 130)."""
    path = tmp_path / "clean.jsonl"
    path.write_text(_line(request_id="a") + "\n")

    @contextlib.contextmanager
    def interrupted(*args):
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        yield

    monkeypatch.setattr(fast, "_reporting", interrupted)
    with open_db(str(tmp_path / "x.duckdb")) as con:
        with pytest.raises(duckdb.InterruptException):
            ingest_source(con, Source(str(path), path))
        assert con.execute("SELECT count(*) FROM requests").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM ingest_runs").fetchone() == (0,)

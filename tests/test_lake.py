"""`costops ingest --to DIR`: the store's rows as Parquet, one file per source file and day.

a.jsonl holds r1 (03-01 10:00) and r2 (03-01 23:59:59), an eval of r1 on 03-01 and one with no
time; b.jsonl holds r3 (03-02 00:00:00) and r4 (03-03), an eval of r3 on 03-02. So the lake has
requests on 03-01 (a), 03-02 (b), 03-03 (b) and evals on 03-01 (a), no day (a), 03-02 (b): six
files, 4 requests and 3 evals. c.jsonl logs r1 again with more output tokens: the store keeps
c's record, so a's source is rewritten with r2 alone (1 request, its 2 evals), c's file holds
r1, and b's files stay as they were.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

from tests.test_ingest import req, write

NULL_DAY = "__HIVE_DEFAULT_PARTITION__"


def ev(request_id: str, **fields) -> str:
    return json.dumps({"request_id": request_id, "evaluator": "rubric", "passed": True, **fields})


def sources(tmp_path: Path) -> tuple[str, str]:
    a = write(
        tmp_path / "a.jsonl",
        req("r1", timestamp="2026-03-01T10:00:00Z"),
        req("r2", timestamp="2026-03-01T23:59:59Z"),
        ev("r1", timestamp="2026-03-01T11:00:00Z"),
        ev("r1", evaluator="format"),
    )
    b = write(
        tmp_path / "b.jsonl",
        req("r3", timestamp="2026-03-02T00:00:00Z"),
        req("r4", timestamp="2026-03-03T08:00:00Z"),
        ev("r3", passed=False, timestamp="2026-03-02T09:00:00Z"),
    )
    return a, b


def sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def lake_files(lake: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under the lake: its bytes, modification time and inode."""
    return {
        str(p.relative_to(lake)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
        for p in sorted(lake.rglob("*"))
        if p.is_file()
    }


def assert_lake_equals_store(db: str) -> None:
    with duckdb.connect(db, read_only=True) as con:
        for table in ("requests", "evals"):
            lake = f"read_parquet('lake/{table}/**/*.parquet', hive_partitioning=true)"
            files = f"read_parquet('lake/{table}/*/*.parquet', hive_partitioning=false)"
            columns = "SELECT column_name, column_type FROM (DESCRIBE {})"
            assert (  # the table's columns in its order, no day column
                con.execute(columns.format(f"SELECT * FROM {files}")).fetchall()
                == con.execute(columns.format(table)).fetchall()
            )
            parquet, stored = f"SELECT * EXCLUDE (day) FROM {lake}", f"SELECT * FROM {table}"
            for a, b in ((parquet, stored), (stored, parquet)):
                assert con.execute(f"{a} EXCEPT ALL {b}").fetchall() == []
            counts = f"SELECT (SELECT count(*) FROM {lake}), (SELECT count(*) FROM {table})"
            lake_n, store_n = con.execute(counts).fetchone() or (None, None)
            assert lake_n == store_n
            misplaced = f"SELECT count(*) FROM {lake} WHERE day IS DISTINCT FROM ts::DATE"
            assert con.execute(misplaced).fetchone() == (0,)


def test_the_lake_holds_the_stores_rows_by_source_and_day(run, db, tmp_path):
    a, b = sources(tmp_path)
    result = run("ingest", a, b, "--to", "lake", "--db", db)
    assert result.code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "lake lake: 2 sources written (4 requests, 3 evals)"
    files = lake_files(tmp_path / "lake")
    assert sorted(files) == sorted([
        "_costops_lake.json",
        f"requests/day=2026-03-01/{sha(a)}.parquet",
        f"requests/day=2026-03-02/{sha(b)}.parquet",
        f"requests/day=2026-03-03/{sha(b)}.parquet",
        f"evals/day=2026-03-01/{sha(a)}.parquet",
        f"evals/day={NULL_DAY}/{sha(a)}.parquet",
        f"evals/day=2026-03-02/{sha(b)}.parquet",
    ])  # fmt: skip
    manifest = json.loads(files["_costops_lake.json"][0])
    assert manifest["version"] == 1 and manifest["schema"].startswith("requests: request_id ")
    assert manifest["files"] == {
        sha(a): {"requests": 2, "evals": 2},
        sha(b): {"requests": 2, "evals": 1},
    }
    assert_lake_equals_store(db)
    day = f"lake/requests/day=2026-03-01/{sha(a)}.parquet"
    assert duckdb.sql(f"SELECT request_id FROM '{day}'").fetchall() == [("r1",), ("r2",)]


def test_the_same_ingest_again_leaves_the_lake_byte_identical(run, db, tmp_path):
    a, b = sources(tmp_path)
    assert run("ingest", a, b, "--to", "lake", "--db", db).code == 0
    before = lake_files(tmp_path / "lake")
    again = run("ingest", a, b, "--to", "lake", "--db", db)
    assert again.code == 0, again.stderr
    assert "lake lake: 0 sources written (0 requests, 0 evals) · 2 unchanged" in again.stderr
    assert lake_files(tmp_path / "lake") == before


def test_a_replaced_request_leaves_its_first_sources_file(run, db, tmp_path):
    a, b = sources(tmp_path)
    assert run("ingest", a, b, "--to", "lake", "--db", db).code == 0
    before = lake_files(tmp_path / "lake")
    c = write(tmp_path / "c.jsonl", req("r1", timestamp="2026-03-01T10:00:00Z", output_tokens=50))
    result = run("ingest", c, "--to", "lake", "--db", db)
    assert result.code == 0, result.stderr
    assert "lake lake: 2 sources written (2 requests, 2 evals) · 1 unchanged" in result.stderr
    after = lake_files(tmp_path / "lake")
    first = f"lake/requests/day=2026-03-01/{sha(a)}.parquet"
    assert duckdb.sql(f"SELECT request_id FROM '{first}'").fetchall() == [("r2",)]
    third = f"SELECT request_id, output_tokens FROM 'lake/requests/day=2026-03-01/{sha(c)}.parquet'"
    assert duckdb.sql(third).fetchall() == [("r1", 50)]
    assert {k: v for k, v in after.items() if sha(b) in k} == {
        k: v for k, v in before.items() if sha(b) in k
    }
    assert json.loads(after["_costops_lake.json"][0])["files"] == {
        sha(a): {"requests": 1, "evals": 2},
        sha(b): {"requests": 2, "evals": 1},
        sha(c): {"requests": 1, "evals": 0},
    }
    assert_lake_equals_store(db)


def test_a_lake_path_that_is_a_file_is_one_line_and_the_store_keeps_the_ingest(run, db, tmp_path):
    a, _ = sources(tmp_path)
    (tmp_path / "lake").write_text("not a directory\n")
    result = run("ingest", a, "--to", "lake", "--db", db)
    assert result.code == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == ["costops: error: lake: not a directory; the Parquet lake is written in one"]
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM requests").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM evals").fetchone() == (2,)


def test_files_of_sources_the_store_does_not_hold_are_removed(run, db, tmp_path):
    """A lake first written from another store (or before the store was rebuilt): the files of
    its sources would be counted by Spark too, so they go."""
    a, b = sources(tmp_path)
    other = str(tmp_path / "other.duckdb")
    assert run("ingest", b, "--to", "lake", "--db", other).code == 0
    result = run("ingest", a, "--to", "lake", "--db", db)
    assert result.code == 0 and "3 files of other sources removed" in result.stderr
    assert not list((tmp_path / "lake").rglob(f"*{sha(b)}*"))
    assert set(json.loads((tmp_path / "lake" / "_costops_lake.json").read_text())["files"]) == {
        sha(a)
    }
    assert_lake_equals_store(db)


def test_a_lake_written_under_another_schema_is_rewritten(run, db, tmp_path):
    a, _ = sources(tmp_path)
    assert run("ingest", a, "--to", "lake", "--db", db).code == 0
    manifest = tmp_path / "lake" / "_costops_lake.json"
    written = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**written, "schema": "requests: an older costops"}))
    result = run("ingest", a, "--to", "lake", "--db", db)
    assert result.code == 0 and "lake lake: 1 source written" in result.stderr
    assert json.loads(manifest.read_text()) == written

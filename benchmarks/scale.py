"""`make scale COPIES=10`: a store of COPIES x the requests of a `make bench` database (each copy
with its own request and task ids, so units stay distinct), then `report --by feature` on it:
the first (which builds the priced cache) and a cached one. Appends the numbers to
BENCHMARKS.md. The data is built in DuckDB, never committed."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from bench import COSTOPS, ROOT, measure, write_sections  # type: ignore[import-not-found]

from costops.store.db import connect

COPY_SQL = """
INSERT INTO {table}
SELECT t.* REPLACE ({ids})
FROM src.{table} t, range(?) AS copies(k)
"""
IDS = {
    "requests": "request_id || '#' || k AS request_id, task_id || '#' || k AS task_id",
    "evals": "eval_id || '#' || k AS eval_id, request_id || '#' || k AS request_id, "
    "task_id || '#' || k AS task_id",
}


def build(source: Path, target: Path, copies: int) -> int:
    target.unlink(missing_ok=True)
    con = connect(str(target))
    con.execute("ATTACH ? AS src (READ_ONLY)", [str(source)])
    con.execute("INSERT INTO ingest_runs SELECT * FROM src.ingest_runs")
    for table, ids in IDS.items():
        con.execute(COPY_SQL.format(table=table, ids=ids), [copies])
    row = con.execute("SELECT count(*) FROM requests").fetchone()
    con.execute("CHECKPOINT")
    con.close()
    return int(row[0]) if row else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True, help="a database `make bench` wrote")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "scale.duckdb")
    parser.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md")
    opts = parser.parse_args()
    t_build, _, _ = measure(
        [sys.executable, __file__, "--build-only", str(opts.db), str(opts.out), str(opts.copies)]
    )
    requests = int(opts.out.with_suffix(".count").read_text())
    store_mb = opts.out.stat().st_size / 1e6
    args = [COSTOPS, "report", "--by", "feature", "--db", str(opts.out), "--format", "json"]
    t_first, m_first, _ = measure(args)
    t_cached, m_cached, _ = measure(args)
    db_mb = opts.out.stat().st_size / 1e6
    text = f"""
## Scale of the store: {requests:,} requests in one file

Built by `benchmarks/scale.py --copies {opts.copies}` from the benchmark database (each copy with
its own request and task ids) in {t_build:.0f} s, on {dt.date.today().isoformat()}; DuckDB's memory
cap {os.environ.get("COSTOPS_MEMORY_LIMIT", "2GB (the default)")}. On disk: {store_mb:,.0f} MB
({store_mb * 1e6 / requests:,.0f} bytes per request, evals included) before the priced cache,
{db_mb:,.0f} MB after.

| step | seconds | peak RSS (MB) |
|---|---:|---:|
| report --by feature (first: builds the priced cache) | {t_first:.2f} | {m_first:,.0f} |
| report --by feature | {t_cached:.2f} | {m_cached:,.0f} |

Target "100M requests stay queryable, report < 10 s on 2 cores" (the cached report):
{"met" if t_cached < 10 else "MISSED"} ({t_cached:.1f} s).
"""
    write_sections(opts.report, scale=text)
    print(text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--build-only":
        _, _, src, dst, copies = sys.argv
        count = build(Path(src), Path(dst), int(copies))
        Path(dst).with_suffix(".count").write_text(str(count))
        sys.exit(0)
    sys.exit(main())

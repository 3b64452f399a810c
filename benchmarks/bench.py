"""`make bench [N=1000000]`: generate N synthetic requests, time costops on them, write
BENCHMARKS.md. Each step runs in its own process so its peak memory (RSS) is its own."""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COSTOPS = str(BIN / "costops")
# OTLP export lines as a collector's batch processor sends them: (spans, message bytes a span).
OTLP_EXPORTS = [(10_000, 0), (8_192, 2_048), (8_192, 30_000)]

BARE_READ = """
import duckdb, sys
con = duckdb.connect()
con.execute('''CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited',
    columns={request_id: 'VARCHAR', timestamp: 'VARCHAR', provider: 'VARCHAR', model: 'VARCHAR',
    feature: 'VARCHAR', task_id: 'VARCHAR', customer: 'VARCHAR', input_tokens: 'BIGINT',
    cache_read_tokens: 'BIGINT', cache_write_5m_tokens: 'BIGINT', output_tokens: 'BIGINT',
    reasoning_tokens: 'BIGINT', prefix_hash: 'VARCHAR', prefix_tokens: 'BIGINT'})''', [sys.argv[1]])
"""

# Parse every line and total its tokens (keeping the rows would need ~3 GB per million).
JSON_LOOP = """
import gzip, json, sys
tokens = 0
with gzip.open(sys.argv[1], 'rt') as f:
    for line in f:
        record = json.loads(line)
        tokens += record['input_tokens'] + record['output_tokens']
"""

# Issue 16's baselines. `report --by feature` hand-written: the same aggregation (report.py's
# metrics, exact money sums, the total as a grouping set) over the priced requests (the requests
# beside the priced cache's columns).
HAND_REPORT = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute('''SELECT feature, count(*) AS requests,
    count(*) - count(task_id) + count(DISTINCT task_id) AS units,
    sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
    sum(cache_write_5m_tokens + cache_write_1h_tokens),
    sum(CAST(cost AS DECIMAL(38, 12))) AS cost,
    sum(CASE WHEN task_id IS NULL AND unit_evaluated THEN 1 ELSE 0 END)
        + count(DISTINCT CASE WHEN unit_evaluated THEN task_id END),
    sum(CASE WHEN task_id IS NULL AND unit_success THEN 1 ELSE 0 END)
        + count(DISTINCT CASE WHEN unit_success THEN task_id END),
    sum(CAST(CASE WHEN unit_evaluated THEN cost ELSE 0 END AS DECIMAL(38, 12))),
    sum(CAST(CASE WHEN NOT unit_evaluated THEN cost ELSE 0 END AS DECIMAL(38, 12))),
    sum(CASE WHEN cost IS NULL THEN 1 ELSE 0 END),
    sum(CASE WHEN cost IS NULL THEN input_tokens + output_tokens ELSE 0 END)
FROM requests POSITIONAL JOIN _cache_evaluated_requests GROUP BY GROUPING SETS ((feature), ())
ORDER BY cost DESC NULLS LAST''').fetchall()
"""

# `simulate caching` at its core: one lag() window over every request in its prefix group,
# counting the requests that came within 5 minutes of the previous one.
BARE_LAG = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute('''SELECT count(*) FILTER (WHERE gap_s <= 300),
    sum(prefix_tokens) FILTER (WHERE gap_s <= 300)
FROM (SELECT prefix_tokens, (epoch_ms(ts) - lag(epoch_ms(ts)) OVER (
    PARTITION BY provider, model, prefix_hash ORDER BY ts)) / 1000.0 AS gap_s FROM requests)
''').fetchall()
"""

# BENCHMARKS.md's section written by `make bench-claude-code` (claude_code.py); kept by this one.

# The live pricing view (not the priced cache): every request through the as-of join.
LIVE = """
import sys
from costops.rates.cost import install_pricing
from costops.rates.tables import load_tables
from costops.store.db import connect
con = connect(sys.argv[1], create=False)
install_pricing(con, load_tables(None))
"""

REPRICE = (
    LIVE
    + """
con.execute('SELECT sum(cost), count(*) FROM priced_requests').fetchall()
"""
)

ORACLE = (
    LIVE
    + """
import time, datetime as dt
from genai_prices import Usage, calc_price
n = int(sys.argv[2])
rows = con.execute(f'''SELECT input_tokens, cache_read_tokens, cache_write_5m_tokens,
    output_tokens, ts FROM requests WHERE model = 'gpt-5-nano' LIMIT {n}''').fetchall()
start = time.perf_counter()
con.execute(f'''SELECT sum(cost) FROM (SELECT * FROM priced_requests
    WHERE model = 'gpt-5-nano' LIMIT {n})''').fetchall()
ours = time.perf_counter() - start
start = time.perf_counter()
for i, r, w, o, ts in rows:
    calc_price(Usage(input_tokens=i, cache_read_tokens=r, cache_write_tokens=w or None,
                     output_tokens=o), model_ref='gpt-5-nano', provider_id='openai',
               genai_request_timestamp=ts.replace(tzinfo=dt.timezone.utc))
loop = time.perf_counter() - start
print(f"{len(rows)} {ours} {loop}")
"""
)


def stored_requests(db: Path) -> int:
    """How many requests an ingest stored (read in a process of its own, as a user would)."""
    out = subprocess.run(
        [str(BIN / "python"), "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
         "read_only=True).execute('SELECT count(*) FROM requests').fetchone()[0])", str(db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout)


def write_otlp_export(path: Path, spans: int, message_bytes: int = 0) -> float:
    """One OTLP/JSON export line of `spans` chat spans (as a collector's batch processor sends
    them), each with `message_bytes` of message content; returns the line's size in MB."""

    def attr(key: str, kind: str, value: str) -> dict[str, object]:
        return {"key": key, "value": {kind: value}}

    def span(i: int) -> dict[str, object]:
        start = 1_780_740_000_000_000_000 + i * 1_000_000_000
        attributes = [
            attr("gen_ai.operation.name", "stringValue", "chat"),
            attr("gen_ai.provider.name", "stringValue", "openai"),
            attr("gen_ai.request.model", "stringValue", "gpt-4.1"),
            attr("gen_ai.response.id", "stringValue", f"resp_{i}"),
            attr("gen_ai.usage.input_tokens", "intValue", "1000"),
            attr("gen_ai.usage.output_tokens", "intValue", "100"),
        ]
        if message_bytes:
            attributes.append(attr("gen_ai.input.messages", "stringValue", "m" * message_bytes))
        return {"traceId": f"{i // 4:032x}", "spanId": f"{i:016x}", "name": "chat gpt-4.1",
                "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 500_000_000),
                "attributes": attributes, "status": {}}  # fmt: skip

    export = {"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", "stringValue", "bench")]},
        "scopeSpans": [{"scope": {"name": "bench"}, "spans": [span(i) for i in range(spans)]}],
    }]}  # fmt: skip
    line = json.dumps(export, separators=(",", ":")) + "\n"
    path.write_text(line, encoding="utf-8")
    return len(line) / 1e6


def measure(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB, and stdout of one command (output goes to files, so a
    large one cannot block the pipe while we wait)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark step failed: {' '.join(args)}\n{err.read().decode()}")
        return elapsed, usage.ru_maxrss / 1024, out.read().decode()


HEADER = """# Benchmarks

Written by `make bench` (a section per size: `make bench` is 1M, `make bench N=10000000` 10M),
`make scale` (a store of ten 10M copies), `make bench-spark` (the Spark engine beside DuckDB at
10M) and `make bench-claude-code`. Each writes its own section between its markers and keeps the
others'.
"""
# The sections in the order they are shown: the sizes of `make bench`, smallest first, then these.
LATER_SECTIONS = ("bench-notes", "bench-semantic", "scale", "bench-spark", "bench-claude-code")
_SECTION = re.compile(r"<!-- (?!/)(.+?) -->\n(.*?)\n<!-- /\1 -->", re.DOTALL)


def bench_section(n: int) -> str:
    return f"bench N={n}"


def write_sections(path: Path, **bodies: str) -> None:
    """Write `bodies` (section name -> markdown) into the report at `path`, each between its
    markers, keeping every other section there."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    sections = {name: body for name, body in _SECTION.findall(text)}
    sections.update({name: body.strip() for name, body in bodies.items()})

    def order(name: str) -> tuple[int, int]:
        if name.startswith("bench N="):
            return (0, int(name.removeprefix("bench N=")))
        later = LATER_SECTIONS.index(name) if name in LATER_SECTIONS else len(LATER_SECTIONS)
        return (1, later)

    blocks = [f"<!-- {name} -->\n{sections[name]}\n<!-- /{name} -->"
              for name in sorted(sections, key=order)]  # fmt: skip
    path.write_text(HEADER + "\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")


@dataclass
class Row:
    step: str
    seconds: float
    rss_mb: float
    note: str = ""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--logs", type=Path, help="reuse logs generate.py wrote to this directory")
    opts = parser.parse_args()
    work = opts.out / str(opts.n)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = str(work / "bench.duckdb")
    requests = work / "requests.jsonl.gz"
    py = sys.executable
    rows: list[Row] = []

    if opts.logs:  # logs generated earlier at this size
        for name in ("requests.jsonl.gz", "evals.jsonl.gz"):
            shutil.copy(opts.logs / name, work / name)
    else:
        t, m, _ = measure(
            [py, "sample_logs/generate.py", "--requests", str(opts.n), "--out", str(work)]
        )
        rows.append(Row("generate the logs (not costops)", t, m))
    gz_mb = requests.stat().st_size / 1e6
    with gzip.open(requests, "rb") as f:
        raw_mb, lines = 0.0, 0
        while block := f.read(1 << 24):
            raw_mb += len(block) / 1e6
            lines += block.count(b"\n")
    t_ingest, m_ingest, _ = measure([COSTOPS, "ingest", str(requests), "--db", db])
    rows.append(Row("costops ingest of the requests file", t_ingest, m_ingest,
                    f"{lines / t_ingest:,.0f} lines/s, {raw_mb / t_ingest:,.0f} MB/s"))  # fmt: skip
    t, m, _ = measure([COSTOPS, "ingest", str(work / "evals.jsonl.gz"), "--db", db])
    rows.append(Row("costops ingest of the evals file", t, m))
    store_mb = Path(db).stat().st_size / 1e6  # before any report builds the priced cache
    t_bare, m, _ = measure([py, "-c", BARE_READ, str(requests)])
    rows.append(Row("DuckDB bare read_json of the requests file", t_bare, m,
                    f"costops ingest = {t_bare / t_ingest:.2f}x its speed"))  # fmt: skip
    t_loop, m, _ = measure([py, "-c", JSON_LOOP, str(requests)])
    rows.append(Row("Python json.loads loop over the requests file", t_loop, m,
                    f"costops ingest = {t_loop / t_ingest:.1f}x its speed"))  # fmt: skip
    timings: dict[str, float] = {}
    for label, args in [
        ("report --by feature (first: builds the priced cache)", ["report", "--by", "feature"]),
        ("report --by feature", ["report", "--by", "feature"]),
        ("report --by day,model", ["report", "--by", "day,model"]),
        ("simulate caching --ttl 5m", ["simulate", "caching"]),
        ("simulate caching --ttl best", ["simulate", "caching", "--ttl", "best"]),
        ("simulate plan (caching, output, batch)",
         ["simulate", "plan", "--features", "translate,doc-summarize", "--trim", "10"]),
    ]:  # fmt: skip
        t, m, _ = measure([COSTOPS, *args, "--db", db, "--format", "json"])
        timings[label] = t
        rows.append(Row(f"costops {label}", t, m))
    t_hand, m, _ = measure([py, "-c", HAND_REPORT, db])
    rows.append(Row("report --by feature hand-written in `python -c` over the priced cache "
                    "(baseline)", t_hand, m))  # fmt: skip
    t_lag, m, _ = measure([py, "-c", BARE_LAG, db])
    rows.append(Row("one bare lag() window over (provider, model, prefix_hash) (baseline)",
                    t_lag, m))  # fmt: skip
    t, m, _ = measure([py, "-c", REPRICE, db])
    rows.append(Row("full re-price (every request through the as-of join, no cache)", t, m))
    t, m, out = measure([py, "-c", ORACLE, db, "100000"])
    count, ours, loop = out.split()
    rows.append(Row(f"price {int(count):,} requests: costops SQL vs genai-prices calc_price loop",
                    float(ours), m, f"calc_price loop {float(loop):.1f} s = "
                    f"{float(loop) / float(ours):,.0f}x slower"))  # fmt: skip
    plain = work / "requests.jsonl"
    with gzip.open(requests, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 24)
    t, m_plain, _ = measure([COSTOPS, "ingest", str(plain), "--db", str(work / "plain.duckdb")])
    rows.append(Row(f"costops ingest of the same file uncompressed ({raw_mb / 1000:.1f} GB)",
                    t, m_plain, f"{lines / t:,.0f} lines/s"))  # fmt: skip
    plain.unlink()
    otlp_rss: dict[int, float] = {}
    otlp_stored: dict[int, bool] = {}
    for spans, message_bytes in OTLP_EXPORTS:
        export = work / f"otlp_{spans}_{message_bytes}.jsonl"
        line_mb = write_otlp_export(export, spans, message_bytes)
        otlp_db = work / f"otlp_{spans}_{message_bytes}.duckdb"
        t, m, _ = measure([COSTOPS, "ingest", str(export), "--db", str(otlp_db)])
        otlp_rss[message_bytes] = m
        otlp_stored[message_bytes] = stored_requests(otlp_db) == spans
        content = f", {message_bytes:,} bytes of messages a span" if message_bytes else ""
        rows.append(Row(f"costops ingest of one OTLP export line of {spans:,} spans{content}",
                        t, m, f"{line_mb:,.0f} MB line, {spans / t:,.0f} spans/s"))  # fmt: skip
        export.unlink()
    db_mb = Path(db).stat().st_size / 1e6
    facts = Facts(opts.n, lines, gz_mb, raw_mb, store_mb, db_mb, t_bare / t_ingest, m_plain,
                  timings["report --by feature"], timings["simulate caching --ttl 5m"],
                  otlp_rss[0], otlp_rss[OTLP_EXPORTS[1][1]], otlp_rss[OTLP_EXPORTS[2][1]],
                  all(otlp_stored.values()), t_ingest, t_bare,
                  timings["report --by feature (first: builds the priced cache)"], t_hand,
                  t_lag)  # fmt: skip
    write_report(opts.report, rows, facts)
    return 0


@dataclass
class Facts:
    n: int
    lines: int
    gz_mb: float
    raw_mb: float
    store_mb: float
    db_mb: float
    ingest_ratio: float
    plain_rss_mb: float
    report_s: float
    caching_s: float
    otlp_rss_mb: float  # one export line of 10,000 spans
    otlp_big_rss_mb: float  # one export line of 8,192 spans with messages (past 16 MiB)
    otlp_huge_rss_mb: float  # one export line of 8,192 spans with 30 KB of messages (~250 MB)
    otlp_all_stored: bool  # every span of every export line stored
    ingest_s: float
    bare_read_s: float
    first_report_s: float  # the first report after the ingest: builds the priced cache
    hand_report_s: float  # the same aggregation hand-written over the priced cache
    bare_lag_s: float  # one lag() window over the prefix groups


def issue16_rows(f: Facts) -> list[tuple[str, str, str, str]]:
    """(measure, goal, now, status) for each ratio of issue 16 that `make bench` measures."""
    at = f"{f.n / 1e6:g}M"

    def slower(name: str, ours: float, base: float, goal: float) -> tuple[str, str, str, str]:
        ratio = ours / base
        now = f"{ratio:.1f}x ({ours:.2f} s vs {base:.2f} s)"
        return name, f"<= {goal:g}x", now, "met" if ratio <= goal else "MISSED"

    speed = f.bare_read_s / f.ingest_s
    return [
        (f"ingest {at} canonical lines vs DuckDB bare `read_json` into a table", ">= 0.5x",
         f"{speed:.2f}x ({f.ingest_s:.2f} s vs {f.bare_read_s:.2f} s)",
         "met" if speed >= 0.5 else "MISSED"),
        slower(f"cached `report --by feature`, {at}, vs the same aggregation hand-written in "
               "`python -c` with duckdb", f.report_s, f.hand_report_s, 2),
        slower(f"first report after an ingest (builds the priced cache), {at}, same baseline",
               f.first_report_s, f.hand_report_s, 5),
        slower(f"`simulate caching`, {at}, vs one bare `lag()` window pass over (provider, model, "
               "prefix_hash)", f.caching_s, f.bare_lag_s, 3),
    ]  # fmt: skip


def write_report(path: Path, rows: list[Row], f: Facts) -> None:
    import duckdb

    cpu = os.cpu_count()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    table = "\n".join(f"| {r.step} | {r.seconds:.2f} | {r.rss_mb:,.0f} | {r.note} |" for r in rows)
    at = f"{f.n / 1e6:g}M"

    def status(ok: bool, measured: str, sized: bool = True) -> str:
        if not sized:
            return f"not measured at this size ({measured} here)"
        return f"{'met' if ok else 'MISSED'}: {measured}"

    targets = [
        ("costops ingest at least 0.5x the speed of bare read_json",
         status(f.ingest_ratio >= 0.5, f"{f.ingest_ratio:.2f}x")),
        (f"report --by feature on 10M rows < 1 s (measured at {at})",
         status(f.report_s < 1, f"{f.report_s:.2f} s", f.lines >= 10_000_000)),
        (f"simulate caching on 10M rows < 3 s (measured at {at})",
         status(f.caching_s < 3, f"{f.caching_s:.2f} s", f.lines >= 10_000_000)),
        (f"4 GB JSONL ingests under 2 GB peak RSS (measured on {f.raw_mb / 1000:.1f} GB)",
         status(f.plain_rss_mb < 2048, f"{f.plain_rss_mb:,.0f} MB", f.raw_mb >= 4000)),
        ("one OTLP export line of 10,000 spans ingests under 1.5 GB peak RSS",
         status(f.otlp_rss_mb < 1536, f"{f.otlp_rss_mb:,.0f} MB")),
        ("one OTLP export line of 8,192 spans with messages (past 16 MiB) under 1.5 GB peak RSS",
         status(f.otlp_big_rss_mb < 1536, f"{f.otlp_big_rss_mb:,.0f} MB")),
        ("one OTLP export line of ~250 MB (split into groups of traces) under 2.5 GB peak RSS "
         "(the 1.5 GB ingest cap + about twice the line)",
         status(f.otlp_huge_rss_mb < 2560, f"{f.otlp_huge_rss_mb:,.0f} MB")),
        ("every span of every OTLP export line stored",
         status(f.otlp_all_stored, "yes" if f.otlp_all_stored else "no")),
    ]  # fmt: skip
    target_rows = "\n".join(f"| {name} | {state} |" for name, state in targets)
    goal_rows = "\n".join(f"| {' | '.join(row)} |" for row in issue16_rows(f))
    text = f"""## At {at} requests (`make bench N={f.n}`, {dt.date.today().isoformat()})

{cpu} cores, {ram:.0f} GiB RAM, {platform.platform()}, Python {platform.python_version()}, DuckDB
{duckdb.__version__}. Input: {f.lines:,} request lines ({f.gz_mb:,.0f} MB gzip, {f.raw_mb:,.0f} MB
of JSON) from `sample_logs/generate.py`, plus their evals. Database on disk after ingest:
{f.store_mb:,.0f} MB ({f.store_mb * 1e6 / f.lines:,.0f} bytes per request, evals included); after
the reports built the priced cache: {f.db_mb:,.0f} MB ({f.db_mb * 1e6 / f.lines:,.0f} bytes per
request). Each step runs in its own process (CLI start-up included); peak RSS is that process's.

| step | seconds | peak RSS (MB) | note |
|---|---:|---:|---|
{table}

### Targets (SPEC §12) at {at}

| target | status |
|---|---|
{target_rows}

### Goals of issue 16 at {at}

Each ratio against its baseline, both measured in this run (the rows above). The Claude Code
folder ratios (vs ccusage) are in `make bench-claude-code`'s section; the 100M report is
`make scale`'s.

| measure | goal | now | status |
|---|---|---|---|
{goal_rows}
"""
    write_sections(path, **{bench_section(f.n): text, "bench-notes": NOTES})
    print(text + NOTES)


NOTES = """
## How the time is spent, and what would close the gaps

- **Ingest.** A clean canonical file is parsed by DuckDB's own parallel JSON reader in one pass,
  straight into typed, checked columns; any other file (other formats, bad lines) takes the
  line-by-line path, several times slower, which classifies and quarantines each line. Against
  bare `read_json` the fast path also hashes the file (to skip a file already ingested), counts
  its lines (so line numbers stay exact), runs every field check of the canonical format,
  removes within-file duplicates (streaming partials) and writes compressed columns to disk in
  one transaction. Profile of 2026-11-30 at 1M lines (6.9 s in all, `EXPLAIN ANALYZE` and
  cProfile): the staging statement 4.3-4.9 s with the hash, line and key count running beside it
  in a thread (alone: staging 3.3 s, of which DuckDB's reader 1.4 s; hashing 2.4 s, of which gzip
  0.8 s and sha256 0.35 s; on 2 cores the two share the CPU); the insert into the store 1.0-1.4 s
  (compressed columns to disk: the baseline builds an in-memory table); removing the 1,770
  repeated requests 0.1 s; start-up and imports 0.4 s. Tried and kept: the hash in a thread (-1.4
  s), string fields read as text (-0.6 s), two key patterns instead of one scan per key (-1.4 s of
  hashing), ranking only repeated ids (-0.8 s), no copy into `_best` (-1.0 s). Not done, because
  each breaks a guarantee: dropping line numbers of good rows (the store keeps each request's
  line), hashing only when a cheap identity (size, head, tail) matches an earlier run (a copy or
  a rotated file with other bytes in the middle could be taken for a known one).
- **A folder of small files** is read in batches of one scan each (`make bench-claude-code`).
  Profile of 600 Claude Code sessions (95,055 lines, 229 MB; ingest 10.8 s): Python reads and
  hashes each file 0.7 s, DuckDB's CSV scan of them 0.6 s and the copy into `_raw` 0.6 s,
  classification 1.8-2.4 s (a JSON parse per line for its keys, one for its type, one for the
  keys of the nested objects checked for repeats), adapting 2.3 s (one parse into a struct, then
  the canonical object is built and re-parsed), typing 1.3 s, choosing each request's record 0.7
  s, the rest (batch inputs, tallies, runs) about 1 s. ccusage parses each line once; the general
  path parses each line three to four times and copies its text through four tables, so it stays
  about ten times slower. Closing it needs a reader that types a Claude Code line's fields in the
  scan itself, as the canonical fast path does.
- **Start-up** (measured 2026-11-30): `costops --version` answers in 0.05 s, before the CLI
  loads; `costops report --by feature` on the demo store takes 0.85 s against 0.24 s for
  `python -c "import duckdb"`. cProfile: typer 0.29 builds a pydantic adapter for each parameter
  on every call (importing pydantic 0.16 s, the adapters 0.04 s), typer, click and rich load in
  about 0.17 s, costops' own modules 0.1 s, the analysis session and the query 0.3 s. Plotly,
  polars and yaml are imported only where used. Not closed: it needs a CLI layer that does not
  import pydantic.
- **Reports** read the priced cache: what pricing and units add to each request, stored beside
  it, and an hourly rollup of it; a report whose dimensions and bounds never split an hour reads
  the rollup, any other the priced requests. The first report after an ingest prices only the
  new runs' requests when nothing else changed (the row marked "first" is a full build), and a
  fresh cache loads no pricing table. The full build stores only what pricing and units add to
  each row, in the row's position (a positional join puts it beside the request); the pricing
  joins reorder the rows, so they are sorted back: profile at 10M (65 s): the sort into position
  24 s, pricing and units 10 s, the unit verdicts 14 s, eval targets 11 s, the rollup 4.5 s. At
  1M the sort is 2.2 s of 6 s. A sort in bounded chunks of positions, or a cache keyed by
  position instead of aligned to it, would remove most of it (not done).
- **Simulations at 10M**: `simulate caching` 17 s against 5.4 s for the bare window (3.1x; the
  CLI start-up and the pricing of the scenario's changed requests are the difference);
  `simulate plan` 141 s (each lever prices its scenario over every request).
- **Simulations** start from the stored costs: the caching simulation is one `lag()` window over
  a narrow projection of the requests (5m, 1h, best and the ceiling from the same pass); batch
  and cascade re-price only the requests whose rates change.
- **Memory.** DuckDB's memory is capped (COSTOPS_MEMORY_LIMIT, default 2GB, 1536MB for ingest)
  and it spills to disk beyond that; the fast path streams the file through the JSON reader and
  gzip decompression.
- **OTLP exports.** A collector sends up to 8,192 spans in one line. The line is parsed once
  (into the levels read: resources, scopes, spans), and each span is then parsed on its own, so
  memory grows with the line, not with spans times the line. An export line past 16 MiB is
  split first, outside DuckDB, into export lines of whole traces (DuckDB's parse of one line
  reserves several times its size); export lines may be up to 256 MiB.
"""


if __name__ == "__main__":
    sys.exit(main())

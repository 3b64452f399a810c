"""`make bench-claude-code [SESSIONS="600 6000"]`: costops against ccusage on generated Claude
Code session folders (issue 16), and the tokens per day each reports. Writes its section of
BENCHMARKS.md (between the bench-claude-code markers; the rest of the file is kept).

Each command runs in its own process, as a user would run it; costops needs two (ingest, then
report), ccusage one. Short steps are run three times and the median kept."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from bench import COSTOPS, ROOT, measure, write_sections  # type: ignore[import-not-found]
from claude_sessions import DAYS, generate  # type: ignore[import-not-found]

CCUSAGE_VERSION = "20.0.24"
NODE_DIR = ROOT / "bench_out" / "node"
CCUSAGE_PACKAGE = NODE_DIR / "node_modules" / "ccusage"
CCUSAGE_NATIVE = NODE_DIR / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
CCUSAGE_ARGS = ["claude", "daily", "--json", "--offline", "--timezone", "UTC"]
REPEATS = 3
SIZES = (600, 6000)  # issue 16's two folders
SEED = 16
# (the ratio's name, the goal at 600 sessions, at 6,000)
GOALS = {"cold": (2.0, 1.0), "incremental": (1.0, 1.0)}
TOKEN_KEYS = ("input", "output", "cache read", "cache write")


def install_ccusage() -> None:
    """ccusage from npm into bench_out/node (gitignored), unless that version is there."""
    manifest = CCUSAGE_PACKAGE / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == CCUSAGE_VERSION:
        return
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR),
         f"ccusage@{CCUSAGE_VERSION}"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def ccusage_command() -> list[str]:
    """ccusage as `npm install` leaves it: node runs the package's bin, which runs the native
    binary of this platform."""
    return ["node", str(NODE_DIR / "node_modules" / ".bin" / "ccusage"), *CCUSAGE_ARGS]


def sessions_folder(sessions: int) -> tuple[Path, dict[str, int]]:
    """The generated folder for this size, reused while the generator and seed are unchanged."""
    folder = ROOT / "bench_out" / "claude_code" / str(sessions)
    source = (Path(__file__).parent / "claude_sessions.py").read_bytes()
    stamp = f"{sessions} {SEED} {hashlib.sha256(source).hexdigest()}"
    stamp_file = folder / "generated"
    if stamp_file.exists() and stamp_file.read_text().startswith(stamp + "\n"):
        return folder, json.loads(stamp_file.read_text().split("\n", 1)[1])
    shutil.rmtree(folder, ignore_errors=True)
    files, lines, size = generate(folder, sessions, SEED)
    shape = {"files": files, "lines": lines, "bytes": size}
    stamp_file.write_text(stamp + "\n" + json.dumps(shape))
    return folder, shape


def median_run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    runs = [measure(args, env=env) for _ in range(REPEATS)]
    return statistics.median(t for t, _, _ in runs), runs[-1][2]


def pair(folder: Path, db: Path) -> tuple[float, float, str]:
    """`costops ingest FOLDER` then `costops report --by day`: (ingest s, report s, its JSON)."""
    t_ingest, _, _ = measure([COSTOPS, "ingest", str(folder), "--db", str(db)])
    t_report, _, out = measure(
        [COSTOPS, "report", "--by", "day", "--format", "json", "--db", str(db)]
    )
    return t_ingest, t_report, out


def has_report_ingest() -> bool:
    _, _, out = measure([COSTOPS, "report", "--help"])
    return "--ingest" in out


@dataclass
class Size:
    sessions: int
    shape: dict[str, int]
    requests: int
    seconds: dict[str, float] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)
    days: int = 0
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)  # key → (costops, ccusage)
    cost: tuple[float, float] = (0.0, 0.0)

    def ratio(self, step: str) -> float:
        return self.seconds[step] / self.seconds["ccusage"]


def run_size(sessions: int, single_process: bool) -> Size:
    folder, shape = sessions_folder(sessions)
    work = ROOT / "bench_out" / "claude_code" / f"{sessions}-db"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(folder)}
    seconds: dict[str, float] = {}
    t_ingest, t_report, report_json = pair(folder, work / "fresh.duckdb")
    seconds.update(ingest=t_ingest, report=t_report, cold=t_ingest + t_report)
    seconds["ccusage"], ccusage_json = median_run(ccusage_command(), env)
    seconds["ccusage native"], _ = median_run([str(CCUSAGE_NATIVE), *CCUSAGE_ARGS], env)
    again = [pair(folder, work / "fresh.duckdb") for _ in range(REPEATS)]
    seconds["incremental ingest"] = statistics.median(i for i, _, _ in again)
    seconds["incremental report"] = statistics.median(r for _, r, _ in again)
    seconds["incremental"] = statistics.median(i + r for i, r, _ in again)
    if single_process:
        one = [COSTOPS, "report", "--by", "day", "--format", "json", "--ingest", str(folder)]
        seconds["one process"], _, _ = measure([*one, "--db", str(work / "one.duckdb")])
        seconds["one process incremental"], _ = median_run([*one, "--db", str(work / "one.duckdb")])
    report = json.loads(report_json)
    size = Size(sessions, shape, report["totals"]["requests"], seconds)
    compare_tokens(size, report, json.loads(ccusage_json))
    print(f"{sessions:,} sessions: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))
    return size


def costops_days(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """costops' day rows in ccusage's terms: its input_tokens include the cache; ccusage's not."""
    return {
        row["day"]: {
            "input": row["input_tokens"] - row["cache_read_tokens"] - row["cache_write_tokens"],
            "output": row["output_tokens"],
            "cache read": row["cache_read_tokens"],
            "cache write": row["cache_write_tokens"],
            "cost": row["cost"] or 0.0,
        }
        for row in report["rows"]
    }


def ccusage_days(daily: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {
        day["date"]: {
            "input": day["inputTokens"],
            "output": day["outputTokens"],
            "cache read": day["cacheReadTokens"],
            "cache write": day["cacheCreationTokens"],
            "cost": day["totalCost"],
        }
        for day in daily["daily"]
    }


def compare_tokens(size: Size, report: dict[str, Any], daily: dict[str, Any]) -> None:
    """Every day and token kind where the two disagree, and the totals of each."""
    ours, theirs = costops_days(report), ccusage_days(daily)
    size.days = len(ours.keys() | theirs.keys())
    empty = dict.fromkeys((*TOKEN_KEYS, "cost"), 0.0)
    for day in sorted(ours.keys() | theirs.keys()):
        a, b = ours.get(day, empty), theirs.get(day, empty)
        for key in TOKEN_KEYS:
            if a[key] != b[key]:
                size.disagreements.append(
                    f"{day} {key}: costops {a[key]:,.0f}, ccusage {b[key]:,.0f}"
                )
    for key in TOKEN_KEYS:
        size.totals[key] = (
            int(sum(d[key] for d in ours.values())),
            int(sum(d[key] for d in theirs.values())),
        )
    size.cost = (sum(d["cost"] for d in ours.values()), sum(d["cost"] for d in theirs.values()))
    if not theirs or not sum(size.totals["output"]):
        raise SystemExit("ccusage reported no usage: is CLAUDE_CONFIG_DIR read?")


def goal_rows(sizes: list[Size]) -> list[str]:
    rows = []
    for s in sizes:
        big = s.sessions >= 6000
        checks = [
            ("cold", "ingest + `report --by day`, two processes"),
            ("incremental", "the same again with nothing new"),
        ]
        if "one process" in s.seconds:
            checks += [
                ("one process", "`report --by day --ingest FOLDER`, one process"),
                ("one process incremental", "`report --by day --ingest FOLDER`, nothing new"),
            ]
        for step, what in checks:
            kind = "incremental" if "incremental" in step else "cold"
            goal = GOALS[kind][1 if big else 0]
            ratio = s.ratio(step)
            state = "met" if ratio <= goal else "MISSED"
            rows.append(
                f"| {s.sessions:,} sessions: {what}, vs ccusage | <= {goal:g}x | "
                f"{ratio:,.1f}x ({s.seconds[step]:.2f} s vs {s.seconds['ccusage']:.2f} s) "
                f"| {state} |"
            )
    measured = {s.sessions for s in sizes}
    rows += [
        f"| {n:,} sessions | see above | not measured in this run | — |"
        for n in SIZES
        if n not in measured
    ]
    return rows


def token_lines(s: Size) -> str:
    """The tokens each tool counted, in total and on each day where they differ."""
    totals = ", ".join(f"{key} {ours:,} vs {theirs:,}" for key, (ours, theirs) in s.totals.items())
    head = (
        f"- **{s.sessions:,} sessions**, totals (costops vs ccusage): {totals}; "
        f"cost ${s.cost[0]:,.2f} vs ${s.cost[1]:,.2f}."
    )
    if not s.disagreements:
        return f"{head} Every day ({s.days}) agrees on every token kind."
    days = len({d.split()[0] for d in s.disagreements})
    same = all(ours == theirs for ours, theirs in s.totals.values())
    why = " The totals agree: the same requests, dated on another day." if same else ""
    shown = [f"  - {d}" for d in s.disagreements[:20]]
    more = ["  - …"] if len(s.disagreements) > 20 else []
    return "\n".join([f"{head} {days} of {s.days} days differ.{why}", "", *shown, *more])


def uncommitted() -> str:
    """The costops sources this run measured that differ from the commit (others' work)."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "costops"], capture_output=True, text=True, cwd=ROOT
    ).stdout.split("\n")
    paths = [line[3:] for line in status if line.strip()]
    return f"\nUncommitted changes measured: {', '.join(paths)}." if paths else ""


def section(sizes: list[Size], single_process: bool, load_start: float) -> str:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    folders = "\n".join(
        f"| {s.sessions:,} | {s.shape['lines']:,} | {s.shape['bytes'] / 1e6:,.0f} | "
        f"{s.shape['bytes'] / s.shape['files'] / 1e3:,.0f} | {s.requests:,} | {s.days} |"
        for s in sizes
    )
    header = " | ".join(f"{s.sessions:,} sessions (s)" for s in sizes)
    steps = [
        ("costops ingest FOLDER (fresh store)", "ingest"),
        ("costops report --by day --format json (first: builds the priced cache)", "report"),
        ("**costops, both**", "cold"),
        ("**ccusage claude daily --json --offline**", "ccusage"),
        ("ccusage's native binary alone (without node's start)", "ccusage native"),
        ("costops ingest FOLDER again (nothing new)", "incremental ingest"),
        ("costops report --by day again", "incremental report"),
        ("**costops incremental, both**", "incremental"),
    ]
    if single_process:
        steps += [
            ("costops report --by day --ingest FOLDER (fresh store)", "one process"),
            ("the same again (nothing new)", "one process incremental"),
        ]
    timing = "\n".join(
        f"| {label} | " + " | ".join(f"{s.seconds[key]:.2f}" for s in sizes) + " |"
        for label, key in steps
    )
    tokens = [token_lines(s) for s in sizes]
    missing = "" if single_process else (
        "\n`costops report --help` has no `--ingest` yet in this checkout: the single-process\n"
        "rows (`report --by day --ingest FOLDER`) are not measured.\n"
    )  # fmt: skip
    return f"""## Claude Code sessions: costops vs ccusage (issue 16)

Generated by `make bench-claude-code` on {dt.date.today().isoformat()} at `{commit}`:
{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()},
DuckDB {duckdb.__version__}, node {node_version()}. The machine is shared with other work:
load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.{uncommitted()}

ccusage {CCUSAGE_VERSION} from npm (`npm install --prefix bench_out/node`: a node launcher and
a native binary) runs as

    CLAUDE_CONFIG_DIR=FOLDER node bench_out/node/node_modules/.bin/ccusage {" ".join(CCUSAGE_ARGS)}

(`CLAUDE_CONFIG_DIR`: the folder holding `projects/`; `--timezone UTC`: its days are costops'
UTC days). The folders come from `benchmarks/claude_sessions.py` (seed {SEED}):
`projects/<project>/<session>.jsonl` over {DAYS} days, six Claude models, streaming partial
lines, sidechains, tool results, summaries, synthetic error replies, a few resumed sessions.

| sessions | lines | MB | KB a session | requests (costops) | days |
|---:|---:|---:|---:|---:|---:|
{folders}

| step | {header} |
|---|{"---:|" * len(sizes)}
{timing}

Short steps are the median of {REPEATS} runs; each is its own process (start-up included).
{missing}
### Goals of issue 16: Claude Code folders

| measure | goal | now | status |
|---|---|---|---|
{chr(10).join(goal_rows(sizes))}

Why the cold runs miss (profiled on 2026-11-30 with each statement timed, 600 sessions, 220 MB,
about 11 s of ingest): every file is now one of a few batches, not ~20 statements of its own
(600 files took ~1 s each before: planning, not reading), and a file unchanged since is not read
at all. What is left is per byte: the lines are read, hashed and decoded in Python and handed to
DuckDB as a list (about 3.5 s), then copied and parsed by the staging statements: load 1.9-2.6 s,
classify 1.6-2.1 s (one parse a line), canonicalise 2.3-3.0 s (one parse of each assistant line
for the adapter's eleven fields), check 0.7-1.0 s. ccusage reads each line once, in one pass.
Tried: one parse of a Claude Code line instead of ~25 (canonicalise 6.4 s -> 2.3 s), one parse to
classify instead of three. Next: drop the text of good lines after classification (it is copied
through four staging tables) and read Claude Code folders with DuckDB's parallel JSON reader over
the file list into a struct of the fields the adapter reads (as the canonical fast path does),
with the line-by-line path as the fallback that keeps quarantine line numbers exact.

### Tokens per day: costops vs ccusage

Input is Anthropic's (without the cache): costops' `input_tokens` less its cache reads and
writes. ccusage counts a (message.id, requestId) once; costops a message.id once, keeping its
most complete line. Where the totals agree and neighbouring days differ, look for a reply whose
streamed lines straddle midnight UTC: ccusage dates it by its first line, costops by the line
it keeps (the last of equally complete ones), so the same tokens land on different days.

{chr(10).join(tokens)}
"""


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md")
    opts = parser.parse_args()
    load_start = os.getloadavg()[0]
    install_ccusage()
    single_process = has_report_ingest()
    sizes = [run_size(n, single_process) for n in opts.sessions]
    body = section(sizes, single_process, load_start)
    write_sections(opts.report, **{"bench-claude-code": body})
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Re-run every `$ costops …` example in README.md and docs/commands.md; paste its real output.

    make readme

Each page starts from a fresh demo.duckdb. A page whose first example is not `costops ingest`
(the README shows only the headline report) gets the demo's ingest first, unseen; the examples
then run in order. A command's output is everything up to the next `$ ` line or the end of its
```console block.

The output must not depend on the machine or the moment, so that `make readme` on an unchanged
tree changes nothing (CI checks it): the terminal is 160 columns without colour, the time zone
UTC, the encoding UTF-8, no COSTOPS_* variable leaks in, and the checkout's path is cut out.

An example must exit 0, or the code its comment names (`$ costops budget check …  # exits 1`);
one that exits otherwise or raises a traceback stops the run before any page is written.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COSTOPS = Path(sys.executable).parent / "costops"
PAGES = (ROOT / "README.md", ROOT / "docs" / "commands.md")
DEMO_DB = ROOT / "demo.duckdb"
# The Makefile's `demo` ingest (its fixed --timestamp dates the batch results).
INGEST = "costops ingest sample_logs --timestamp 2026-03-20T12:00:00Z --db demo.duckdb"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
EXPECTED_EXIT = re.compile(r"\bexits? (\d+)\b")
WIDTH = "160"
# Variables through which rich would take a terminal's size or colours from the caller.
TERMINAL_OVERRIDES = {"FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "LINES", "TERM"}


class ExampleFailed(Exception):
    """An example exited with an unexpected code or raised a traceback."""


def environment() -> dict[str, str]:
    """The caller's environment without what would make the output differ between machines."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("COSTOPS_") and name not in TERMINAL_OVERRIDES
    }
    # UTF-8 whatever the locale: rich falls back to ASCII boxes on a non-UTF-8 stdout.
    return {**kept, "COLUMNS": WIDTH, "NO_COLOR": "1", "TZ": "UTC", "PYTHONUTF8": "1"}


def run(line: str) -> str:
    """Run one `$ costops …` line from the checkout and return its normalised output."""
    command, _, comment = line.partition("  #")
    args = shlex.split(command)
    if not args or args[0] != "costops":
        raise ExampleFailed(f"not a costops command: {line}")
    expected = EXPECTED_EXIT.search(comment)
    done = subprocess.run(
        [str(COSTOPS), *args[1:]],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        encoding="utf-8",
    )
    text = done.stderr + done.stdout
    wanted = int(expected.group(1)) if expected else 0
    if done.returncode != wanted or "Traceback (most recent call last)" in text:
        raise ExampleFailed(f"$ {line}\nexited {done.returncode}, expected {wanted}:\n{text}")
    text = text.replace(str(ROOT) + os.sep, "").replace(str(ROOT), ".")
    return "\n".join(line.rstrip() for line in text.splitlines())


def examples(page: str) -> list[str]:
    """The `$ ` lines of a page's console blocks, in order."""
    return [
        line[2:].strip()
        for block in BLOCK.finditer(page)
        for line in block.group(1).splitlines()
        if line.startswith("$ ")
    ]


def refresh(block: re.Match[str]) -> str:
    out = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            out.append(line)
            out.append(run(line[2:].strip()))
    return "```console\n" + "\n".join(out) + "\n```"


def regenerate(page: str) -> str:
    """The page with every example's output replaced by a fresh run's."""
    for stale in (DEMO_DB, DEMO_DB.with_name(DEMO_DB.name + ".wal")):
        stale.unlink(missing_ok=True)
    commands = examples(page)
    if commands and not commands[0].startswith("costops ingest"):
        run(INGEST)
    return BLOCK.sub(refresh, page)


def main() -> int:
    pages = {path: path.read_text(encoding="utf-8") for path in PAGES}
    try:
        fresh = {path: regenerate(text) for path, text in pages.items()}
    except ExampleFailed as failed:
        print(f"make readme: nothing written; an example failed:\n{failed}", file=sys.stderr)
        return 1
    for path, text in fresh.items():
        if text != pages[path]:
            path.write_text(text, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

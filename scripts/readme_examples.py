"""Re-run every `$ costops …` example in README.md and paste its real output under it.

    make readme

The examples run in order against a fresh demo.duckdb (the first one ingests the sample).
A command's output is everything up to the next `$ ` line or the end of its ```console block.
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
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def run(command: str) -> str:
    args = shlex.split(command)
    assert args[0] == "costops", command
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(COSTOPS), *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True
    )
    text = done.stderr + done.stdout
    text = text.replace(str(ROOT) + "/", "")
    return "\n".join(line.rstrip() for line in text.splitlines())


def refresh(block: re.Match[str]) -> str:
    out = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            out.append(line)
            command = line[2:].split("  #")[0].strip()
            out.append(run(command))
    return "```console\n" + "\n".join(out) + "\n```"


def main() -> int:
    for stale in (ROOT / "demo.duckdb", ROOT / "demo.duckdb.wal"):
        stale.unlink(missing_ok=True)
    readme = ROOT / "README.md"
    readme.write_text(BLOCK.sub(refresh, readme.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

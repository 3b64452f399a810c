"""The costops command line. Importing it is cheap: `costops --version` answers before any
command module (typer, rich, duckdb) is imported; everything else runs `costops.cli.commands`."""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    if sys.argv[1:] in (["--version"], ["version"]):
        from costops import __version__

        print(__version__)
        return
    from costops.cli.commands import run

    run()


def __getattr__(name: str) -> Any:
    """`from costops.cli import app`: the typer app, built on first use."""
    if name == "app":
        from costops.cli.commands import app

        return app
    raise AttributeError(name)

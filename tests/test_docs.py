"""Docs that cannot drift: every command has help text and is shown in the README."""

from __future__ import annotations

from pathlib import Path

import typer

from costops.cli import app

ROOT = Path(__file__).parent.parent


def command_paths() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    found = []

    def walk(command, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            path = f"{prefix} {name}".strip()
            if getattr(sub, "commands", None):
                walk(sub, path)
            else:
                found.append((path, sub))

    walk(root, "")
    return found


def test_every_command_has_help_text():
    for path, command in command_paths():
        assert (command.help or "").strip(), f"`costops {path}` has no help text"


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p for p, _ in command_paths() if f"costops {p}" not in readme]
    assert not missing, f"README.md does not show: {missing}"


def test_readme_quickstart_is_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme


def test_help_runs_for_every_command(run):
    for path, _ in command_paths():
        result = run(*path.split(), "--help")
        assert result.code == 0 and "Usage" in result.stdout, path

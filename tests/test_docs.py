"""Docs that cannot drift: every command has help text and is shown in docs/commands.md, the
README stays a front page, and every relative link in README.md and docs/ resolves.

The examples' output is checked in CI instead: `.ci/run` runs `make readme` and fails on a diff.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from costops.cli import app

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
TOUR = ROOT / "docs" / "commands.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


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


def prose(page: Path) -> str:
    """The page without its fenced blocks (console output may contain anything)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    seen: dict[str, int] = {}
    for line in prose(page).splitlines():
        if line.startswith("#"):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                seen[f"{slug}-{count}"] = 1
    return set(seen)


def test_every_command_has_help_text():
    for path, command in command_paths():
        assert (command.help or "").strip(), f"`costops {path}` has no help text"


def test_every_command_is_in_the_tour():
    tour = TOUR.read_text(encoding="utf-8")
    missing = [p for p, _ in command_paths() if f"costops {p}" not in tour]
    assert not missing, f"docs/commands.md does not show: {missing}"


def test_readme_quickstart_is_two_commands_and_says_how_to_run_costops():
    readme = README.read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert "source .venv/bin/activate" in readme and ".venv/bin/costops" in readme


def test_readme_is_a_front_page():
    """The tour lives in docs/commands.md; the README keeps the pitch and one report."""
    readme = README.read_text(encoding="utf-8")
    assert readme.count("\n$ costops ") == 1, "one headline example; the rest go to the tour"
    assert "](docs/commands.md)" in readme and "](docs/dashboard.png)" in readme
    assert len(readme.encode()) < 16_000


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(re.sub(r"`[^`\n]*`", "", prose(page))):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_help_runs_for_every_command(run):
    for path, _ in command_paths():
        result = run(*path.split(), "--help")
        assert result.code == 0 and "Usage" in result.stdout, path

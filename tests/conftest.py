"""Run costops as a user would: the real entry point, in-process, with exit codes captured."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from costops.cli import main

DATA = Path(__file__).parent / "data"
FIXTURE_PRICING = str(DATA / "pricing")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COSTOPS_DB", raising=False)
    monkeypatch.delenv("COSTOPS_PRICING", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """run("report", "--by", "feature") -> Result(code, stdout, stderr)."""

    def _run(*args: str, stdin: bytes | None = None) -> Result:
        if stdin is not None:
            import io

            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        monkeypatch.setattr(sys, "argv", ["costops", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return _run


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "test.duckdb")


@pytest.fixture
def report_db(run, db: str) -> str:
    """The hand-computed report fixture: features A-D, one task, evals incl. a shadow eval."""
    result = run("ingest", str(DATA / "report_requests.jsonl"), str(DATA / "report_evals.jsonl"),
                 "--db", db)  # fmt: skip
    assert result.code == 0, result.stderr
    return db


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The demo month (sample_logs, as `make demo` ingests it) in a store and a lake, once per
    test run: (database path, lake directory)."""
    from typer.testing import CliRunner

    from costops.cli.commands import app

    root = tmp_path_factory.mktemp("demo")
    db, lake = str(root / "demo.duckdb"), str(root / "lake")
    sample = str(Path(__file__).parent.parent / "sample_logs")
    args = ["ingest", sample, "--timestamp", "2026-03-20T12:00:00Z", "--db", db, "--to", lake]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return db, lake

"""The dashboard is one offline HTML file that renders in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DATA

CHARTS = ("pareto", "daily", "models", "success", "caching", "waterfall", "tasks")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dash")
    db, out = str(folder / "d.duckdb"), folder / "dashboard.html"
    costops = str(Path(os.sys.executable).parent / "costops")  # type: ignore[attr-defined]
    sample = DATA.parent.parent / "sample_logs"
    inputs = [str(sample / f) for f in ("requests.jsonl.gz", "evals.jsonl.gz")]
    subprocess.run([costops, "ingest", *inputs, "--db", db], check=True, capture_output=True)
    done = subprocess.run(
        [
            costops,
            "dashboard",
            "-o",
            str(out),
            "--db",
            db,
            "--config",
            str(sample / "costops.yaml"),
            "--embeddings",
            str(sample / "embeddings.parquet"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = subprocess.run(
        [costops, "report", "--db", db, "-f", "json"], capture_output=True, text=True, check=True
    )
    return out, json.loads(report.stdout)["totals"]


def test_the_file_is_self_contained(page):
    page, totals = page
    text = page.read_text()
    assert not re.search(r"<script[^>]+src=", text) and not re.search(r"<link[^>]+href=", text)
    assert "plotly" in text.lower() and all(f'id="chart-{c}"' in text for c in CHARTS)
    # the headline numbers are the report's
    assert f'class="value">${totals["cost"]:,.0f}<' in text
    assert f'class="value">{totals["requests"]:,}<' in text


def test_renders_in_headless_chromium(page, tmp_path):
    page, _ = page
    if not BROWSER:
        if os.environ.get("COSTOPS_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (installed by .ci/run) but was not found")
        pytest.skip("chromium not installed (make browser installs it)")
    args = [
        BROWSER,
        *FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--window-size=1400,2400",
    ]
    dom = subprocess.run(
        [*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    for chart in CHARTS:
        section = dom.stdout.split(f'id="chart-{chart}"', 1)[1].split("</section>", 1)[0]
        assert 'class="main-svg"' in section, f"{chart} did not render an SVG"
        assert re.search(r'class="(point|trace|waterfall|bars|table)', section), chart
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line.upper()]
    assert not [line for line in console if "error" in line.lower() or "uncaught" in line.lower()]
    shot = tmp_path / "dashboard.png"
    subprocess.run([*args, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000


def test_the_waterfall_has_the_semantic_cache_step(page):
    html = page[0].read_text(encoding="utf-8")
    assert "Semantic-cache" in html

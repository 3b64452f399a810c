"""What a plain `pip install costops` gives: a version to print, and genai-prices as an optional
extra whose absence is one clear line, not a traceback. (`make check-wheel` installs the built
wheel and runs it; these run in-process.)"""

from __future__ import annotations

import sys

from costops import __version__


def test_version_as_an_option_and_as_a_command(run):
    for args in (["--version"], ["version"]):
        result = run(*args)
        assert (result.code, result.stdout.strip()) == (0, __version__), args


def test_genai_prices_import_without_the_package_names_the_extra(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "genai_prices", None)  # `import genai_prices` now fails
    out = tmp_path / "genai"
    result = run("pricing", "import", "genai-prices", "--out", str(out))
    assert result.code == 2
    assert result.stderr.strip() == (
        "costops: error: pricing import genai-prices needs the genai-prices package: "
        "pip install 'costops[prices]'"
    )
    assert result.stdout == "" and not out.exists()

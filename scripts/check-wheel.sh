#!/usr/bin/env bash
# `make check-wheel` (SPEC §1: CI proves `pip install .` from a built wheel). Builds the sdist and
# the wheel from it, installs the wheel into a fresh venv outside the checkout, and from another
# directory runs what `make demo` runs. A module or data file missing from the wheel, or a build
# that warns, fails here instead of on a user's machine. genai-prices is not installed: the
# importer that needs it must say which extra to install.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset COSTOPS_DB COSTOPS_PRICING PYTHONPATH
started=$SECONDS

# fail MESSAGE [LOG]: say what failed, show the command's output, stop.
fail() {
  [ $# -lt 2 ] || cat "$2" >&2
  echo "check-wheel: $1" >&2
  exit 1
}

"$python" -m build --outdir "$work/dist" "$root" >"$work/out" 2>&1 || fail "the build failed" "$work/out"
if grep -E "[A-Za-z]Warning\b|[Dd]eprecat" "$work/out" >&2; then
  fail "the build printed warnings"
fi
wheel=("$work"/dist/*.whl)

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-compile "${wheel[0]}" >"$work/out" 2>&1 \
  || fail "pip install ${wheel[0]##*/} failed" "$work/out"
costops="$work/venv/bin/costops"

mkdir "$work/elsewhere"
cd "$work/elsewhere"
installed="$("$work/venv/bin/python" -c 'import costops; print(costops.__file__)')"
case "$installed" in
  "$work/venv/"*) ;;
  *) fail "costops was imported from $installed, not from the installed wheel" ;;
esac

run() {
  "$costops" "$@" >"$work/out" 2>&1 || fail "costops $* exited $?" "$work/out"
  [ -s "$work/out" ] || fail "costops $* printed nothing"
  echo "check-wheel: ok: costops $*"
}
run --version
run ingest "$root/sample_logs" --timestamp 2026-03-20T12:00:00Z --db x.duckdb
run report --by feature --db x.duckdb
run report --by model --db x.duckdb
run simulate caching --ttl best --db x.duckdb
run dashboard -o dashboard.html --config "$root/sample_logs/costops.yaml" --db x.duckdb
run pricing list

rc=0
"$costops" pricing import genai-prices --out imported >"$work/out" 2>&1 || rc=$?
if [ "$rc" -ne 2 ] || ! grep -qF "pip install 'costops[prices]'" "$work/out"; then
  fail "without genai-prices, \`costops pricing import genai-prices\` exited $rc" "$work/out"
fi
echo "check-wheel: ok: without genai-prices, pricing import genai-prices names costops[prices]"
echo "check-wheel: ${wheel[0]##*/} installs and runs ($((SECONDS - started)) s)"

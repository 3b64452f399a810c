"""Bytes → canonical rows (SPEC §3-§4): sources, parsing in DuckDB, quarantine, dedupe."""

"""The DuckDB file: opening, locking, migrations."""

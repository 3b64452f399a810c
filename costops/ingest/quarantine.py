"""What a quarantined line leaves in the store (SPEC §4): file, line number, reason, byte length,
a hash and the line's structure (keys and value types, no values); its text only with
--keep-text, redacted."""

from __future__ import annotations

from costops.ingest.formats.sql import IN_FILE
from costops.ingest.redact import redact_sql, tokens_sql

RAW_CAP = 64 * 1024  # characters kept of a structure or a --keep-text line

# Structure: DuckDB's json_structure (`{"model":"VARCHAR","usage":{"input_tokens":"UBIGINT"}}`);
# a key can itself be key-shaped or an address, so the key-shaped strings are redacted in it too.
# A line too long to parse, or not JSON, has no structure.
INSERT_SQL = f"""
INSERT INTO quarantine
    (run_id, file, line_no, reason, raw, quarantined_at, byte_length, sha256, structure)
SELECT f.run_id, f.file, line_no - f.shift, {tokens_sql("reason")},
    CASE WHEN $keep_text THEN left({redact_sql(f"left(raw, {2 * RAW_CAP})")}, {RAW_CAP}) END,
    current_timestamp::TIMESTAMP,
    strlen(raw), sha256(raw),
    CASE WHEN length(raw) <= $max_chars
         THEN left({tokens_sql("TRY(json_structure(raw))")}, {RAW_CAP}) END
FROM (SELECT line_no, reason, raw FROM _req UNION ALL SELECT line_no, reason, raw FROM _ev) q
{IN_FILE.format(t="q")}
WHERE reason IS NOT NULL
"""

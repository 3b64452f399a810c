"""How a staged request is stored, and which of several records of one request is kept.

Shared by the general path (costops.ingest.run) and the fast path (costops.ingest.fast), so both
store the same row for the same line.
"""

from __future__ import annotations

from costops.ingest import canonical
from costops.ingest.redact import attributes_sql


def stored_columns_sql(keep_text: bool) -> str:
    """A staged request's typed columns as they are stored: a fallback id, defaults for absent
    counts, a prefix that cannot fit dropped (and flagged), attributes without secrets (and
    without prompt-like keys unless --keep-text)."""
    fits = canonical.PREFIX_FITS_SQL
    return f"""COALESCE(request_id, {canonical.FALLBACK_ID_SQL}) AS request_id, ts,
        lower(provider) AS provider, model, feature, task_id, trace_id, session_id, customer,
        prompt_template, environment, workspace, input_tokens,
        COALESCE(cache_read_tokens, 0) AS cache_read_tokens,
        COALESCE(cache_write_5m_tokens, 0) AS cache_write_5m_tokens,
        COALESCE(cache_write_1h_tokens, 0) AS cache_write_1h_tokens,
        output_tokens, COALESCE(reasoning_tokens, 0) AS reasoning_tokens,
        CASE WHEN {fits} THEN prefix_hash END AS prefix_hash,
        CASE WHEN {fits} THEN prefix_tokens END AS prefix_tokens,
        NOT ({fits}) AS prefix_dropped,
        max_tokens, finish_reason, COALESCE(status, 'ok') AS status,
        latency_ms, COALESCE(batch, false) AS batch, service_tier, region, logged_cost,
        {attributes_sql("attributes", keep_text)} AS attributes"""


# The most complete record of a request wins: largest output, then latest; on a full tie the
# later line. Files ingested together: on a full tie the earlier file's record, as one by one (a
# later equal record does not replace a stored one); within a file, the later line.
BEST_ORDER = "output_tokens DESC, ts DESC, line_no DESC"
BEST_ORDER_FILES = "output_tokens DESC, ts DESC, file_first, line_no DESC"

# The request ids that occur more than once in `{rows}`: only they are ranked (a window over every
# row would move every wide row through a sort).
REPEATED_SQL = "SELECT request_id FROM {rows} GROUP BY request_id HAVING count(*) > 1"

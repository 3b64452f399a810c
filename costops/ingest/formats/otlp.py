"""OTLP/JSON traces as the OpenTelemetry Collector file exporter writes them: one TracesData per
line (resourceSpans → scopeSpans → spans, attributes as key/value pairs, intValue and
*UnixNano as strings, hex ids). Model-call spans become requests; agent spans in the same trace
give them their task and feature. Every GenAI semconv era is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from costops.ingest.formats.sql import COUNT_TYPE, IN_FILE, canonical_object, first, patch

# A collector batches up to 8,192 spans per export line, messages included: past the 16 MiB of
# any other line. A line is read as an export when it starts like one (the reader sees its head).
# DuckDB's JSON functions reserve several times a line's size, so an export line longer than
# SPLIT_BYTES is split (outside DuckDB, `split_export`) into export lines of whole traces.
MAX_LINE_BYTES = 256 * 1024 * 1024
SPLIT_BYTES = 16 * 1024 * 1024
GROUP_CHARS = 4 * 1024 * 1024  # about the length of each export line a split makes
_EXPORT_START = re.compile(rb'(\xef\xbb\xbf)?\s*\{\s*"resourceSpans"\s*:')


def starts_export(head: bytes) -> bool:
    """Whether a line's first bytes open an OTLP/JSON traces export."""
    return _EXPORT_START.match(head) is not None


def split_export(text: str, group_chars: int) -> Iterator[str]:
    """An export line as export lines of about `group_chars` each, every one holding whole
    traces (the context of a model call is in its trace) with their resource and scope, the
    spans' text unchanged. The line is read through first: ValueError if it is not valid JSON.
    Each span is parsed on its own (for its traceId), so memory stays near the line's size."""
    export = _Export(text.removeprefix("\ufeff"))
    traces: dict[object, list[_Span]] = {}
    for i, span in enumerate(export.spans):
        traces.setdefault(span.trace if span.trace is not None else i, []).append(span)
    group: list[_Span] = []
    size = 0
    for spans in traces.values():
        length = sum(s.end - s.start for s in spans)
        if group and size + length > group_chars:
            yield export.line(group)
            group, size = [], 0
        group += spans
        size += length
    if group:
        yield export.line(group)


@dataclass(frozen=True)
class _Span:
    trace: object  # its traceId (None when missing or not a string)
    resource: int  # which resource (index into _Export.resources) and scope it is under
    scope: int
    start: int  # where its JSON text is in the line
    end: int


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _Export:
    """Where the resources, scopes and spans of an export line are (read once, level by level;
    a value not needed is skipped by parsing it alone)."""

    def __init__(self, text: str):
        self.text = text
        self.at = 0
        self.resources: list[str] = []  # the JSON text of each resource ("{}" when missing)
        self.scopes: list[str] = []  # the same for each scope
        self.spans: list[_Span] = []
        for key in self._members():
            if key == "resourceSpans":
                for _ in self._items():
                    self._resource_spans()
            else:
                self._value()
        if self._peek() != "":
            raise json.JSONDecodeError("Extra data", self.text, self.at)

    def line(self, spans: list[_Span]) -> str:
        """An export line of these spans, in their order in the line, under their scopes."""
        parts: list[str] = []
        at = None
        for span in sorted(spans, key=lambda s: s.start):
            if (span.resource, span.scope) != at:
                if at is not None:
                    parts.append("]}]},")
                at = (span.resource, span.scope)
                resource, scope = self.resources[span.resource], self.scopes[span.scope]
                parts += ['{"resource":', resource, ',"scopeSpans":[{"scope":', scope, ',"spans":[']
            elif parts[-1] != ',"spans":[':
                parts.append(",")
            parts.append(self.text[span.start : span.end])
        return '{"resourceSpans":[' + "".join(parts) + "]}]}]}"

    def _resource_spans(self) -> None:
        resource = len(self.resources)
        self.resources.append("{}")
        for key in self._members():
            if key == "resource":
                self.resources[resource] = self._value_text()
            elif key == "scopeSpans":
                for _ in self._items():
                    self._scope_spans(resource)
            else:
                self._value()

    def _scope_spans(self, resource: int) -> None:
        scope = len(self.scopes)
        self.scopes.append("{}")
        for key in self._members():
            if key == "scope":
                self.scopes[scope] = self._value_text()
            elif key == "spans":
                for _ in self._items():
                    start = self._skip_space()
                    span = self._value()
                    trace = span.get("traceId") if isinstance(span, dict) else None
                    trace = trace if isinstance(trace, str) else None
                    self.spans.append(_Span(trace, resource, scope, start, self.at))
            else:
                self._value()

    def _skip_space(self) -> int:
        self.at = _WHITESPACE.match(self.text, self.at).end()  # type: ignore[union-attr]
        return self.at

    def _peek(self) -> str:
        return self.text[self._skip_space() : self.at + 1]

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise json.JSONDecodeError(f"Expecting {char!r}", self.text, self.at)
        self.at += 1

    def _open(self, char: str) -> None:
        """Into the object (`{`) or array (`[`) here. Another value is valid JSON of another
        shape (ValueError); anything else is not JSON (JSONDecodeError)."""
        if self._peek() != char:
            start = self.at
            self._value()
            raise ValueError(f"expected {'an object' if char == '{' else 'an array'} at {start}")
        self.at += 1

    def _value(self) -> object:
        value, self.at = _DECODER.raw_decode(self.text, self._skip_space())
        return value

    def _value_text(self) -> str:
        start = self._skip_space()
        self._value()
        return self.text[start : self.at]

    def _members(self) -> Iterator[str]:
        """The keys of the object here, in order; the caller reads each value."""
        self._open("{")
        if self._peek() == "}":
            self.at += 1
            return
        while True:
            if self._peek() != '"':
                raise json.JSONDecodeError("Expecting property name", self.text, self.at)
            key = str(self._value())
            self._expect(":")
            yield key
            if self._peek() == "}":
                self.at += 1
                return
            self._expect(",")

    def _items(self) -> Iterator[None]:
        """Once per element of the array here; the caller reads each element."""
        self._open("[")
        if self._peek() == "]":
            self.at += 1
            return
        while True:
            yield None
            if self._peek() == "]":
                self.at += 1
                return
            self._expect(",")


MODEL_OPERATIONS = ("chat", "text_completion", "generate_content", "embeddings", "completion")

# The parts of an export line that are read, as json_transform types: the line is parsed once,
# and each span stays JSON text (its own `raw`) until it is parsed on its own.
_ATTRIBUTES = [{
    "key": "VARCHAR",
    "value": {"stringValue": "VARCHAR", "intValue": "VARCHAR", "doubleValue": "VARCHAR",
              "boolValue": "VARCHAR", "arrayValue": {"values": [{"stringValue": "VARCHAR"}]}},
}]  # fmt: skip
EXPORT_TYPE = json.dumps({
    "resourceSpans": [{
        "resource": {"attributes": _ATTRIBUTES},
        "scopeSpans": [{"scope": {"name": "VARCHAR"}, "spans": ["JSON"]}],
    }]
})  # fmt: skip
SPAN_TYPE = json.dumps({
    "traceId": "VARCHAR", "spanId": "VARCHAR", "startTimeUnixNano": "VARCHAR",
    "endTimeUnixNano": "VARCHAR", "status": {"code": "VARCHAR"}, "attributes": _ATTRIBUTES,
})  # fmt: skip

# One attribute value as text, whatever its OTLP type (arrays: the first element).
_VALUE = (
    "COALESCE(a.value.stringValue, a.value.intValue, a.value.doubleValue, a.value.boolValue, "
    'a.value.arrayValue."values"[1].stringValue)'
)


def _entries(attributes: str) -> str:
    """An OTLP attribute list as {key, i, value} entries sorted by key, then position; an entry
    without a key is ignored."""
    return (
        f"list_sort(list_filter(list_transform(COALESCE({attributes}, []), "
        f"lambda a, i: {{'key': a.key, 'i': i, 'value': {_VALUE}}}), "
        f"lambda e: e.key IS NOT NULL))"
    )


def _map(entries: str) -> str:
    """Sorted entries (a column) as a MAP(VARCHAR, VARCHAR): the last value wins on a repeated
    key, as most producers read it (sorting keeps this linear-logarithmic in the list size)."""
    return (
        f"map_from_entries(list_transform(list_filter({entries}, "
        f"lambda e, i: i = len({entries}) OR {entries}[i + 1].key <> e.key), "
        f"lambda e: {{'key': e.key, 'value': e.value}}))"
    )


# Each level is unnested without the level above it, so a span row carries its own JSON (its
# `raw`), never the whole export line: memory grows with the line, not with spans x line.
SPANS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _spans AS
WITH exports AS (
    SELECT line_no, unnest((json_transform(raw, '{EXPORT_TYPE}')).resourceSpans) AS r
    FROM _classified WHERE format = 'otlp' AND parse_error IS NULL
),
resources AS (
    SELECT line_no, r.scopeSpans AS scope_spans, {_entries("r.resource.attributes")} AS res_entries
    FROM exports
),
scope_spans AS (
    SELECT line_no, {_map("res_entries")} AS res, unnest(scope_spans) AS ss FROM resources
),
spans AS (
    SELECT line_no, res, ss.scope.name AS scope, unnest(ss.spans) AS sp FROM scope_spans
),
typed AS (SELECT *, json_transform(sp, '{SPAN_TYPE}') AS s FROM spans),
attributed AS (SELECT *, {_entries("s.attributes")} AS span_entries FROM typed)
SELECT line_no, sp::VARCHAR AS raw, res, scope, s.traceId AS trace, s.spanId AS span_id,
       s.startTimeUnixNano AS start_ns, s.endTimeUnixNano AS end_ns, s.status.code AS status_code,
       {_map("span_entries")} AS m
FROM attributed
"""


def _attr(*keys: str) -> str:
    return first(*(f"m['{k}']" for k in keys))


FEATURE_KEYS = (
    "costops.feature", "app.feature", "traceloop.association.properties.feature",
)  # fmt: skip
CUSTOMER_KEYS = (
    "costops.customer", "traceloop.association.properties.customer", "enduser.id", "user.id",
)  # fmt: skip

# Context from the whole trace: a feature named on any span, and the agent that ran it.
# Per file (files ingested together): a span takes its context from the spans of its trace in
# its own file, as when the file is ingested alone.
_IN_FILE = IN_FILE.format(t="s")
TRACE_CONTEXT_SQL = f"""
CREATE OR REPLACE TEMP TABLE _trace_context AS
SELECT f.run_id, trace,
    max({_attr(*FEATURE_KEYS)}) AS feature,
    max(CASE WHEN m['gen_ai.operation.name'] IN ('invoke_agent', 'create_agent')
             THEN COALESCE(m['gen_ai.agent.name'], 'agent') END) AS agent
FROM _spans s {_IN_FILE} GROUP BY f.run_id, trace
"""

_OPENLIT_ANTHROPIC = (
    "((lower(res['telemetry.sdk.name']) = 'openlit' OR lower(scope) LIKE '%openlit%') "
    "AND lower(COALESCE(m['gen_ai.provider.name'], m['gen_ai.system'])) = 'anthropic')"
)


def _int(*keys: str) -> str:
    return first(*(f"TRY_CAST(m['{k}'] AS {COUNT_TYPE})" for k in keys))


def _canonical() -> str:
    read = _int("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
    written = _int(
        "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"
    )
    reported_in = _int("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    output = _int("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    total = _int("llm.usage.total_tokens", "gen_ai.usage.total_tokens")
    # OpenLIT's Anthropic instrumentation reports Anthropic's exclusive input count.
    input_tokens = (
        f"CASE WHEN {_OPENLIT_ANTHROPIC} THEN {reported_in} + COALESCE({read}, 0) "
        f"+ COALESCE({written}, 0) ELSE COALESCE({reported_in}, {total} - {output}) END"
    )
    return canonical_object({
        "request_id": first("m['gen_ai.response.id']", "span_id"),
        "timestamp": "start_ns",
        "provider": "lower(COALESCE(m['gen_ai.provider.name'], m['gen_ai.system']))",
        "model": first("m['gen_ai.response.model']", "m['gen_ai.request.model']"),
        "input_tokens": input_tokens,
        "cache_read_tokens": read,
        "cache_write_5m_tokens": written,
        "output_tokens": output,
        "reasoning_tokens": _int("gen_ai.usage.reasoning.output_tokens",
                                 "gen_ai.usage.reasoning_tokens"),
        "max_tokens": _int("gen_ai.request.max_tokens"),
        "finish_reason": "m['gen_ai.response.finish_reasons']",
        "status": "CASE WHEN status_code IN ('2', 'STATUS_CODE_ERROR') THEN 'error' ELSE 'ok' END",
        "latency_ms": "TRY_CAST((TRY_CAST(end_ns AS HUGEINT) - TRY_CAST(start_ns AS HUGEINT)) "
        "/ 1000000 AS BIGINT)",
        "logged_cost": "TRY_CAST(m['gen_ai.usage.cost'] AS DOUBLE)",
        "feature": first(_attr(*FEATURE_KEYS), "t.feature", "m['gen_ai.agent.name']", "t.agent"),
        "task_id": "CASE WHEN t.agent IS NOT NULL THEN s.trace END",
        "trace_id": "s.trace",
        "session_id": _attr("session.id", "gen_ai.conversation.id",
                            "traceloop.association.properties.session_id"),
        "customer": _attr(*CUSTOMER_KEYS),
        "prompt_template": _attr("costops.prompt_template",
                                 "traceloop.association.properties.prompt_template"),
        "environment": first("res['deployment.environment.name']", "res['deployment.environment']"),
        "attributes": "json_object('service', res['service.name'])",
    })  # fmt: skip


# A span with usage, or a model operation on a named model; the rest (workflow, agent and tool
# spans, or a chat span with neither model nor usage) is context, not a request.
IS_MODEL_CALL = (
    f"((m['gen_ai.operation.name'] IN {MODEL_OPERATIONS!r} AND COALESCE("
    "m['gen_ai.response.model'], m['gen_ai.request.model']) IS NOT NULL) "
    "OR m['gen_ai.usage.input_tokens'] IS NOT NULL OR m['gen_ai.usage.prompt_tokens'] IS NOT NULL "
    "OR m['gen_ai.usage.output_tokens'] IS NOT NULL)"
)


def canon_sql(mappings: dict[str, tuple[str, ...]]) -> str:
    """One canonical object per model-call span; `otel:KEY` mappings override dimensions. An
    export line that cannot be read (not UTF-8) is passed on with its reason."""
    prefix = "otel:"
    attributes = {
        dim: first(*(f"m['{p[len(prefix) :]}']" for p in paths if p.startswith(prefix)))
        for dim, paths in mappings.items()
        if any(p.startswith(prefix) for p in paths)
    }
    patched = patch("canon", attributes)
    return f"""
SELECT line_no, raw, NULL AS parse_error, 'otlp' AS format, {patched} AS canon
FROM (
    SELECT s.line_no, s.raw, s.m, {_canonical()} AS canon
    FROM _spans s {_IN_FILE}
    LEFT JOIN _trace_context t ON t.trace = s.trace AND t.run_id = f.run_id
    WHERE {IS_MODEL_CALL}
)
UNION ALL
SELECT line_no, raw, parse_error, format, NULL AS canon
FROM _classified WHERE format = 'otlp' AND parse_error IS NOT NULL
"""

"""costops' SQL (DuckDB's dialect) for Spark: sqlglot transpiles it, the rules here fix what
sqlglot leaves wrong for Spark, and the lint names what neither can carry.

Each rule is an AST rewrite on DuckDB's parse, before Spark's SQL is generated:
- `timezone(tz, timezone('UTC', ts))` (UTC to local) → `from_utc_timestamp(ts, tz)`, and
  `timezone('UTC', timezone(tz, ts))` or a lone `timezone(tz, ts)` of a plain timestamp (local
  to UTC: costops' DuckDB sessions run in UTC) → `to_utc_timestamp(ts, tz)`;
- `epoch_ms(ts)` → `unix_millis(ts)` (sqlglot reads it as the inverse, ms to a timestamp) and
  `epoch(ts)` → `unix_micros(ts) / 1e6` (Spark's unix_timestamp drops the fraction);
- `quantile_cont(x, q)` → `percentile(x, q)`;
- `strftime` formats in Java's pattern letters, every other run of letters (`T`, `Z`, `at`)
  quoted;
- aliases and columns with a dot (`attr.team`) renamed (`attr__dot__team`): Spark reads a dot
  as a struct field; the Spark engine names its result columns back;
- positional `?` → named parameters `:p0`, `:p1`, …;
- costops' money macros (costops.analysis.exact) expanded: `decimal_sum(x)` →
  `sum(CAST(x AS DECIMAL(38, 12)))`, `money_sum(x)` → that sum as a DOUBLE;
- `grouping(a, b)` → `grouping_id(a, b)` (both a bit mask);
- `to_json(scalar)` → the scalar's text from `to_json(named_struct('v', scalar))`;
- a literal with a decimal point (`1.0`) → a DOUBLE: Spark would keep it a DECIMAL, and an
  average of DECIMALs stays one (DuckDB's is a DOUBLE), rounded to a few places;
- CTEs stay nested where they are written (NestedSpark).
"""

from __future__ import annotations

import re
from typing import ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.spark import Spark
from sqlglot.generators.spark import SparkGenerator
from sqlglot.tokens import TokenType

from costops.analysis.exact import MONEY

DOT = "__dot__"  # what a dot in a column name becomes on Spark

# What neither sqlglot nor a rule carries to Spark, as (pattern, why): analysis SQL that matches
# one fails the portability lint (tests/test_portable.py).
DENYLIST = (
    (r"\*\s+(EXCLUDE|REPLACE)\b", "a * EXCLUDE/REPLACE star (use "
     "costops.engine.select_list)"),
    (r"\bPOSITIONAL\s+JOIN\b", "a POSITIONAL JOIN (DuckDB only)"),
    (r"\browid\b", "rowid (DuckDB only)"),
    (r"^\s*UPDATE\b", "UPDATE (rewrite as a SELECT)"),
    (r"^\s*COPY\b", "COPY (write through the renderer)"),
    (r"\blist\s*\(\s*DISTINCT\b[^)]*ORDER\s+BY", "list(DISTINCT … ORDER BY …)"),
    (r"\bduckdb_\w+\s*\(", "a DuckDB catalog function"),
    (r"\bcurrent_setting\s*\(|^\s*SET\b", "a DuckDB setting"),
    (r"\bWITHIN\s+GROUP\b", "WITHIN GROUP (sqlglot makes it an approximate percentile)"),
)  # fmt: skip


def problems(sql: str) -> list[str]:
    """Why `sql` cannot run on Spark (empty when it can): a denylisted construct, a
    `timezone(` call no rule rewrites, or SQL that sqlglot cannot parse."""
    found = [why for pattern, why in DENYLIST if re.search(pattern, sql, re.IGNORECASE | re.M)]
    if any(t.token_type == TokenType.PARAMETER for t in DuckDB().tokenize(sql)):
        found.append("a numbered parameter $n (use ?: they are numbered in order)")
    try:
        tree = parse(sql)
    except sqlglot.errors.ParseError as exc:
        return [*found, f"not parsed: {str(exc).splitlines()[0]}"]
    rewrite(tree)
    found += [f"{name}() has no Spark rule" for name in _unrewritten(tree)]
    return found


class NestedSpark(Spark):
    """Spark's dialect, its CTEs left where they are written: Spark 3+ reads a WITH inside a
    subquery, and hoisting them (sqlglot's default for Spark) clashes when two subqueries
    name theirs alike (the pricing SQL's stages, used twice by a scenario)."""

    class Generator(SparkGenerator):
        EXPRESSIONS_WITHOUT_NESTED_CTES: ClassVar[set[type[exp.Expr]]] = set()


def to_spark(sql: str) -> str:
    """`sql` in Spark's dialect, with costops' rules applied."""
    return spark_sql(rewrite(parse(sql)))


def spark_sql(tree: exp.Expr) -> str:
    """A rewritten parse as Spark SQL."""
    return tree.sql(dialect=NestedSpark)


def parse(sql: str) -> exp.Expr:
    """DuckDB's parse of `sql`, its positional `?` numbered in the order they appear."""
    tokens = [t for t in DuckDB().tokenize(sql) if t.token_type == TokenType.PLACEHOLDER]
    numbered, end = [], 0
    for index, token in enumerate(t for t in tokens if t.text == "?"):
        numbered += [sql[end : token.start], f"${index + 1}"]
        end = token.end + 1
    return sqlglot.parse_one("".join([*numbered, sql[end:]]), read="duckdb")


def rewrite(tree: exp.Expr) -> exp.Expr:
    """Apply every rule to the parse of a DuckDB statement (in place; returns it): parameter
    `$n` (the n-th `?`) becomes Spark's named `:p{n-1}`."""
    for placeholder in list(tree.find_all(exp.Placeholder)):
        if str(placeholder.this).isdigit():
            placeholder.replace(exp.Placeholder(this=f"p{int(placeholder.this) - 1}"))
    for name in list(tree.find_all(exp.Identifier)):
        if "." in name.this:
            name.replace(exp.Identifier(this=name.this.replace(".", DOT), quoted=True))
    for node in reversed(list(tree.walk(bfs=False))):  # a node's arguments before the node
        replaced = _rule(node)
        if replaced is not node:
            if node is tree:
                return replaced
            node.replace(replaced)
    return tree


def _rule(node: exp.Expr) -> exp.Expr:
    for rule in (_timezone, _epoch, _percentile, _strftime, _macro, _grouping, _double, _to_json):
        replaced = rule(node)
        if replaced is not None:
            return replaced
    return node


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _timezone_args(node: exp.Expr) -> tuple[exp.Expr, exp.Expr] | None:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "timezone":
        args = node.expressions
        if len(args) == 2:
            return args[0], args[1]
    return None


def _is_utc(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and node.is_string and node.this.upper() == "UTC"


def _timezone(node: exp.Expr) -> exp.Expr | None:
    outer = _timezone_args(node)
    if outer is None:
        return None
    zone, value = outer
    inner = _timezone_args(value)
    if inner is None:  # a wall-clock time in the zone → its UTC time (stores keep UTC)
        parent = node.parent
        if parent is not None and _timezone_args(parent) is not None:
            return None  # the inner call of a pair: its outer call rewrites both
        plain = isinstance(value, exp.Column) or (
            isinstance(value, exp.Cast) and value.to.sql("duckdb") == "TIMESTAMP"
        )
        # a TIMESTAMPTZ argument would mean the other conversion: left for the lint
        return _call("to_utc_timestamp", value, zone) if plain else None
    if _is_utc(inner[0]):  # UTC wall clock → instant → the zone's wall clock
        return _call("from_utc_timestamp", inner[1], zone)
    if _is_utc(zone):  # the zone's wall clock → instant → UTC wall clock
        return _call("to_utc_timestamp", inner[1], inner[0])
    return None


def _epoch(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.UnixToTime) and node.args.get("scale") == exp.UnixToTime.MILLIS:
        return _call("unix_millis", node.this)
    if isinstance(node, exp.TimeToUnix):
        return exp.Div(this=_call("unix_micros", node.this), expression=exp.Literal.number("1e6"))
    return None


def _percentile(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return _call("percentile", node.this, node.expression)
    return None


# strftime codes costops uses, in Java's pattern letters (anything else is quoted literally).
JAVA_TIME = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss",
             "%g": "SSS"}  # fmt: skip


def _strftime(node: exp.Expr) -> exp.Expr | None:
    if not isinstance(node, exp.TimeToStr):
        return None
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return None
    pieces = re.split(r"(%[a-zA-Z])", fmt.this)
    java = "".join(JAVA_TIME.get(p) or _java_literal(p) for p in pieces if p)
    if "%" in java:
        return None  # a code without a rule: left for the lint to name
    return _call("date_format", node.this, exp.Literal.string(java))


def _java_literal(text: str) -> str:
    """Text of a strftime format as Java reads it literally: letters quoted, quotes doubled."""
    if text.startswith("%"):
        return text  # a code without a rule: left for the lint
    return re.sub(r"[A-Za-z]+", lambda m: f"'{m.group(0)}'", text.replace("'", "''"))


def _macro(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Anonymous) and node.name.lower() in ("decimal_sum", "money_sum"):
        (value,) = node.expressions
        total = exp.Sum(this=exp.Cast(this=value, to=exp.DataType.build(MONEY)))
        if node.name.lower() == "money_sum":
            return exp.Cast(this=total, to=exp.DataType.build("DOUBLE"))
        return total
    return None


def _grouping(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Grouping):
        return _call("grouping_id", *node.expressions)
    return None


def _double(node: exp.Expr) -> exp.Expr | None:
    if (
        isinstance(node, exp.Literal)
        and not node.is_string
        and re.fullmatch(r"\d+\.\d*", node.this)
    ):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
    return None


def _to_json(node: exp.Expr) -> exp.Expr | None:
    """A scalar's JSON text: Spark's to_json takes a struct only, so the value goes into one
    and comes back out of its text (`{"v":…}`); NULL stays NULL, as in DuckDB."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "to_json"):
        return None
    (value,) = node.expressions
    wrapped = _call("to_json", _call("named_struct", exp.Literal.string("v"), value.copy()))
    text = sqlglot.parse_one("substring(w, 6, length(w) - 6)", read="spark")
    for column in list(text.find_all(exp.Column)):
        column.replace(wrapped.copy())
    return exp.Case(ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()),
                                true=exp.Null())], default=text)  # fmt: skip


def _unrewritten(tree: exp.Expr) -> list[str]:
    names = {"timezone", "decimal_sum", "money_sum"}
    found = {n.name.lower() for n in tree.find_all(exp.Anonymous) if n.name.lower() in names}
    found |= {"strftime" for _ in tree.find_all(exp.TimeToStr)}
    return sorted(found)

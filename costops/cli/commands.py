"""The costops command line: one typer app per command group, joined here; `run` maps every
error to its exit code once (SPEC §11)."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
import typer.core

from costops import __version__
from costops.cli import (
    dashboard,
    export,
    ingest,
    pricing,
    quarantine,
    reconcile,
    report,
    simulate,
    tasks,
)
from costops.errors import CostopsError, ExitCode
from costops.render.table import stderr

app = typer.Typer(
    name="costops",
    help="FinOps for LLM inference: where the money goes, what a successful output costs, "
    "and what caching, batch and cascades would save on your own traffic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # plain help: TEXT/INTEGER metavars, flags without a value (rich help showed <str>, <bool>)
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("ingest")(ingest.ingest)
app.command("report")(report.report)
app.command("quarantine")(quarantine.quarantine)
app.add_typer(pricing.app, name="pricing")
app.add_typer(simulate.app, name="simulate")
app.command("tasks")(tasks.tasks)
app.add_typer(tasks.budget_app, name="budget")
app.command("dashboard")(dashboard.dashboard)
app.add_typer(export.app, name="export")
app.command("reconcile")(reconcile.reconcile_command)


@app.command("version")
def version() -> None:
    """Print the costops version."""
    print(__version__)


def _print_version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the costops version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Options before the command: `costops --version` as well as `costops version`."""


INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C (128 + SIGINT)


def run() -> None:
    """Run the CLI; map errors to exit codes once, here (SPEC §11): every error is one line on
    stderr, typer's usage errors (exit 2) as well as ours; Ctrl-C exits 130 without a traceback
    (a write in progress is rolled back: the database stays as it was)."""
    command = typer.main.get_command(app)
    _plain_metavars(command)
    try:
        code = command.main(standalone_mode=False, prog_name="costops")
    except typer.TyperException as exc:  # a usage error found by typer (click)
        _usage_error(exc)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except CostopsError as exc:
        stderr.print(f"costops: error: {exc}")
        sys.exit(int(exc.exit_code))
    except Exception as exc:
        from costops.store.db import INGEST_MEMORY_LIMIT, MEMORY_LIMIT

        if _interrupted(exc):  # Ctrl-C inside a DuckDB query
            stderr.print("costops: interrupted")
            sys.exit(INTERRUPTED)
        if not _out_of_memory(exc):
            raise
        ingest = sys.argv[1:2] == ["ingest"]
        default = INGEST_MEMORY_LIMIT if ingest else MEMORY_LIMIT
        limit = os.environ.get("COSTOPS_MEMORY_LIMIT", default)
        advice = (
            "raise it; the files stored before this one are kept, this one was rolled back"
            if ingest
            else "raise it or narrow the question with --since/--until/--where (nothing was "
            "changed)"
        )
        stderr.print(f"costops: error: out of memory within COSTOPS_MEMORY_LIMIT={limit}; {advice}")
        sys.exit(int(ExitCode.DATABASE))
    if code == INTERRUPTED:  # typer turns Ctrl-C into this exit code
        stderr.print("costops: interrupted")
    if isinstance(code, int):
        sys.exit(code)


METAVARS = {"str": "TEXT", "int": "N", "float": "NUMBER", "list[str]": "TEXT", "path": "FILE"}


def _plain_metavars(command: Any) -> None:
    """Help that reads like a CLI's: `--since TEXT`, `PATHS...`, not typer's `<str>`,
    `<list[str]>` and `{paths}` (cosmetic: typer internals may move, so a failure changes
    nothing)."""
    try:
        context = typer.Context(command)
        for param in command.params:
            if getattr(param, "is_flag", False) or param.metavar is not None:
                continue
            label = param.display_type(context).strip("<>")
            if isinstance(param, typer.core.TyperArgument):
                name = param.name.upper() + ("..." if param.nargs != 1 else "")
                param.metavar = param.name.upper()
                hide_type: Any = lambda ctx: ""  # noqa: E731
                usage: Any = lambda name=name: name  # noqa: E731
                param.display_type = hide_type  # type: ignore[method-assign]
                param._usage_display_name = usage  # type: ignore[method-assign]
            else:
                label = "int" if label.endswith("range") else label  # typer's "int range"
                param.metavar = f"[{label}]" if "|" in label else METAVARS.get(label, label.upper())
        for sub in getattr(command, "commands", {}).values():
            _plain_metavars(sub)
    except (AttributeError, TypeError):  # pragma: no cover - another typer version
        return


def _usage_error(exc: typer.TyperException) -> None:
    """A usage error as one line naming the command's help; no arguments at all: the help."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # type: ignore[attr-defined]
        sys.exit(2)
    text = exc.format_message()
    message = " ".join(text.replace("Value error, ", "").split())
    context = getattr(exc, "ctx", None)
    hint = f" (see `{context.command_path} --help`)" if context is not None else ""
    stderr.print(f"costops: error: {message}{hint}")
    sys.exit(int(getattr(exc, "exit_code", 2)))


def _interrupted(exc: BaseException) -> bool:
    """A query DuckDB stopped on SIGINT: its InterruptException, or "Query interrupted"."""
    from costops.store.db import causes

    return any(
        type(seen).__name__ == "InterruptException" or "Query interrupted" in str(seen)
        for seen in causes(exc)
    )


def _out_of_memory(exc: BaseException) -> bool:
    """Out of memory anywhere down the chain: a commit that cannot allocate a block says so in a
    TransactionException, and the ROLLBACK after it raises again ("no transaction is active")."""
    import duckdb

    from costops.store.db import causes

    return any(
        isinstance(seen, duckdb.OutOfMemoryException) or "could not allocate" in str(seen)
        for seen in causes(exc)
    )

"""One error hierarchy, mapped to the exit codes of SPEC §11 at the CLI edge."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    INPUT = 3
    PRICING = 4
    DATABASE = 5


class CostopsError(Exception):
    """A user-facing error: one line saying what, where and what to do."""

    exit_code = ExitCode.USAGE


class CheckFailed(CostopsError):
    """A check ran and found problems (budget breach, unpriced requests with --fail-on-unpriced)."""

    exit_code = ExitCode.CHECK_FAILED


class UsageError(CostopsError):
    exit_code = ExitCode.USAGE


class ConfigError(CostopsError):
    exit_code = ExitCode.USAGE


class InputDataError(CostopsError):
    exit_code = ExitCode.INPUT


class PricingError(CostopsError):
    exit_code = ExitCode.PRICING


class DatabaseError(CostopsError):
    exit_code = ExitCode.DATABASE


class DatabaseLocked(DatabaseError):
    """Another process holds the database file (an ingest, or a command refreshing a cache)."""


class EngineError(CostopsError):
    """The engine an analysis runs on failed it (a Spark query, a lost cluster)."""

    exit_code = ExitCode.DATABASE

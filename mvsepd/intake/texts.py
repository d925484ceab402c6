"""How intake speaks: the logger it accepts, key=value log lines, durations and OS errors in words.

Log lines are pre-formatted strings (``"folder missing folder='/music/hot'"``) so that both a
stdlib ``logging.Logger`` and a structlog logger render them without extra processors. Paths
are quoted with ``repr`` so that newlines and undecodable bytes (surrogate escapes) in file
names cannot break a log line or a log handler's encoder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class IntakeLogger(Protocol):
    """The logging calls intake makes: satisfied by ``logging.Logger`` and structlog loggers."""

    def debug(self, msg: str, /) -> object: ...

    def info(self, msg: str, /) -> object: ...

    def warning(self, msg: str, /, *, exc_info: bool = ...) -> object: ...


def _value(value: object) -> str:
    if isinstance(value, Path):
        value = os.fspath(value)
    if isinstance(value, str):
        quoted = repr(value)
        return quoted if any(char in value for char in " '\"=\\") or not value else quoted[1:-1]
    return str(value)


def log_fields(event: str, **fields: object) -> str:
    """``event key=value ...`` with values quoted when they need it."""
    if not fields:
        return event
    return event + " " + " ".join(f"{key}={_value(value)}" for key, value in fields.items())


def describe_error(error: OSError) -> str:
    """An OS error as a user reads it: "Permission denied", "No space left on device"."""
    return error.strerror or str(error) or type(error).__name__


def duration_words(seconds: float) -> str:
    """A duration for a sentence: "45 seconds", "10 minutes", "2 hours"."""
    if seconds < 60:
        count, unit = seconds, "second"
    elif seconds < 2 * 3600:
        count, unit = seconds / 60, "minute"
    else:
        count, unit = seconds / 3600, "hour"
    text = f"{count:.1f}".rstrip("0").rstrip(".")
    return f"{text} {unit}{'' if text == '1' else 's'}"


class ProblemLog:
    """Logs each unreadable path once, so a scan every few minutes does not repeat itself."""

    def __init__(self, logger: IntakeLogger) -> None:
        self._logger = logger
        self._logged: set[str] = set()

    def note(self, path: str, error: OSError) -> None:
        """Log that ``path`` could not be read, unless that was said already."""
        if path not in self._logged:
            self._logged.add(path)
            self._logger.warning(
                log_fields(
                    "cannot read inside a hot folder", path=path, reason=describe_error(error)
                )
            )

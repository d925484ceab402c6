"""The daemon's log as a row of the hostile catalogue reads it.

Reasons must be readable where the user looks, and the log is one of those places: rows with
the daemon in this process route mvsepd's logging (``logsetup.configure``, what ``mvsepd run``
calls: JSON lines, INFO and up by default) into a ``CapturedLog``; rows with the daemon in its
own process read the JSON lines it wrote (``ProcessLog``). Both offer ``text()``: every value
of every event, decoded, so quotes and non-ASCII read as written.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mvsepd.process import logsetup


def log_events(raw: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``raw`` (other lines, such as a traceback's, are skipped)."""
    events = []
    for line in raw.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                events.append(value)
    return events


def log_text(raw: str) -> str:
    """Every value of every event, decoded (so quotes and non-ASCII read as written)."""
    return "\n".join(" ".join(str(value) for value in event.values()) for event in log_events(raw))


class CapturedLog(io.StringIO):
    """The text the daemon's log handlers write (each handler serialises its own writes)."""

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        return log_text(self.getvalue())


class ProcessLog:
    """The JSON lines a daemon in its own process wrote to its log file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        try:
            return log_text(self.path.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def capturing_logs(level: str = "info") -> Iterator[CapturedLog]:
    """Route mvsepd's logging (structlog and the standard library) into a ``CapturedLog``.

    ``logsetup.configure`` is what ``mvsepd run`` calls; the root logger's handlers, levels and
    the exception hooks it replaces are put back afterwards.
    """
    root = logging.getLogger()
    saved_handlers = list(root.handlers)
    saved_level = root.level
    libraries = ("urllib3", "watchdog", "werkzeug", "requests")
    saved_library_levels = {name: logging.getLogger(name).level for name in libraries}
    saved_hooks = (sys.excepthook, threading.excepthook)
    captured = CapturedLog()
    logsetup.configure(level=level, json_lines=True, stream=captured)
    try:
        yield captured
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, library_level in saved_library_levels.items():
            logging.getLogger(name).setLevel(library_level)
        sys.excepthook, threading.excepthook = saved_hooks

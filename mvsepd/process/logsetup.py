"""Logging for the daemon and the commands: structlog for mvsepd, the same chain for libraries.

Lines in words on a terminal (``logwords``), JSON lines otherwise (journald and launchd capture
stdout),
optionally a rotating file, readable only by the user (0600; its folder 0700 when mvsepd makes
it). A redaction step runs before any renderer: keys that hold credentials are masked, and the
values of the secrets in use (the API token, the status API token) are replaced wherever they
appear, including inside exception messages and tracebacks. Tracebacks never show local
variables. Uncaught exceptions in any thread go through the same chain instead of Python's
default printer.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from mvsepd.paths import ensure_private_directory
from mvsepd.process.logwords import WordsFilter, WordsRenderer

_SENSITIVE_KEYS = frozenset(
    {"api_token", "token", "password", "authorization", "cookie", "secret", "x-api-key"}
)
_TOKEN_IN_TEXT = re.compile(r"(api_token=)[^&\s'\"]+", re.IGNORECASE)
MASK = "***"


class Redactor:
    """A structlog processor that removes credentials from every event before rendering."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Also mask ``secret`` wherever it appears from now on (ignored when very short)."""
        if len(secret) >= 6:
            with self._lock:
                if secret not in self._secrets:
                    self._secrets.append(secret)

    def scrub(self, value: Any) -> Any:
        """Return ``value`` with every secret replaced, recursing into dicts and lists."""
        if isinstance(value, str):
            text = _TOKEN_IN_TEXT.sub(rf"\g<1>{MASK}", value)
            with self._lock:
                secrets = list(self._secrets)
            for secret in secrets:
                if secret in text:
                    text = text.replace(secret, MASK)
            return text
        if isinstance(value, dict):
            return {
                key: (MASK if str(key).lower() in _SENSITIVE_KEYS else self.scrub(item))
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(item) for item in value)
        return value

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        scrubbed: EventDict = {}
        for key, value in event_dict.items():
            if str(key).lower() in _SENSITIVE_KEYS and value is not None:
                scrubbed[key] = MASK
            else:
                scrubbed[key] = self.scrub(value)
        return scrubbed


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file only the user can read, from its first byte and after each rotation.

    The log names the user's files and folders and holds MVSEP's job hashes, and a hash alone
    is enough to fetch a job's stems from MVSEP: it is as private as the job store.
    """

    def _open(self) -> Any:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(self.baseFilename, flags, 0o600)
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, 0o600)  # a file an earlier version left readable
        return os.fdopen(descriptor, "a", encoding=self.encoding, errors=self.errors)


#: The one redactor of the process; ``configure`` installs it, ``add_secret`` feeds it.
REDACTOR = Redactor()


def location(log_file: Path | None) -> str:
    """Where this process's log lines can be read, in words (for a reason that points there)."""
    if log_file is not None:
        return f"the log file {log_file}"
    if os.environ.get("JOURNAL_STREAM"):
        # systemd connected stderr to the journal (the user unit mvsepd.service).
        return "the journal (journalctl --user -u mvsepd)"
    return "the output of `mvsepd run`"


def add_secret(secret: str) -> None:
    """Mask this value in every log line from now on."""
    REDACTOR.add(secret)


def _render_exceptions() -> Processor:
    transformer = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
    return structlog.processors.ExceptionRenderer(transformer)


def _render_exceptions_as_text() -> Processor:
    # The console renderer prints a traceback given as text; given the dict form of JSON lines
    # it fails, and logging then dumps the raw record instead: the traceback is lost and the
    # exception's words bypass the redactor. Plain text, without locals, redacted like the rest.
    return structlog.processors.ExceptionRenderer()


def configure(
    *,
    level: str = "info",
    json_lines: bool | None = None,
    stream: TextIO | None = None,
    log_file: Path | None = None,
    timestamps: bool = True,
) -> None:
    """Set up structlog and the standard library's logging for this process.

    ``json_lines`` None picks JSON when ``stream`` is not a terminal. Otherwise the stream
    gets one line in words per event that matters (``logwords``), after the local time when
    ``timestamps``; the log file always gets every event as JSON.
    """
    # pythonw.exe (the Windows logon task) has no stderr at all; then only the file gets lines.
    output: TextIO | None = stream if stream is not None else sys.stderr
    terminal = output is not None and output.isatty()
    if json_lines is None:
        json_lines = not terminal
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    verbose = numeric_level <= logging.DEBUG
    if json_lines:
        renderer = structlog.processors.JSONRenderer()
        final_chain: list[Processor] = [_render_exceptions(), REDACTOR, renderer]
    else:
        renderer = WordsRenderer(timestamps=timestamps, wrap=terminal)
        final_chain = [_render_exceptions_as_text(), REDACTOR, renderer]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final_chain],
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if output is not None:
        console = logging.StreamHandler(output)
        console.setFormatter(formatter)
        if not json_lines:
            console.addFilter(WordsFilter(verbose=verbose))
        root.addHandler(console)
    if log_file is not None:
        ensure_private_directory(log_file.parent)
        rotating = _PrivateRotatingFileHandler(
            log_file, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        file_formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _render_exceptions(),
                REDACTOR,
                structlog.processors.JSONRenderer(),
            ],
        )
        rotating.setFormatter(file_formatter)
        root.addHandler(rotating)
    root.setLevel(numeric_level)
    # Libraries log request lines and file events at DEBUG; keep them unless asked for.
    library_level = logging.DEBUG if numeric_level <= logging.DEBUG else logging.WARNING
    for name in ("urllib3", "watchdog", "werkzeug", "requests"):
        logging.getLogger(name).setLevel(library_level)
    _install_exception_hooks()


def _install_exception_hooks() -> None:
    crash_log = structlog.get_logger("mvsepd.crash")

    def excepthook(kind: type[BaseException], value: BaseException, traceback: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, traceback)
            return
        crash_log.critical("uncaught_exception", exc_info=(kind, value, traceback))

    def thread_excepthook(arguments: threading.ExceptHookArgs) -> None:
        if arguments.exc_type is SystemExit or arguments.exc_value is None:
            return
        crash_log.critical(
            "uncaught_exception_in_thread",
            thread=arguments.thread.name if arguments.thread else None,
            exc_info=(arguments.exc_type, arguments.exc_value, arguments.exc_traceback),
        )

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook

"""Exit statuses of the ``mvsepd`` commands (leaf layer): scripts rely on them."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """What an ``mvsepd`` command's exit status means."""

    OK = 0
    #: Something went wrong; the message says what.
    ERROR = 1
    #: The command line was wrong (click's convention).
    USAGE = 2
    #: No daemon answers (``mvsepd status`` and the control commands).
    DAEMON_UNREACHABLE = 3
    #: The job ended in failure (``mvsepd submit``, ``mvsepd demo``).
    JOB_FAILED = 4
    #: Another daemon already runs with this state directory (EX_TEMPFAIL).
    ALREADY_RUNNING = 75
    #: The configuration is invalid, or a part it needs is not installed (the tray's extra):
    #: restarting will not help (EX_CONFIG).
    CONFIG = 78
    #: Stopped by Ctrl+C.
    INTERRUPTED = 130

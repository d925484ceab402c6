"""The tray icon (entry layer; the only user of pystray, imported lazily).

A separate client of the daemon's status API: ``mvsepd tray`` in the desktop session, or
``mvsepd run --tray`` for both in one process. ``badge`` draws the icon, ``view`` turns a
status picture into icon, tooltip, menu and notifications, ``throttle`` paces icon updates
(all three pure), ``app`` is the behaviour. ``choice`` picks pystray's backend (``systemgi``
finds the system's PyGObject for it), ``backend`` is the pystray glue, ``xorg`` mends pystray's
X11 backend, ``notify`` sends desktop notifications on Linux.

This module itself imports neither Pillow nor pystray: without the ``tray`` extra,
``require_tray_extra`` says in one line how to install it, before anything needs them.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from mvsepd import __version__
from mvsepd.client.control import ControlClient
from mvsepd.errors import MissingPartError
from mvsepd.process.daemon import Daemon
from mvsepd.statusapi import RuntimeInfo
from mvsepd.tray.choice import HOST_WAIT_SECONDS, TrayUnavailableError

__all__ = [
    "DaemonOwner",
    "TrayFiles",
    "TrayUnavailableError",
    "require_tray_extra",
    "run_tray",
    "tray_beside_daemon",
]

log = structlog.get_logger("mvsepd.tray")
#: What the tray needs beyond mvsepd's own dependencies (module, distribution).
_EXTRA = (("PIL", "Pillow"), ("pystray", "pystray"))


@dataclass(frozen=True)
class DaemonOwner:
    """The daemon running in this same process (``mvsepd run --tray``)."""

    stopped: threading.Event
    quit: Callable[[], None]


@dataclass(frozen=True)
class TrayFiles:
    """Files the menu opens."""

    log_file: Path
    config_file: Path


def require_tray_extra() -> None:
    """Raise MissingPartError, in one line, when the ``tray`` extra is not installed."""
    missing = [name for module, name in _EXTRA if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingPartError(
            f"the tray icon is not installed ({' and '.join(missing)} missing): "
            "pip install 'mvsepd[tray]'"
        )


def _log_line(line: str) -> None:
    log.info("tray_backend", detail=line)


def run_tray(
    connect: Callable[[], ControlClient],
    *,
    files: TrayFiles,
    owner: DaemonOwner | None = None,
    host_wait_seconds: float = HOST_WAIT_SECONDS,
    announce: Callable[[str], None] = _log_line,
) -> None:
    """Show the tray icon until Quit (blocks the calling thread, which must be the main one).

    Raise MissingPartError without the ``tray`` extra, TrayUnavailableError at once when no
    tray can be shown here. ``announce`` gets the one line that says which backend runs.
    """
    require_tray_extra()
    from mvsepd.tray.app import TrayApp
    from mvsepd.tray.backend import open_icon_factory

    factory = open_icon_factory(host_wait_seconds=host_wait_seconds, announce=announce)
    TrayApp(factory, connect, files=files, owner=owner).run()


def tray_beside_daemon(
    *,
    files: TrayFiles,
    host_wait_seconds: float = HOST_WAIT_SECONDS,
    announce: Callable[[str], None] = _log_line,
) -> Callable[[Daemon], None]:
    """Check now that a tray can be shown (before the daemon starts) and return the companion
    that ``run_foreground`` runs on the main thread: the tray of this process's own daemon,
    with "Quit daemon", closing when the daemon stops.
    """
    require_tray_extra()
    from mvsepd.tray.app import TrayApp
    from mvsepd.tray.backend import open_icon_factory

    factory = open_icon_factory(host_wait_seconds=host_wait_seconds, announce=announce)

    def companion(daemon: Daemon) -> None:
        status_api = daemon.status_api
        if status_api is None:
            raise TrayUnavailableError("the daemon runs without its status API; no tray")
        info = RuntimeInfo(
            version=__version__,
            pid=os.getpid(),
            host=status_api.host,
            port=status_api.port,
            token=status_api.token,
            started_at=daemon.started_at,
            page=status_api.page is not None,
        )
        owner = DaemonOwner(stopped=daemon.stop_event, quit=daemon.stop_event.set)
        TrayApp(factory, lambda: ControlClient(info), files=files, owner=owner).run()

    return companion

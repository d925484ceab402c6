"""The tray icon (entry layer; the only user of pystray, imported lazily).

A separate client of the daemon's status API: ``mvsepd tray`` in the desktop session, or
``mvsepd run --tray`` for both in one process. ``badge`` draws the icon, ``view`` turns a
status picture into icon, tooltip, menu and notifications, ``throttle`` paces icon updates
(all three pure), ``app`` is the behaviour, ``backend`` the pystray glue.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from mvsepd import __version__
from mvsepd.client.control import ControlClient
from mvsepd.process.daemon import Daemon
from mvsepd.statusapi import RuntimeInfo
from mvsepd.tray.app import DaemonOwner, TrayApp, TrayFiles
from mvsepd.tray.backend import HOST_WAIT_SECONDS, TrayUnavailableError, open_icon_factory

__all__ = [
    "DaemonOwner",
    "TrayApp",
    "TrayFiles",
    "TrayUnavailableError",
    "run_tray",
    "tray_beside_daemon",
]


def run_tray(
    connect: Callable[[], ControlClient],
    *,
    files: TrayFiles,
    owner: DaemonOwner | None = None,
    host_wait_seconds: float = HOST_WAIT_SECONDS,
) -> None:
    """Show the tray icon until Quit (blocks the calling thread, which must be the main one).

    Raise TrayUnavailableError at once when no tray can be shown here.
    """
    factory = open_icon_factory(host_wait_seconds=host_wait_seconds)
    TrayApp(factory, connect, files=files, owner=owner).run()


def tray_beside_daemon(
    *, files: TrayFiles, host_wait_seconds: float = HOST_WAIT_SECONDS
) -> Callable[[Daemon], None]:
    """Check now that a tray can be shown (before the daemon starts) and return the companion
    that ``run_foreground`` runs on the main thread: the tray of this process's own daemon,
    with "Quit daemon", closing when the daemon stops.
    """
    factory = open_icon_factory(host_wait_seconds=host_wait_seconds)

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
        )
        owner = DaemonOwner(stopped=daemon.stop_event, quit=daemon.stop_event.set)
        TrayApp(factory, lambda: ControlClient(info), files=files, owner=owner).run()

    return companion

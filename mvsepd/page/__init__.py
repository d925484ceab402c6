"""mvsepd's page (entry layer): set mvsepd up in the browser, served by the daemon on loopback.

Folders (each with its live state; add with a folder picker, change, pause, remove), Models
(MVSEP's catalog by usage and rating, options, cost, leaderboard measurements, "Use for a
folder") and Account (sign in, premium usage, today's spend). Server-rendered Jinja2 templates
and one small script, all shipped in the package; no build step, nothing from another origin.

The daemon is handed ``page_for`` (the process layer does not import the entry layer) and the
status API's server runs the application for every path outside ``/v1``. ``access`` is who may
use it, ``app`` the guard and the routes, ``folders``, ``catalog`` and ``account`` the pages,
``folderform`` and ``saving`` the configuration's side, ``picker`` the folder browser. Nothing
here is imported until a daemon serves the page, and Jinja2 not until a page is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mvsepd.page.app import PageApp
    from mvsepd.process.daemon import Daemon


def page_for(daemon: Daemon) -> PageApp:
    """The page of ``daemon`` (``Daemon(page=page_for)``)."""
    from mvsepd.page.app import PageApp
    from mvsepd.page.host import PageHost

    return PageApp(PageHost.of(daemon))

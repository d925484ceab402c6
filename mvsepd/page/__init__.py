"""mvsepd's page (entry layer): set mvsepd up in the browser, served by the daemon on loopback.

Folders (each with its live state; add with a folder picker, change, pause, remove), Models
(MVSEP's catalog by usage and rating, options, cost, leaderboard measurements, "Use for a
folder") and Account (sign in, premium usage, today's spend). Server-rendered Jinja2 templates
and one small script, all shipped in the package; no build step, nothing from another origin.

The daemon is handed ``page_for`` (the process layer does not import the entry layer) and the
status API's server runs the page for every path outside ``/v1``. ``access`` is who may use
it, ``app`` the guard and the routes, ``folders``, ``catalog`` and ``account`` the pages,
``folderform`` and ``saving`` the configuration's side, ``picker`` the folder browser.

A daemon nobody visits loads none of it: ``page_for`` gives a ``DeferredPage`` that holds only
the sign-in keys and makes the page on its first request (Jinja2 on the first page shown,
ruamel.yaml on the first save), so the idle daemon's memory stays what it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mvsepd.errors import InputError
from mvsepd.page.access import PageKeys, own_path

if TYPE_CHECKING:
    from mvsepd.page.app import PageApp
    from mvsepd.process.daemon import Daemon


class DeferredPage:
    """The page of a daemon, made when the first request comes (``PageApplication``)."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self.keys = PageKeys.load(daemon.paths.state_dir)
        self._lock = threading.Lock()
        self._app: PageApp | None = None

    def sign_in_path(self, landing: str | None = None) -> str:
        """A fresh one-time sign-in path (``mvsepd open``, the tray), which leads to
        ``landing`` (a path of the page, such as ``/takes/12``) once signed in; InputError
        for a landing that is not one."""
        return sign_in_path(self.keys, landing)

    @property
    def app(self) -> PageApp:
        """The page itself (made now if it was not yet)."""
        with self._lock:
            if self._app is None:
                from mvsepd.page.app import PageApp
                from mvsepd.page.host import PageHost

                self._app = PageApp(PageHost.of(self._daemon, self.keys))
            return self._app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return self.app(environ, start_response)


def sign_in_path(keys: PageKeys, landing: str | None) -> str:
    """``/sign-in?code=...`` with a new one-time code (and ``&next=`` its landing)."""
    from urllib.parse import quote

    path = "/sign-in?code=" + keys.new_code()
    if landing is None or landing == "/":
        return path
    if own_path(landing) is None:
        raise InputError(
            f"{landing!r} is not an address of mvsepd's page (a path such as /takes/12)",
            field="next",
        )
    return path + "&next=" + quote(landing, safe="/")


def page_for(daemon: Daemon) -> DeferredPage:
    """The page of ``daemon`` (``Daemon(page=page_for)``)."""
    return DeferredPage(daemon)

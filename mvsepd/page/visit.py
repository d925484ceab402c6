"""``Visit``: one signed-in request, and how a view answers it (a template, a redirect with a
note for the next page, JSON).

Templates are Jinja2 files shipped in the package (``templates/``), autoescaped; the
environment is made on the first page shown, so a daemon nobody visits never loads Jinja2.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from mvsepd import __version__
from mvsepd.page.access import own_path
from mvsepd.page.host import PageHost

#: Notes kept for the next page, at most (one per browser; the oldest go first).
_NOTES_KEPT = 64


class Notes:
    """What a change did, in words, kept for the page the browser is sent to next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: OrderedDict[str, str] = OrderedDict()

    def leave(self, session: str, words: str) -> None:
        with self._lock:
            self._by_session[session] = words
            self._by_session.move_to_end(session)
            while len(self._by_session) > _NOTES_KEPT:
                self._by_session.popitem(last=False)

    def take(self, session: str) -> str | None:
        with self._lock:
            return self._by_session.pop(session, None)


class Renderer:
    """The Jinja2 environment of the page's templates (made on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._environment: Any = None

    def render(self, template: str, values: dict[str, Any]) -> str:
        with self._lock:
            if self._environment is None:
                self._environment = _environment()
            environment = self._environment
        return str(environment.get_template(template).render(**values))


def _environment() -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mvsepd.page", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["credits"] = _credits
    return environment


def _credits(count: int) -> str:
    return "1 credit" if count == 1 else f"{count} credits"


@dataclass
class Visit:
    """A request from a signed-in browser."""

    request: Request
    host: PageHost
    session: str
    csrf: str
    renderer: Renderer
    notes: Notes
    section: str = ""

    @property
    def form(self) -> MultiDict[str, str]:
        return self.request.form

    def render(self, template: str, *, status: int = 200, **values: Any) -> Response:
        """A page from its template, with what every page shows."""
        picture_daemon = self.host.status_api.picture
        account = picture_daemon.account()
        values = {
            "csrf": self.csrf,
            "section": self.section,
            "version": __version__,
            "note": self.notes.take(self.session),
            "paused": self.host.engine.paused,
            "token_problem": account.get("token_problem"),
            **values,
        }
        return html(self.renderer.render(template, values), status)

    def back(self, default: str = "/") -> str:
        """Where a form asks to go back to (its ``back`` field: a path of the page, such as
        the filtered Jobs list), else ``default``."""
        return own_path(self.form.get("back")) or default

    def redirect(self, location: str, note: str | None = None) -> Response:
        """Send the browser to ``location`` (after a change), with ``note`` shown there."""
        if note:
            self.notes.leave(self.session, note)
        return Response("", status=303, headers={"Location": location})


def html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/html")


def as_json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value) + "\n", status=status, mimetype="application/json")

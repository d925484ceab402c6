"""``PageApp``: the page as a WSGI application, with its guard in front of every view.

In this order, for every request: the peer must be this machine, the ``Host`` header must
name loopback with the page's port (else 403: DNS rebinding), the method GET, HEAD or POST
(no CORS: no preflight is answered, no ``Access-Control-*`` header is ever sent). The style
and script are served to anyone who passes that (they hold no data); ``/sign-in?code=`` takes
a one-time code, sets the session cookie (HttpOnly, SameSite=Strict) and redirects to a clean
address; everything else needs that session (else 401 and a page that says how to open
mvsepd, nothing more), and a POST also needs the session's CSRF token and an ``Origin`` (or
``Referer``) of the page itself (else 403). Every answer carries a Content-Security-Policy
that allows nothing but the page's own script and style, and is never cached.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import structlog
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from mvsepd.errors import MvsepdError
from mvsepd.page import (
    access,
    account,
    catalog,
    folders,
    jobs,
    listen,
    sign_in_path,
    takes,
)
from mvsepd.page.host import PageHost
from mvsepd.page.visit import Notes, Renderer, Visit, as_json, html

log = structlog.get_logger("mvsepd.page")

#: Nothing but the page's own script and style; no frames, no other origin for anything.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
#: The files the page serves, by name (nothing else, and nothing by path).
STATIC = {
    "page.css": "text/css; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "player.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
#: The longest a live view waits for a change before it answers anyway.
LIVE_WAIT_SECONDS = 25.0
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-Mvsepd-CSRF"

Handler = Callable[..., Response]
#: A stem of a take: the take, one of its jobs, the stem's index in that job's manifest.
_STEM = "/takes/<int:take_id>/jobs/<int:job_id>/stems/<int:index>"


def _routes() -> tuple[Map, dict[str, tuple[Handler, str]]]:
    """The URL map and, per endpoint, its view and the section of the menu it belongs to."""
    views: dict[str, tuple[str, str, Handler, str]] = {
        "folders": ("/", "GET", folders.page, "folders"),
        "folder_new": ("/folders/new", "GET", folders.new_form, "folders"),
        "folder_add": ("/folders/new", "POST", folders.add, "folders"),
        "folder": ("/folders/<int:index>", "GET", folders.edit_form, "folders"),
        "folder_save": ("/folders/<int:index>", "POST", folders.change, "folders"),
        "folder_pause": (
            "/folders/<int:index>/pause",
            "POST",
            lambda visit, index: folders.set_paused(visit, index, True),
            "folders",
        ),
        "folder_resume": (
            "/folders/<int:index>/resume",
            "POST",
            lambda visit, index: folders.set_paused(visit, index, False),
            "folders",
        ),
        "folder_remove_form": (
            "/folders/<int:index>/remove",
            "GET",
            folders.remove_form,
            "folders",
        ),
        "folder_remove": ("/folders/<int:index>/remove", "POST", folders.remove, "folders"),
        "folder_rescan": ("/folders/<int:index>/rescan", "POST", folders.rescan, "folders"),
        "browse": ("/browse", "GET", folders.browse, "folders"),
        "pause": ("/pause", "POST", folders.pause_all, "folders"),
        "resume": ("/resume", "POST", folders.resume_all, "folders"),
        "dismiss": ("/dismiss", "POST", folders.dismiss, "folders"),
        "retry": ("/jobs/<int:job_id>/retry", "POST", folders.retry, "folders"),
        "cancel": ("/jobs/<int:job_id>/cancel", "POST", folders.cancel, "folders"),
        "jobs": ("/jobs", "GET", jobs.page, "jobs"),
        "models": ("/models", "GET", catalog.page, "models"),
        "model": ("/models/<int:render_id>", "GET", catalog.detail, "models"),
        "model_use": ("/models/<int:render_id>/use", "POST", catalog.use, "models"),
        "take": ("/takes/<int:take_id>", "GET", takes.take_page, "folders"),
        "source_audio": ("/takes/<int:take_id>/source", "GET", listen.source, "folders"),
        "source_peaks": (
            "/takes/<int:take_id>/source/peaks",
            "GET",
            functools.partial(listen.source, what="peaks"),
            "folders",
        ),
        "source_segment": (
            "/takes/<int:take_id>/source/segment",
            "GET",
            functools.partial(listen.source, what="segment"),
            "folders",
        ),
        "stem_audio": (_STEM, "GET", listen.stem, "folders"),
        "stem_peaks": (
            f"{_STEM}/peaks",
            "GET",
            functools.partial(listen.stem, what="peaks"),
            "folders",
        ),
        "stem_segment": (
            f"{_STEM}/segment",
            "GET",
            functools.partial(listen.stem, what="segment"),
            "folders",
        ),
        "reveal": (
            "/takes/<int:take_id>/jobs/<int:job_id>/reveal",
            "POST",
            listen.reveal,
            "folders",
        ),
        "account": ("/account", "GET", lambda visit: account.page(visit), "account"),
        "sign_in_password": ("/account/sign-in", "POST", account.sign_in_with_password, "account"),
        "sign_in_token": ("/account/token", "POST", account.sign_in_with_token, "account"),
        "premium": ("/account/premium", "POST", account.set_premium, "account"),
        "budget": ("/account/budget", "POST", account.set_budget, "account"),
    }
    rules = [
        Rule(path, endpoint=name, methods=[method])
        for name, (path, method, _view, _section) in views.items()
    ]
    rules += [
        Rule("/live", endpoint="live", methods=["GET"]),
        Rule("/sign-in", endpoint="sign_in", methods=["GET"]),
        Rule("/static/<name>", endpoint="static", methods=["GET"]),
    ]
    handlers = {name: (view, section) for name, (_path, _method, view, section) in views.items()}
    return Map(rules, strict_slashes=False), handlers


class PageApp:
    """mvsepd's page, served by the status API's server (``PageApplication``)."""

    def __init__(self, host: PageHost) -> None:
        self.host = host
        self._routes, self._handlers = _routes()
        self._renderer = Renderer()
        self._notes = Notes()
        self._static: dict[str, bytes] = {}

    def sign_in_path(self, landing: str | None = None) -> str:
        """A fresh one-time sign-in path (``mvsepd open``, the tray), leading to ``landing``."""
        return sign_in_path(self.host.keys, landing)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._respond(request)
        except MvsepdError as error:
            log.warning("page_request_failed", path=request.path, error=str(error))
            response = html(_plain_page("mvsepd could not do that", str(error)), 500)
        except Exception:
            log.exception("page_crashed", path=request.path)
            response = html(
                _plain_page("mvsepd could not do that", "an internal error; its log says more"),
                500,
            )
        _secure(response)
        return response(environ, start_response)

    # --- the guard ----------------------------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        port = int(request.environ.get("SERVER_PORT") or 0)
        if not access.peer_is_local(request.remote_addr):
            return _refuse(403, "mvsepd's page answers only on this machine")
        host_header = request.headers.get("Host")
        if not access.host_allowed(host_header, port):
            return _refuse(
                403,
                f"mvsepd's page answers only at http://127.0.0.1:{port}/ or "
                f"http://localhost:{port}/ (this request named {host_header or 'no host'})",
            )
        if request.method not in ("GET", "HEAD", "POST"):
            return _refuse(405, f"{request.method} is not used here", {"Allow": "GET, POST"})
        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except MethodNotAllowed:
            return _refuse(405, f"{request.method} is not used at {request.path}")
        except NotFound:
            endpoint, arguments = "", {}
        except HTTPException as error:
            return _refuse(error.code or 400, error.description or "bad request")
        if endpoint == "static":
            return self._static_file(str(arguments["name"]))
        if endpoint == "sign_in":
            return self._sign_in(request, port)
        session = request.cookies.get(access.cookie_name(port))
        if session is None or not self.host.keys.session_valid(session):
            return self._signed_out(request)
        if request.method == "POST" and not self._same_site(request, session, host_header or ""):
            return _refuse(
                403,
                "refused: this change did not come from mvsepd's own page (reload the page "
                "and try again)",
            )
        csrf = self.host.keys.csrf_token(session)
        if not endpoint:
            return html(
                _plain_page("Not here", f"mvsepd's page has nothing at {request.path}"), 404
            )
        if endpoint == "live":
            return self._live(request, session, csrf)
        view, section = self._handlers[str(endpoint)]
        visit = Visit(request, self.host, session, csrf, self._renderer, self._notes, section)
        return view(visit, **arguments)

    def _same_site(self, request: Request, session: str, host: str) -> bool:
        if not access.same_origin(
            request.headers.get("Origin"), request.headers.get("Referer"), host
        ):
            return False
        offered = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
        return self.host.keys.csrf_valid(session, offered)

    def _sign_in(self, request: Request, port: int) -> Response:
        code = request.args.get("code", "")
        if not code or not self.host.keys.redeem(code):
            page = _plain_page(
                "This sign-in link has been used or has expired",
                "Open mvsepd again: click its tray icon, or run `mvsepd open` in a terminal.",
            )
            return html(page, 401)
        landing = self._landing(request.args.get("next"))
        response = Response("", status=303, headers={"Location": landing})
        response.set_cookie(
            access.cookie_name(port),
            self.host.keys.new_session(),
            max_age=int(access.SESSION_SECONDS),
            path="/",
            httponly=True,
            samesite="Strict",
        )
        log.info("page_signed_in")
        return response

    def _landing(self, wanted: str | None) -> str:
        """Where a sign-in leads: ``wanted`` when it is one of the page's own views (a path
        of this page that a GET shows), else the Folders page."""
        path = access.own_path(wanted)
        if path is None:
            return "/"
        adapter = self._routes.bind("localhost")
        try:
            endpoint, _arguments = adapter.match(urlsplit(path).path, method="GET")
        except HTTPException:
            return "/"
        return path if endpoint in self._handlers else "/"

    def _signed_out(self, request: Request) -> Response:
        if request.path in ("/live", "/browse") or request.method == "POST":
            return _refuse(401, "not signed in: open mvsepd with `mvsepd open` or its tray icon")
        page = _plain_page(
            "Open mvsepd",
            "This page is mvsepd's own. To sign in, click mvsepd's tray icon, or run "
            "`mvsepd open` in a terminal (it opens this page already signed in). "
            "`mvsepd open --print-url` prints an address to open instead.",
        )
        return html(page, 401)

    # --- views the guard serves itself --------------------------------------------------------

    def _static_file(self, name: str) -> Response:
        mimetype = STATIC.get(name)
        if mimetype is None:
            return _refuse(404, "no such file")
        body = self._static.get(name)
        if body is None:
            body = (resources.files("mvsepd.page") / "static" / name).read_bytes()
            self._static[name] = body
        return Response(body, status=200, content_type=mimetype)

    def _live(self, request: Request, session: str, csrf: str) -> Response:
        """Long-poll: the live part of a page, as soon as something changed after ``since``
        (or after ``LIVE_WAIT_SECONDS`` anyway); asleep meanwhile."""
        view = request.args.get("view", "folders")
        if view not in ("folders", "account", "jobs", "takes"):
            return _refuse(400, "view is folders, jobs, account or takes")
        since: int | None = None
        with contextlib.suppress(ValueError):
            since = int(request.args.get("since", ""))
        status_api = self.host.status_api
        feed = self.host.engine.context.feed
        if since is not None and since == feed.version:
            status_api.wait_for_change(since, LIVE_WAIT_SECONDS)
        version = feed.version
        visit = Visit(request, self.host, session, csrf, self._renderer, self._notes, view)
        text = ""
        values: dict[str, Any] = {}
        if view == "folders":
            values = folders.live_values(self.host)
            text = self._renderer.render("_folders_live.html", {"csrf": visit.csrf, **values})
        elif view == "jobs":
            values = jobs.live_values(self.host, jobs.Filters.of(request.args))
            text = self._renderer.render("_jobs_live.html", {"csrf": visit.csrf, **values})
        elif view == "account":
            values = account.live_values(self.host)
            text = self._renderer.render("_account_live.html", {"csrf": visit.csrf, **values})
        picture = values.get("picture") or status_api.picture.status()
        return as_json(
            {"version": version, "html": text, "at": time.time(), "takes": _done_takes(picture)}
        )


def _done_takes(picture: dict[str, Any]) -> list[dict[str, Any]]:
    """The takes whose stems are all placed, for the page's notifications (one per take)."""
    return [
        {"id": take["id"], "file": take["file"], "results": len(set(take.get("output_dirs") or []))}
        for take in picture.get("takes", [])
        if take.get("phase") == "done"
    ]


def _secure(response: Response) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Cache-Control"] = "no-store"


def _refuse(status: int, words: str, headers: dict[str, str] | None = None) -> Response:
    return Response(words + "\n", status=status, mimetype="text/plain", headers=headers)


def _plain_page(title: str, words: str) -> str:
    """A page without data or navigation (signed out, errors): its words and the style."""
    from html import escape

    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · mvsepd</title>"
        '<link rel="stylesheet" href="/static/page.css"></head>'
        f'<body class="plain"><main><h1>{escape(title)}</h1><p>{escape(words)}</p></main>'
        "</body></html>"
    )

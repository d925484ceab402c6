"""``StatusApi``: the daemon's local HTTP status and control API (Werkzeug, in daemon threads).

It binds to ``daemon.status_host``/``status_port`` (127.0.0.1 and a free port by default),
writes the runtime file (port and a fresh random token, 0600), and answers JSON under ``/v1``.
Every request must carry the token (``Authorization: Bearer ...`` or ``X-Mvsepd-Token``);
without it the answer is 401 and nothing else, whatever the path. Control requests are POSTs
that call the engine's own control methods (pause, resume, rescan, retry, cancel, dismiss).

``GET /v1/events?since=V&timeout=S`` is a long-poll: it answers as soon as the change feed
passes ``V`` (or an upload/download in flight moves on, at most twice a second), else after
``S`` seconds (at most 30), always with the current picture and version.

The same server serves mvsepd's page when the daemon hands it one (``PageApplication``, from
the entry layer): every path outside ``/v1`` goes to the page, which guards itself (its own
sign-in, Host and CSRF checks); ``POST /v1/page/sign-in`` gives a client holding the token a
one-time address that signs a browser in (``mvsepd open``, the tray). Such a daemon listens on
a fixed port (``daemon.page_port``) so that a bookmark of the page keeps working, and on a
free one, said in the log, when another program has that port.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import structlog
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from mvsepd import __version__
from mvsepd.engine import Engine
from mvsepd.errors import DaemonError, InputError, MvsepdError, StoreError
from mvsepd.models import Secret
from mvsepd.statusapi.picture import DaemonFacts, Picture
from mvsepd.statusapi.runtime import (
    RuntimeInfo,
    new_token,
    remove_runtime_file,
    write_runtime_file,
)

log = structlog.get_logger("mvsepd.statusapi")

PREFIX = "/v1"
#: The longest a long-poll is held open (clients ask again right away).
MAX_WAIT_SECONDS = 30.0
DEFAULT_WAIT_SECONDS = 25.0
#: How often a long-poll looks at transfers in flight, which do not move the change feed.
_SLICE_SECONDS = 0.25
_PROGRESS_EVERY_SECONDS = 0.5
TOKEN_HEADER = "X-Mvsepd-Token"  # noqa: S105 (a header name, not a credential)
#: Seconds an idle kept-alive connection (a browser's) holds its thread before it is closed.
_IDLE_CONNECTION_SECONDS = 60


class PageApplication(Protocol):
    """mvsepd's page as the status API's server runs it: a WSGI application for every path
    outside ``/v1`` that guards itself, and the one-time sign-in addresses it accepts."""

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one request (WSGI)."""
        ...

    def sign_in_path(self, landing: str | None = None) -> str:
        """A fresh one-time path (with its query) that signs a browser in, such as
        ``/sign-in?code=...``, and then shows ``landing`` (a path of the page); InputError
        when ``landing`` is not one."""
        ...


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without its access log (the tray long-polls all day). A browser
    keeps connections open between requests; one left idle is closed after a minute, so its
    thread does not outlive the page."""

    timeout = _IDLE_CONNECTION_SECONDS

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            log.debug("status_api_http_error", detail=message % args if args else message)


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(value, allow_nan=False) + "\n",
        status=status,
        mimetype="application/json",
        headers=headers,
    )
    # Status changes every second; no cache (or proxy) may keep an answer.
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": message}, status, headers)


class StatusApi:
    """The status and control API of one running daemon."""

    def __init__(
        self,
        engine: Engine,
        *,
        runtime_file: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        started_at: float | None = None,
        allow_remote: bool = False,
        clock: Callable[[], float] = time.time,
        config_state: Callable[[], dict[str, Any] | None] = lambda: None,
        page: PageApplication | None = None,
        any_port_if_taken: bool = False,
    ) -> None:
        if not is_loopback(host) and not allow_remote:
            raise InputError(
                f"the status API may listen on {host} only with daemon.allow_remote_status",
                field="daemon.status_host",
            )
        self.engine = engine
        self.host = host
        self.port = port
        #: The port asked for, when it was taken and a free one is used instead.
        self.port_taken: int | None = None
        self.page = page
        self._any_port_if_taken = any_port_if_taken
        self.runtime_file = runtime_file
        self.token: Secret = new_token()
        self._facts = DaemonFacts(
            version=__version__,
            pid=os.getpid(),
            started_at=clock() if started_at is None else started_at,
        )
        self.picture = Picture(engine, self._facts, clock=clock, config_state=config_state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._routes = Map(
            [
                Rule(f"{PREFIX}/status", endpoint="status", methods=["GET"]),
                Rule(f"{PREFIX}/jobs", endpoint="jobs", methods=["GET"]),
                Rule(f"{PREFIX}/jobs/<int:job_id>", endpoint="job", methods=["GET"]),
                Rule(f"{PREFIX}/events", endpoint="events", methods=["GET"]),
                Rule(f"{PREFIX}/pause", endpoint="pause", methods=["POST"]),
                Rule(f"{PREFIX}/resume", endpoint="resume", methods=["POST"]),
                Rule(f"{PREFIX}/rescan", endpoint="rescan", methods=["POST"]),
                Rule(f"{PREFIX}/dismiss", endpoint="dismiss", methods=["POST"]),
                Rule(f"{PREFIX}/jobs/<int:job_id>/retry", endpoint="retry", methods=["POST"]),
                Rule(f"{PREFIX}/jobs/<int:job_id>/cancel", endpoint="cancel", methods=["POST"]),
                Rule(f"{PREFIX}/page/sign-in", endpoint="page_sign_in", methods=["POST"]),
            ],
            strict_slashes=False,
        )
        self._handlers: dict[str, Callable[..., Response]] = {
            "status": self._status,
            "jobs": self._jobs,
            "job": self._job,
            "events": self._events,
            "pause": self._pause,
            "resume": self._resume,
            "rescan": self._rescan,
            "dismiss": self._dismiss,
            "retry": self._retry,
            "cancel": self._cancel,
            "page_sign_in": self._page_sign_in,
        }

    # --- life -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (the bound port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def listening_on(self) -> tuple[str, int] | None:
        """The address and port the kernel says the API's socket is bound to (None until
        started): what reaches it, whatever the configuration asked for."""
        if self._server is None:
            return None
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind, serve in a daemon thread, and write the runtime file."""
        if not is_loopback(self.host):
            log.warning(
                "status_api_not_loopback",
                host=self.host,
                note="anyone who reaches this address and has the token can control mvsepd",
            )
        # The socket is bound here, not by Werkzeug, which prints and exits the process when
        # a port is taken; a daemon says it in one sentence instead.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            listener = socket.create_server((self.host.strip("[]"), self.port), family=family)
        except OSError as error:
            if not (self._any_port_if_taken and error.errno == errno.EADDRINUSE):
                raise DaemonError(
                    f"the status API cannot listen on {self.host}:{self.port} "
                    f"({error.strerror or error}); change daemon.status_port or stop what "
                    "uses it"
                ) from None
            listener = self._any_free_port(family)
        try:
            self._server = make_server(
                self.host.strip("[]"),
                self.port,
                self._wsgi,
                threaded=True,
                request_handler=_QuietHandler,
                fd=listener.fileno(),
            )
        finally:
            listener.close()  # Werkzeug keeps its own duplicate of the descriptor
        self.port = int(self._server.server_address[1])
        # No poll interval: the loop sleeps in select() until a client connects, and ``stop``
        # wakes it with a connection of its own (a timeout would wake it 10 times a second).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": None},
            name="mvsepd-statusapi",
            daemon=True,
        )
        self._thread.start()
        info = RuntimeInfo(
            version=__version__,
            pid=self._facts.pid,
            host=self.host,
            port=self.port,
            token=self.token,
            started_at=self._facts.started_at,
            page=self.page is not None,
        )
        write_runtime_file(self.runtime_file, info)
        log.info(
            "status_api_listening",
            url=self.url,
            page=self.page is not None,
            runtime_file=str(self.runtime_file),
        )
        if self.port_taken is not None:
            log.warning(
                "page_port_taken",
                port=self.port_taken,
                url=self.url,
                note=f"another program (or another user's mvsepd) has port {self.port_taken}, "
                f"so the page is on {self.url}/ until mvsepd restarts: `mvsepd open` and the "
                "tray find it, a bookmark does not; set daemon.page_port to a free port to "
                "keep one",
            )

    def _any_free_port(self, family: socket.AddressFamily) -> socket.socket:
        """Listen on a free port instead of the one asked for, which is taken."""
        self.port_taken = self.port
        self.port = 0
        try:
            return socket.create_server((self.host.strip("[]"), 0), family=family)
        except OSError as error:
            raise DaemonError(
                f"the status API cannot listen on {self.host} ({error.strerror or error})"
            ) from None

    def stop(self) -> None:
        """Stop serving (long-polls in progress answer at once) and remove the runtime file."""
        self._stopping.set()
        self.engine.context.feed.bump()  # releases waiting long-polls now
        remove_runtime_file(self.runtime_file, self.token)
        server, self._server = self._server, None
        if server is not None:
            try:
                address = server.socket.getsockname()[:2]
                family = server.socket.family
            except OSError:  # closed already
                address, family = None, socket.AF_INET
            stopper = threading.Thread(target=server.shutdown, name="mvsepd-statusapi-stop")
            stopper.start()
            # shutdown() only sets a flag the serving loop reads after select() returns: connect
            # until the loop has seen it (a connection before the flag is set is served and the
            # loop would sleep again).
            deadline = time.monotonic() + 5
            while stopper.is_alive() and time.monotonic() < deadline:
                if address is not None:
                    _poke(address, family)
                stopper.join(0.05)
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- WSGI -------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self._stopping.is_set():
            # A browser's kept-alive connection outlives the server's loop: close it too.
            stopping = _error(503, "mvsepd is stopping", {"Connection": "close"})
            return stopping(environ, start_response)
        path = str(environ.get("PATH_INFO") or "/")
        if self.page is not None and not (path == PREFIX or path.startswith(PREFIX + "/")):
            return self.page(environ, start_response)
        request = Request(environ)
        response = self._respond(request)
        return response(environ, start_response)

    def _authorized(self, request: Request) -> bool:
        offered = request.headers.get(TOKEN_HEADER, "")
        authorization = request.headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            offered = credential.strip()
        expected = self.token.reveal().encode("utf-8")
        return hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), expected)

    def _respond(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(
                401,
                "the status API needs the token from the daemon's runtime file",
                {"WWW-Authenticate": 'Bearer realm="mvsepd"'},
            )
        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except MethodNotAllowed as error:
            allowed = ", ".join(sorted(error.valid_methods or []))
            return _error(405, f"use {allowed} for {request.path}", {"Allow": allowed})
        except NotFound:
            return _error(404, f"no such endpoint: {request.method} {request.path}")
        except HTTPException as error:  # a redirect or another routing answer
            return _error(error.code or 400, error.description or "bad request")
        try:
            return self._handlers[str(endpoint)](request, **arguments)
        except InputError as error:
            return _error(409, str(error))
        except MvsepdError as error:
            log.warning("status_api_request_failed", path=request.path, error=str(error))
            return _error(500, str(error))
        except Exception:
            log.exception("status_api_crashed", path=request.path)
            return _error(500, "internal error in mvsepd (see the daemon's log)")

    # --- reads ------------------------------------------------------------------------------

    def _status(self, request: Request) -> Response:
        every_name = request.args.get("names", "") == "all"
        return _json(self.picture.status(every_name=every_name))

    def _jobs(self, request: Request) -> Response:
        include_all = _true(request.args.get("all", "0"))
        return _json({"jobs": self.picture.jobs(include_all=include_all)})

    def _job(self, request: Request, job_id: int) -> Response:
        try:
            return _json({"job": self.picture.job_detail(job_id)})
        except StoreError:
            return _error(404, f"no job with id {job_id}")

    def _events(self, request: Request) -> Response:
        try:
            since = int(request.args["since"]) if "since" in request.args else None
            timeout = float(request.args.get("timeout", DEFAULT_WAIT_SECONDS))
        except ValueError:
            return _error(400, "since must be a whole number and timeout a number of seconds")
        if not 0 <= timeout < float("inf"):
            return _error(400, "timeout must be zero or more seconds")
        feed = self.engine.context.feed
        changed = since is None or feed.version != since
        if not changed and since is not None:
            changed = self.wait_for_change(since, min(timeout, MAX_WAIT_SECONDS))
        # The version is read before the picture: a change in between is seen again next time.
        version = feed.version
        return _json({"version": version, "changed": changed, "status": self.picture.status()})

    def wait_for_change(self, since: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a change after version ``since`` of the change
        feed; True if one came (a feed change, or transfer progress), or the API stops. Asleep
        meanwhile, unless a transfer is in flight (then it looks four times a second)."""
        feed = self.engine.context.feed
        deadline = time.monotonic() + timeout
        progress_at = time.monotonic() + _PROGRESS_EVERY_SECONDS
        transfers = self.picture.transfers()
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Transfers move no feed version, so they are looked at in slices; with none in
            # flight the wait is one block (a new transfer bumps the feed when it starts).
            step = min(left, _SLICE_SECONDS) if self.picture.transfers() else left
            if feed.wait_beyond(since, step) > since:
                return True
            if time.monotonic() >= progress_at and self.picture.transfers() != transfers:
                return True
        return True

    # --- control ----------------------------------------------------------------------------

    def _pause(self, request: Request) -> Response:
        self.engine.pause()
        return _json(
            {
                "paused": True,
                "message": "paused: no new submissions; uploads in flight, waiting jobs and "
                f"downloads go on{self._studio_wide()}",
            }
        )

    def _resume(self, request: Request) -> Response:
        self.engine.resume()
        return _json(
            {"paused": False, "message": f"resumed: submitting again{self._studio_wide()}"}
        )

    def _studio_wide(self) -> str:
        """Pause and resume are the studio's: every host shares the flag."""
        return " (on every host of the studio)" if self.engine.context.store.host_id else ""

    def _rescan(self, request: Request) -> Response:
        """``?folder=PATH`` scans one hot folder; ``&include_existing=1`` also takes the files
        that were there before it was first watched."""
        folder = request.args.get("folder")
        if not _true(request.args.get("include_existing", "0")):
            found = self.engine.rescan(None if folder is None else Path(folder))
            where = "every folder" if folder is None else folder
            return _json(
                {"found": found, "message": f"rescanned {where}; {found} new file(s) to check"}
            )
        if folder is None:
            return _error(400, "name the folder whose earlier files to take (folder=PATH)")
        watched, skipped, found = self.engine.include_existing(Path(folder))
        files = "1 file" if skipped == 1 else f"{skipped} files"
        message = (
            f"rescanned {watched}: {files} that were there before it was watched, taken now; "
            f"{found} new file(s) to check (audio already separated with the same preset is "
            "not paid for again)"
        )
        return _json(
            {"folder": str(watched), "skipped": skipped, "found": found, "message": message}
        )

    def _dismiss(self, request: Request) -> Response:
        count = self.engine.dismiss_failures()
        them = "it" if count == 1 else "them"
        message = (
            f"dismissed {count} failure{'s' if count != 1 else ''}: the tray is no longer red "
            f"for {them} (`mvsepd jobs` still lists {them}){self._studio_wide()}"
            if count
            else "no failures to dismiss"
        )
        return _json({"dismissed": count, "message": message})

    def _retry(self, request: Request, job_id: int) -> Response:
        if not self._exists(job_id):
            return _error(404, f"no job with id {job_id}")
        upload_again = request.args.get("upload_again", "0").lower() in ("1", "true", "yes")
        answer = self.engine.retry(job_id, upload_again=upload_again)
        return _json(
            {
                "job": self.picture.job(answer.job),
                "uploads_again": answer.uploads,
                "message": answer.words,
            }
        )

    def _cancel(self, request: Request, job_id: int) -> Response:
        if not self._exists(job_id):
            return _error(404, f"no job with id {job_id}")
        words = self.engine.cancel(job_id)
        job = self.engine.context.store.get(job_id)
        return _json({"job": self.picture.job(job), "message": f"job {job_id}: {words}"})

    def _page_sign_in(self, request: Request) -> Response:
        if self.page is None:
            return _error(404, "this daemon serves no page (it runs without one)")
        path = self.page.sign_in_path(request.args.get("next") or None)
        # A browser on this machine reaches a wildcard address through loopback.
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.host.strip("[]"))  # noqa: S104
        base = f"http://{host}:{self.port}" if host else self.url
        return _json({"url": base + path, "path": path})

    def _exists(self, job_id: int) -> bool:
        try:
            self.engine.context.store.get(job_id)
        except StoreError:
            return False
        return True


def _true(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


def _poke(address: tuple[Any, ...], family: socket.AddressFamily) -> None:
    """Open and close one connection to an address (wakes a server blocked in select())."""
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as poke:
        poke.settimeout(1.0)
        poke.connect(address)

"""The WSGI application: routing, the per-request pipeline, faults and rate limiting.

Pipeline of an API request (Laravel's order where it matters): route match (404/405 come
before any middleware) → injected transport faults (drop, 502, 503, 429, slow) → throttle
(headers on every answer, 429 past the limit) → token-invalidation fault → handler →
after-the-fact faults (lost response, ``"success":"true"``, malformed JSON) → ``Server`` header.
``/storage/...`` files skip throttling and see faults only when a fault names their path.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from mvsepd.emulator import phpjson, routes_admin, routes_app, routes_quality, routes_separation
from mvsepd.emulator.context import Context
from mvsepd.emulator.ratelimit import STRICT_PATHS, RateLimiter
from mvsepd.emulator.responses import (
    EmulatorRequest,
    bad_gateway,
    html_error,
    json_response,
    params,
    service_unavailable,
    too_many_attempts,
)
from mvsepd.emulator.state import EmulatorState

Handler = Callable[[Context, Request], Response]

ROUTES: dict[str, tuple[str, Handler]] = {
    "/api/separation/create": ("POST", routes_separation.create),
    "/api/separation/get": ("GET", routes_separation.get),
    "/api/separation/get-remote": ("GET", routes_separation.get_remote),
    "/api/separation/cancel": ("POST", routes_separation.cancel),
    "/api/separation/delete": ("POST", routes_separation.delete),
    "/api/app/algorithms": ("GET", routes_app.algorithms),
    "/api/app/news": ("GET", routes_app.news),
    "/api/app/queue": ("GET", routes_app.queue),
    "/api/app/demo": ("GET", routes_app.demo),
    "/api/app/login": ("POST", routes_app.login),
    "/api/app/register": ("POST", routes_app.register),
    "/api/app/user": ("GET", routes_app.user),
    "/api/app/separation_history": ("GET", routes_app.separation_history),
    "/api/app/enable_premium": ("POST", routes_app.enable_premium),
    "/api/app/disable_premium": ("POST", routes_app.disable_premium),
    "/api/app/enable_long_filenames": ("POST", routes_app.enable_long_filenames),
    "/api/app/disable_long_filenames": ("POST", routes_app.disable_long_filenames),
    "/api/quality_checker/queue": ("GET", routes_quality.queue),
    "/api/quality_checker/leaderboard": ("GET", routes_quality.leaderboard),
    "/api/quality_checker/add": ("POST", routes_quality.add),
    "/api/quality_checker/entry": ("GET", routes_quality.entry),
    "/api/quality_checker/delete": ("POST", routes_quality.delete),
}


class DroppedConnection(ConnectionAbortedError):
    """Raised after the socket was shut down on purpose; Werkzeug treats it as a client drop."""


class EmulatorApp:
    """One emulator's WSGI callable."""

    def __init__(
        self,
        ctx: Context,
        state: EmulatorState,
        limiter: RateLimiter,
        request_class: type[EmulatorRequest],
    ) -> None:
        self._ctx = ctx
        self._state = state
        self._limiter = limiter
        self._request_class = request_class
        rules = [
            Rule(path, methods=[method], endpoint=path) for path, (method, _) in ROUTES.items()
        ]
        rules.append(Rule("/storage/<directory>/<name>", methods=["GET"], endpoint="storage"))
        self._map = Map(rules, strict_slashes=False)
        self.clock = ctx.clock
        ctx.roll_job_failure = lambda path: ctx.faults.fire("job_failed", path)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        link = self._ctx.link
        link.shape_request(environ)
        refused = self._chunked_refusal(environ)
        if refused is not None:
            link.wait_latency()
            return refused(environ, start_response)
        request = self._request_class(environ)
        try:
            response = self._dispatch(request)
            response.headers.setdefault("Server", self._ctx.settings.server_header)
        except DroppedConnection:
            _shut_down(environ)
            raise
        finally:
            request.discard_uploads()
        link.wait_latency()
        body = response(environ, start_response)
        if link.download_rate and request.path.startswith("/storage/"):
            owner = self._ctx.jobs.owner_of(request.path.rsplit("/", 1)[-1])
            return link.shape_download(body, owner)
        return body

    def _chunked_refusal(self, environ: dict[str, Any]) -> Response | None:
        """A server that takes no body without a length (``chunked_uploads``): the body is read
        and thrown away, then a 411 (mod_fcgid), or the application runs on an empty body
        (Apache with PHP-FPM: no token, no file reach it)."""
        mode = self._ctx.settings.chunked_uploads
        chunked = environ.get("HTTP_TRANSFER_ENCODING", "").strip().lower() == "chunked"
        if mode == "accept" or not chunked:
            return None
        stream = environ["wsgi.input"]
        while stream.read(1 << 16):
            pass
        if mode == "length_required":
            return html_error(411, "Length Required")
        environ["wsgi.input"] = io.BytesIO(b"")
        environ["CONTENT_LENGTH"] = "0"
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        return None

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/__emulator/"):
            return routes_admin.handle(self._ctx, self._state, request)
        adapter = self._map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except NotFound:
            return _not_found(request)
        except MethodNotAllowed as error:
            return _not_allowed(request, error)
        except HTTPException as error:  # pragma: no cover - the map raises only the two above
            return html_error(error.code or 500, error.name)
        if endpoint == "storage":
            return self._static(request, path, arguments)
        try:
            return self._api(request, path, ROUTES[str(endpoint)][1])
        except HTTPException as error:
            # e.g. RequestEntityTooLarge while parsing the form
            return html_error(error.code or 500, error.name)

    def _static(self, request: Request, path: str, arguments: Mapping[str, Any]) -> Response:
        early = self._transport_faults(path)
        if early is not None:
            return early
        file_path = self._ctx.storage.public_path(
            str(arguments["directory"]), str(arguments["name"])
        )
        if file_path is None:
            return _not_found(request)
        settings = self._ctx.settings
        try:
            return self._ctx.storage.serve(
                request,
                file_path,
                ranges=settings.range_requests,
                server_header=settings.server_header,
            )
        except HTTPException as error:  # 416 Range Not Satisfiable, with its Content-Range
            return error.get_response(request.environ)

    def _api(self, request: Request, path: str, handler: Handler) -> Response:
        faults = self._ctx.faults
        self._ctx.jobs.tick()
        early = self._transport_faults(path)
        if early is not None:
            return early
        if faults.fire("http_429", path):
            wait = self._ctx.settings.fault_retry_after_seconds
            return too_many_attempts(
                {
                    "X-RateLimit-Limit": str(self._limit_for(path)),
                    "X-RateLimit-Remaining": "0",
                    "Retry-After": str(wait),
                    "X-RateLimit-Reset": str(int(self._ctx.clock()) + wait),
                }
            )
        decision = self._limiter.hit(request.remote_addr or "unknown", path)
        if not decision.allowed:
            return too_many_attempts(decision.headers)
        if faults.fire("invalid_token", path):
            token = params(request).get("api_token")
            if token:
                self._ctx.accounts.revoke(token)
        response = handler(self._ctx, request)
        response.headers.update(decision.headers)
        if response.status_code < 400 and faults.fire("lost_response", path):
            raise DroppedConnection("response lost by fault injection")
        if response.status_code < 400 and faults.fire("success_string", path):
            _success_as_string(response)
        if response.mimetype == "application/json" and faults.fire("malformed_json", path):
            body = response.get_data()
            response.set_data(body[: max(1, len(body) // 2)])
        return response

    def _transport_faults(self, path: str) -> Response | None:
        faults = self._ctx.faults
        if faults.fire("drop_connection", path):
            raise DroppedConnection("connection dropped by fault injection")
        if faults.fire("http_502", path):
            return bad_gateway()
        if faults.fire("http_503", path):
            return service_unavailable()
        if faults.fire("slow", path):
            delay = faults.delay_seconds("slow")
            time.sleep(self._ctx.settings.slow_response_seconds if delay is None else delay)
        return None

    def _limit_for(self, path: str) -> int:
        settings = self._ctx.settings
        return settings.rate_limit_strict if path in STRICT_PATHS else settings.rate_limit_default


def _shut_down(environ: dict[str, Any]) -> None:
    connection = environ.get("werkzeug.socket")
    if isinstance(connection, socket.socket):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


def _success_as_string(response: Response) -> None:
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return
    if isinstance(body, dict) and body.get("success") is True:
        body["success"] = "true"
        response.set_data(phpjson.dumps(body))


def _wants_json(request: Request) -> bool:
    return request.accept_mimetypes.best == "application/json"


def _not_found(request: Request) -> Response:
    if _wants_json(request):
        route = request.path.lstrip("/")
        return json_response({"message": f"The route {route} could not be found."}, 404)
    return html_error(404, "Not Found")


def _not_allowed(request: Request, error: MethodNotAllowed) -> Response:
    allowed = ", ".join(sorted(error.valid_methods or []))
    headers = {"Allow": allowed}
    if _wants_json(request):
        route = request.path.lstrip("/")
        message = (
            f"The {request.method} method is not supported for route {route}. "
            f"Supported methods: {allowed}."
        )
        return json_response({"message": message}, 405, headers)
    return html_error(405, "Method Not Allowed", headers)

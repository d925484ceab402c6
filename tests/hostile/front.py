"""A hostile MVSEP: a real emulator behind a front that rewrites or replaces chosen answers.

The emulator answers honestly; what a compromised or broken server could send instead (result
files named ``../../.bashrc``, result URLs on ``file://`` or another host, redirects, a 2 GB body
for a 2 KB stem, JSON nested 10,000 deep) needs control over the answers. ``HostileFront`` is a
Werkzeug server on 127.0.0.1 whose WSGI application calls the emulator's own application
in-process, so every answer it does not touch is the emulator's, URLs included (the emulator
builds them from the request's host, which is the front's). ``Trap`` is a second server that stands
for "another host" (``http://localhost:<its port>``: another name and another port, yet still
this machine's loopback): it counts every request, so a test can prove that mvsepd never
contacted it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from mvsepd.emulator import EmulatorServer

Forward = Callable[[], Response]
#: Given the request and a way to get the emulator's own answer, return the answer to send.
Answer = Callable[[Request, Forward], Response]


class _QuietHandler(WSGIRequestHandler):
    """No access log, and no traceback when mvsepd hangs up on an endless body (it should)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        return


@dataclass
class Rule:
    """Answer requests whose path starts with ``path`` (and whose path or query contains
    ``containing``) with ``answer``, at most ``times`` times (None: always)."""

    path: str
    answer: Answer
    containing: str = ""
    times: int | None = None
    used: int = 0

    def matches(self, request: Request) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        where = request.full_path
        return request.path.startswith(self.path) and self.containing in where


@dataclass
class Body:
    """Counts the bytes an endless (or very long) answer actually handed to the socket."""

    limit: int
    chunk: int = 64 * 1024
    sent: int = 0
    finished: threading.Event = field(default_factory=threading.Event)

    def stream(self) -> Iterator[bytes]:
        block = b"\0" * self.chunk
        try:
            while self.sent < self.limit:
                yield block
                self.sent += len(block)
        finally:
            # Reached when mvsepd hangs up (the server closes the generator) or at the limit.
            self.finished.set()


class _Server:
    """A threaded Werkzeug server for one WSGI application, on a free port."""

    def __init__(self, application: Any, host: str) -> None:
        self._server: BaseWSGIServer = make_server(
            host, 0, application, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"hostile-{host}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class HostileFront:
    """The emulator's application behind rules that rewrite or replace its answers."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        #: Every request path (with query) that reached the front, in order.
        self.seen: list[str] = []
        self._server: _Server | None = None

    def start(self) -> HostileFront:
        self._server = _Server(self._application, "127.0.0.1")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> HostileFront:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the front is not running"
        return self._server.url

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.seen.clear()

    def _application(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.seen.append(request.full_path)
            rule = next((rule for rule in self._rules if rule.matches(request)), None)
            if rule is not None:
                rule.used += 1

        def forward() -> Response:
            return Response.from_app(self.emulator.app, environ, buffered=True)

        response = forward() if rule is None else rule.answer(request, forward)
        return response(environ, start_response)


class Trap:
    """Another host: counts requests, answers each with a harmless 200."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._server: _Server | None = None

    def start(self) -> Trap:
        self._server = _Server(self._application, "127.0.0.1")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the trap is not running"
        return f"http://localhost:{self._server.port}"

    def _application(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        self.requests.append(Request(environ).full_path)
        response = Response(b"RIFF stolen", content_type="audio/wav")
        return response(environ, start_response)


# --- answers ----------------------------------------------------------------------------------


def json_answer(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status=status, content_type="application/json")


def replace_with(response: Callable[[], Response]) -> Answer:
    """Answer with ``response()`` without asking the emulator."""
    return lambda request, forward: response()


def after_forwarding(response: Callable[[], Response]) -> Answer:
    """Let the emulator act (a create really creates the job), then send ``response()``."""

    def answer(request: Request, forward: Forward) -> Response:
        forward()
        return response()

    return answer


def rewrite_files(change: Callable[[list[dict[str, Any]]], None]) -> Answer:
    """Rewrite the ``files`` list of a finished job's ``/separation/get`` answer."""

    def answer(request: Request, forward: Forward) -> Response:
        original = forward()
        payload = json.loads(original.get_data())
        files = payload.get("data", {}).get("files") if isinstance(payload, dict) else None
        if not isinstance(files, list):
            return original  # not finished yet: nothing to rewrite
        change(files)
        return json_answer(payload, original.status_code)

    return answer


def nested_json(depth: int) -> bytes:
    """A valid JSON document nested ``depth`` levels deep."""
    return b'{"success":true,"data":' + b"[" * depth + b"]" * depth + b"}"

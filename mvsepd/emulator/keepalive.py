"""HTTP/1.1 keep-alive for the emulator's server, as MVSEP's Apache does it.

MVSEP answers with ``Connection: Keep-Alive`` and ``Keep-Alive: timeout=5, max=100`` [REC
Postman collection, every recorded answer] and closes a connection that stays idle for the
timeout or has carried ``max`` requests (Apache's KeepAliveTimeout and MaxKeepAliveRequests).
A pooled client therefore meets a connection the server has just closed, sometimes exactly
as it sends its next request: the race this module lets tests see.

Werkzeug's development server closes every connection after one answer ("Connection: close"),
because its handler cannot tell where a request body ends before the next request begins.
``KeepAliveHandler`` replaces its ``run_wsgi`` with one that reads each body through a
counting stream, drains whatever the application left unread (by ``Content-Length``, or to the
end of a chunked body), and only then waits for the next request line, for at most the idle
timeout. Anything it cannot account for (an answer of unknown length, a body it cannot drain, a
dropped connection) ends the connection, as Apache would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from werkzeug.serving import WSGIRequestHandler

LOG = logging.getLogger("mvsepd.emulator")

#: Unread request bytes drained to keep a connection; a larger leftover closes it instead.
MAX_DRAIN_BYTES = 16 * 1024 * 1024
#: How long one request may take to arrive once its first line did (Apache's Timeout).
REQUEST_TIMEOUT_SECONDS = 60.0


class CountingBody:
    """A request body stream that knows how much of it is left (``remaining`` None: read to
    the end of a chunked body)."""

    def __init__(self, stream: IO[bytes], length: int | None) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining is not None:
            if self.remaining <= 0:
                return b""
            size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._stream.read(size)
        if self.remaining is not None:
            self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.remaining is not None:
            if self.remaining <= 0:
                return b""
            size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        line = self._stream.readline(size)
        if self.remaining is not None:
            self.remaining -= len(line)
        return line

    def __iter__(self) -> CountingBody:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self) -> bool:
        """Read and drop what is left of the body; False if that is more than allowed."""
        drained = 0
        while True:
            block = self.read(256 * 1024)
            if not block:
                return True
            drained += len(block)
            if drained > MAX_DRAIN_BYTES:
                return False


class KeepAliveHandler(WSGIRequestHandler):
    """A Werkzeug request handler that keeps connections open between requests (see the
    module docstring). ``idle_seconds`` and ``max_requests`` are set on a subclass per server;
    ``idle_seconds`` None answers ``Connection: close`` to everything."""

    idle_seconds: float | None = 5.0
    max_requests: int = 100
    #: The server's closing of an idle connection reaches the client only once its next request
    #: is on the way (a link's latency): that request finds the connection closed, unanswered.
    close_late: bool = False
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.served = 0
        self._body: CountingBody | None = None
        self._keep = False

    def handle_one_request(self) -> None:
        # Between requests the connection may sit idle for the timeout; once a request line
        # came, the rest of the request gets the ordinary request timeout.
        idle = self.idle_seconds if self.served else None
        self.connection.settimeout(
            idle if idle is not None and not self.close_late else REQUEST_TIMEOUT_SECONDS
        )
        waited_from = time.monotonic()
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        if not self.raw_requestline or len(self.raw_requestline) > 65536:
            self.close_connection = True
            return
        if idle is not None and time.monotonic() - waited_from > idle:
            # Closed for idleness before this request arrived: it goes unanswered.
            self.close_connection = True
            return
        self.connection.settimeout(REQUEST_TIMEOUT_SECONDS)
        if not self.parse_request():
            self.close_connection = True
            return
        self.served += 1
        self.run_wsgi()
        self.wfile.flush()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        length_text = environ.get("CONTENT_LENGTH") or ""
        chunked = environ.get("wsgi.input_terminated", False)
        try:
            length: int | None = int(length_text) if length_text else (None if chunked else 0)
        except ValueError:
            length = 0
        self._body = CountingBody(environ["wsgi.input"], length)
        environ["wsgi.input"] = self._body
        return environ

    def _wants_keep_alive(self) -> bool:
        if self.idle_seconds is None or self.close_connection:
            return False
        return self.served < self.max_requests

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        answer = _Answer(self, keep=self._wants_keep_alive())
        try:
            body: Iterable[bytes] = self.server.app(environ, answer.start_response)
            try:
                for data in body:
                    answer.write(data)
                answer.finish()
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except (ConnectionError, TimeoutError) as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
            return
        except Exception:
            # As Werkzeug's handler does: say so and end the connection, whose state is
            # unknown.
            self.close_connection = True
            LOG.exception("emulator: error on request %s %s", self.command, self.path)
            answer.fail()
            return
        if not answer.keep or self._body is None or not self._body.drain():
            self.close_connection = True


class _Answer:
    """One response on a kept-alive connection: its head (with the connection's fate), then
    its body, chunked when the application gave no length."""

    def __init__(self, handler: KeepAliveHandler, *, keep: bool) -> None:
        self._handler = handler
        self.keep = keep
        self._started: tuple[str, list[tuple[str, str]]] | None = None
        self._sent = False
        self._chunked = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info and self._sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self._started = (status, headers)
        return self.write

    def _send_head(self) -> None:
        handler = self._handler
        assert self._started is not None, "write() before start_response()"
        status, headers = self._started
        code_text, _, message = status.partition(" ")
        code = int(code_text)
        handler.send_response(code, message)
        for key, value in headers:
            handler.send_header(key, value)
        has_length = any(key.lower() == "content-length" for key, _ in headers)
        bodiless = handler.command == "HEAD" or code in (204, 304) or code < 200
        if not has_length and not bodiless:
            self._chunked = True
            handler.send_header("Transfer-Encoding", "chunked")
        if self.keep:
            handler.send_header("Connection", "Keep-Alive")
            handler.send_header(
                "Keep-Alive", f"timeout={handler.idle_seconds:g}, max={handler.max_requests}"
            )
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        self._sent = True

    def write(self, data: bytes) -> None:
        if not self._sent:
            self._send_head()
        out = self._handler.wfile
        if data:
            if self._chunked:
                out.write(f"{len(data):x}\r\n".encode("ascii"))
            out.write(data)
            if self._chunked:
                out.write(b"\r\n")
        out.flush()

    def finish(self) -> None:
        if not self._sent:
            self.write(b"")
        if self._chunked:
            self._handler.wfile.write(b"0\r\n\r\n")

    def fail(self) -> None:
        """Answer 500 if nothing was sent yet (the connection closes either way)."""
        if not self._sent:
            self.keep = False
            self._started = ("500 INTERNAL SERVER ERROR", [("Content-Length", "0")])
            self.write(b"")

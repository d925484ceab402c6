"""A network link between the client and the emulated MVSEP: bandwidth and latency.

On loopback an upload of 86 MB takes a fraction of a second; on a producer's link it takes
half a minute at 20 Mbit/s. With rates set, every account gets one upload and one download
pipe of that many bytes per second, shared by all its connections (a second parallel
download halves each one's speed, as on a real uplink), and every answer waits a fixed
latency first. Bytes are metered in blocks: each block waits for its turn in its pipe.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

#: The token in a multipart create (the official clients send it first) or a query string.
#: The part's header lines are not empty, so the match cannot run on into later parts.
_FORM_TOKEN = re.compile(rb'name="api_token"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]{1,200})\r\n')
_QUERY_TOKEN = re.compile(r"(?:^|&)api_token=([^&]{1,200})")
_PEEK_BYTES = 8192
ANONYMOUS = ""


#: A pause of the sender this short does not leave the link idle: the socket's buffer still
#: holds bytes to send (on a real link the kernel sends while the program prepares the next
#: block). Without it, the time the server takes between two blocks would be lost each time,
#: and one connection would get three quarters of the rate instead of all of it.
BUFFERED_SECONDS = 0.05


class Pipe:
    """Bytes per second through one direction of one account's link, first come first served
    (a sender that keeps it busy gets the whole rate; see ``BUFFERED_SECONDS``)."""

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._free_at = 0.0
        #: Bytes that went through the pipe so far.
        self.passed = 0

    def pass_bytes(self, count: int) -> None:
        """Block until ``count`` bytes have had their time on the pipe."""
        if count <= 0:
            return
        with self._lock:
            self.passed += count
            now = self._clock()
            start = self._free_at if now - self._free_at <= BUFFERED_SECONDS else now
            self._free_at = start + count / self._rate
            delay = self._free_at - now
        if delay > 0:
            self._sleep(delay)


class Link:
    """The pipes of every account, made on first use."""

    def __init__(
        self,
        *,
        upload_rate: float | None,
        download_rate: float | None,
        latency_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.upload_rate = upload_rate
        self.download_rate = download_rate
        self.latency_seconds = latency_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._pipes: dict[tuple[str, str], Pipe] = {}

    @property
    def shaped(self) -> bool:
        """True when any rate or a latency is set."""
        return bool(self.upload_rate or self.download_rate or self.latency_seconds)

    def _pipe(self, direction: str, account: str, rate: float) -> Pipe:
        with self._lock:
            key = (direction, account)
            pipe = self._pipes.get(key)
            if pipe is None:
                pipe = self._pipes[key] = Pipe(rate, self._clock, self._sleep)
            return pipe

    def bytes_moved(self, account: str) -> tuple[int, int]:
        """Bytes the account's uploads and downloads put through the link so far (metered only
        where a rate is set)."""
        with self._lock:
            up, down = self._pipes.get(("up", account)), self._pipes.get(("down", account))
        return (up.passed if up else 0, down.passed if down else 0)

    def wait_latency(self) -> None:
        """The fixed delay before an answer."""
        if self.latency_seconds > 0:
            self._sleep(self.latency_seconds)

    def shape_request(self, environ: dict[str, Any]) -> None:
        """Meter the request body through its account's upload pipe as the app reads it."""
        if not self.upload_rate:
            return
        query = _QUERY_TOKEN.search(environ.get("QUERY_STRING", ""))
        environ["wsgi.input"] = _MeteredInput(
            environ["wsgi.input"],
            lambda account: self._pipe("up", account, float(self.upload_rate or 1)),
            query.group(1) if query else None,
        )

    def shape_download(self, body: Iterable[bytes], account: str) -> Iterable[bytes]:
        """Meter a response body through the account's download pipe."""
        if not self.download_rate:
            return body
        pipe = self._pipe("down", account, float(self.download_rate))
        return _MeteredBody(body, pipe)


class _MeteredInput:
    """A request body that costs pipe time as it is read; the account is found in its first
    bytes (the form's ``api_token``), else it is the anonymous one."""

    def __init__(
        self, stream: BinaryIO, pipe_for: Callable[[str], Pipe], account: str | None
    ) -> None:
        self._stream = stream
        self._pipe_for = pipe_for
        self._pipe = pipe_for(account) if account is not None else None
        self._head = b""

    def _account_pipe(self, data: bytes) -> Pipe:
        if self._pipe is not None:
            return self._pipe
        self._head += data[: _PEEK_BYTES - len(self._head)]
        found = _FORM_TOKEN.search(self._head)
        if found is not None or len(self._head) >= _PEEK_BYTES or not data:
            account = found.group(1).decode("ascii", "replace") if found else ANONYMOUS
            self._pipe = self._pipe_for(account)
            return self._pipe
        return self._pipe_for(ANONYMOUS)

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._account_pipe(data).pass_bytes(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self._account_pipe(data).pass_bytes(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class _MeteredBody:
    """A response body whose blocks each wait for their time on the pipe before going out."""

    def __init__(self, body: Iterable[bytes], pipe: Pipe) -> None:
        self._body = body
        self._pipe = pipe

    def __iter__(self) -> Iterator[bytes]:
        for block in self._body:
            self._pipe.pass_bytes(len(block))
            yield block

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()

"""A scripted requests adapter: canned answers per (method, path), every request recorded.

Mounted on a Transport's session (``transport.mount("https://", adapter)``), it stands in for
the network without patching anything. Answers are real ``requests.Response`` objects built
from ``urllib3.HTTPResponse`` the way ``HTTPAdapter`` builds them, so streaming, Content-Length
enforcement and mid-body failures behave as they would on a socket.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3
import urllib3.connection
from requests.adapters import BaseAdapter, HTTPAdapter
from requests_toolbelt import MultipartDecoder

TOKEN = "AbCdEf0123456789GhIjKlMnOpQrSt"  # 30 chars, recognisable, MVSEP-shaped


@dataclass
class Reply:
    """What the fake server answers. ``error`` is raised instead (after the body was read)."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    fail_after: int | None = None  # the body breaks (connection reset) after this many bytes
    chunked: bool = False  # send no Content-Length: the body ends when the connection does

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Part:
    """One multipart part as received."""

    name: str
    filename: str | None
    content: bytes
    content_type: str | None


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    url: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    timeout: Any
    verify: Any
    form: dict[str, str] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)

    def part(self, name: str) -> Part:
        matches = [p for p in self.parts if p.name == name]
        assert len(matches) == 1, f"expected one part {name!r}, got {[p.name for p in self.parts]}"
        return matches[0]

    @property
    def fields(self) -> dict[str, str]:
        """Text parts of a multipart body, or the urlencoded form."""
        if self.parts:
            return {p.name: p.content.decode() for p in self.parts if p.filename is None}
        return self.form


ReplyFactory = Callable[[Recorded], Reply]


class _BrokenBody(io.RawIOBase):
    """A body that yields ``data`` then fails like a reset connection."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        if not chunk:
            raise ConnectionResetError(104, "Connection reset by peer")
        buffer[: len(chunk)] = chunk
        return len(chunk)


class ScriptedAdapter(BaseAdapter):
    """Answers from a script; the last reply for a route repeats once the others are used."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[tuple[str, str], list[Reply | ReplyFactory]] = {}
        self.requests: list[Recorded] = []
        self._builder = HTTPAdapter()

    def add(self, method: str, path: str, *replies: Reply | ReplyFactory) -> ScriptedAdapter:
        self.script.setdefault((method.upper(), path), []).extend(replies)
        return self

    def on(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        recorded = _record(request, timeout, verify)
        self.requests.append(recorded)
        queue = self.script.get((recorded.method, recorded.path))
        if not queue:
            raise AssertionError(f"unscripted request {recorded.method} {recorded.path}")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(reply):
            reply = reply(recorded)
        if reply.error is not None:
            raise reply.error
        data = reply.payload()
        headers = {"Content-Type": "application/json", **reply.headers}
        if reply.fail_after is not None:
            body: Any = _BrokenBody(data[: reply.fail_after])
        else:
            body = io.BytesIO(data)
        if not reply.chunked:
            headers.setdefault("Content-Length", str(len(data)))
        raw = urllib3.HTTPResponse(
            body=body,
            headers=headers,
            status=reply.status,
            preload_content=False,
            decode_content=False,
            request_method=recorded.method,
            enforce_content_length=True,
        )
        return self._builder.build_response(request, raw)

    def close(self) -> None:
        pass


def _record(request: requests.PreparedRequest, timeout: Any, verify: Any) -> Recorded:
    url = request.url or ""
    parts = urlsplit(url)
    decoded_query = parse_qs(parts.query, keep_blank_values=True)
    query = {key: values[-1] for key, values in decoded_query.items()}
    headers = dict(request.headers)
    body = _read_body(request.body)
    recorded = Recorded(
        method=(request.method or "").upper(),
        url=url,
        path=parts.path,
        query=query,
        headers=headers,
        body=body,
        timeout=timeout,
        verify=verify,
    )
    content_type = headers.get("Content-Type", "")
    if content_type.startswith("multipart/form-data"):
        recorded.parts = parse_multipart(body, content_type)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        decoded = parse_qs(body.decode(), keep_blank_values=True)
        recorded.form = {key: values[-1] for key, values in decoded.items()}
    return recorded


def _read_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if not hasattr(body, "read"):  # a body made as it is sent (chunked): its chunks
        return b"".join(body)
    chunks = []
    while True:
        chunk = body.read(8192)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    result = []
    for part in MultipartDecoder(body, content_type).parts:
        headers = {key.decode(): value.decode() for key, value in part.headers.items()}
        message = Message()
        message["Content-Disposition"] = headers.get("Content-Disposition", "")
        name = message.get_param("name", header="Content-Disposition")
        filename = message.get_param("filename", header="Content-Disposition")
        result.append(
            Part(
                name=str(name),
                filename=None if filename is None else str(filename),
                content=part.content,
                content_type=headers.get("Content-Type"),
            )
        )
    return result


def reset_after_send() -> requests.ConnectionError:
    """The error requests raises when the server drops the connection after the request."""
    cause = urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
    )
    return requests.ConnectionError(cause)


def refused(url: str = "/api/x") -> requests.ConnectionError:
    """The error requests raises when nothing listens (nothing was sent)."""
    connection = urllib3.connection.HTTPConnection("127.0.0.1", 9)
    reason = urllib3.exceptions.NewConnectionError(
        connection, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    pool = urllib3.HTTPConnectionPool("127.0.0.1", 9)
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(pool, url, reason))


def read_timeout() -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='mvsep.com'): Read timed out.")


def connect_timeout() -> requests.exceptions.ConnectTimeout:
    return requests.exceptions.ConnectTimeout("connect timed out")

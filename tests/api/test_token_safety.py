"""The token never shows: not in errors, reprs, tracebacks with locals, nor DEBUG logs.

The last tests talk to a real HTTP server on 127.0.0.1, because urllib3 only logs request lines
when it really sends them.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
import urllib3.connection

from mvsepd.api import MvsepClient, Transport
from mvsepd.api.redaction import WireToken, redact_url
from mvsepd.errors import InputError, MvsepdError, NetworkError
from mvsepd.models import ResultFile, Secret
from tests.api.conftest import Sleeps
from tests.api.scripted import (
    TOKEN,
    Recorded,
    Reply,
    ScriptedAdapter,
    parse_multipart,
    read_timeout,
)

HASH = "20240119124024-413c481b80-song.wav"


def leaks(text: str) -> bool:
    return TOKEN in text or TOKEN[:12] in text


def assert_hidden(error: BaseException, *, with_locals: bool = True) -> None:
    """Check the error's texts, its traceback, and the locals of every mvsepd frame in it (as
    structlog's dict tracebacks would show them). A server that echoes the token puts it in the
    answer body, a local of the parser frames: those cases check everything but the locals."""
    texts = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        *map(str, error.args),
    ]
    texts += list(getattr(error, "messages", ()))
    if with_locals:
        trace = traceback.TracebackException.from_exception(error, capture_locals=True)
        frames = [frame for frame in trace.stack if "/mvsepd/" in frame.filename]
        assert frames
        texts += [repr(frame.locals) for frame in frames]
    for text in texts:
        assert not leaks(text), text
    assert error.__cause__ is None


def refused_with_url(request: Recorded) -> Reply:
    """requests' real ConnectionError text names the URL, query string included."""
    pool = urllib3.HTTPConnectionPool("mvsep.com", 443)
    reason = urllib3.exceptions.NewConnectionError(
        urllib3.connection.HTTPConnection("mvsep.com", 443), "[Errno 111] Connection refused"
    )
    path = urlsplit(request.url).path + "?" + urlsplit(request.url).query
    return Reply(
        error=requests.ConnectionError(urllib3.exceptions.MaxRetryError(pool, path, reason))
    )


Answer = Reply | Callable[[Recorded], Reply]
Call = Callable[[MvsepClient], object]
HTML = {"Content-Type": "text/html"}
TEXT = {"Content-Type": "text/plain", "Retry-After": "99"}


def failure(method: str, path: str, answer: Answer, call: Call, *, echo: bool = False) -> object:
    return pytest.param(
        method, path, answer, call, echo, id=f"{method} {path}{' echo' if echo else ''}"
    )


FAILURES = [
    failure("GET", "/api/app/user", refused_with_url, lambda c: c.user()),
    failure(
        "GET",
        "/api/app/separation_history",
        Reply(error=read_timeout()),
        lambda c: c.separation_history(),
    ),
    failure(
        "GET", "/api/app/user", Reply(401, {"message": "Unauthenticated."}), lambda c: c.user()
    ),
    failure(
        "GET", "/api/app/queue", Reply(502, "<html>Bad Gateway</html>", HTML), lambda c: c.queue()
    ),
    failure(
        "GET",
        "/api/separation/get",
        Reply(200, {"success": False, "data": {"message": "Invalid API key"}}),
        lambda c: c.get_separation(HASH, mirror=True),
    ),
    failure(
        "GET",
        "/api/app/user",
        Reply(401, {"message": f"Token {TOKEN} is invalid"}),
        lambda c: c.user(),
        echo=True,
    ),
    failure(
        "GET",
        "/api/app/queue",
        Reply(500, f"<html><title>Error for api_token={TOKEN}</title></html>", HTML),
        lambda c: c.queue(),
        echo=True,
    ),
    failure(
        "POST",
        "/api/app/enable_premium",
        Reply(400, {"success": False, "errors": [f"api_token={TOKEN} rejected"]}),
        lambda c: c.enable_premium(),
        echo=True,
    ),
    failure(
        "POST",
        "/api/separation/cancel",
        Reply(429, f"slow down {TOKEN}", TEXT),
        lambda c: c.cancel_separation(HASH),
        echo=True,
    ),
]


@pytest.mark.parametrize(("method", "path", "answer", "call", "echo"), FAILURES)
def test_errors_never_carry_the_token(
    client: MvsepClient,
    adapter: ScriptedAdapter,
    method: str,
    path: str,
    answer: Answer,
    call: Call,
    echo: bool,
) -> None:
    adapter.add(method, path, answer)
    with pytest.raises(MvsepdError) as caught:
        call(client)
    assert_hidden(caught.value, with_locals=not echo)


def test_a_lost_create_and_a_refused_create_do_not_show_the_token(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF" + bytes(100))
    adapter.add(
        "POST",
        "/api/separation/create",
        Reply(error=read_timeout()),
        Reply(400, {"success": False, "errors": ["You already have unprocessed file in queue."]}),
    )
    for _ in range(2):
        with pytest.raises(MvsepdError) as caught:
            client.create_separation(audio, sep_type=20, options={"add_opt1": "1"})
        assert_hidden(caught.value)


def test_input_errors_do_not_show_the_token(client: MvsepClient, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        client.create_separation(tmp_path / "missing.wav", sep_type=20)
    assert_hidden(caught.value)


def test_reprs_hide_the_token(client: MvsepClient, transport: Transport) -> None:
    assert not leaks(repr(client))
    assert "https://mvsep.com" in repr(client)
    assert not leaks(repr(transport))
    token = WireToken(TOKEN)
    assert (repr(token), str(token), f"{token}") == ("'***'", "***", "***")
    assert not leaks(repr({"api_token": token})) and not leaks(repr([("api_token", token)]))
    assert token.encode() == TOKEN.encode()  # what requests and the encoder put on the wire


def test_token_is_taken_from_a_secret_and_stripped(
    transport: Transport, adapter: ScriptedAdapter
) -> None:
    adapter.add(
        "GET", "/api/app/user", Reply(body={"success": True, "data": {"premium_minutes": 1}})
    )
    MvsepClient(Secret(f"  {TOKEN}\n"), transport=transport).user()
    assert adapter.requests[0].query["api_token"] == TOKEN


def test_redact_url_hides_query_tokens() -> None:
    url = f"https://mvsep.com/api/app/user?api_token={TOKEN}&start=1"
    assert redact_url(url) == "https://mvsep.com/api/app/user?api_token=***&start=1"


# -- real HTTP on loopback -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        pass

    def _answer(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.seen.append({"method": "GET", "path": url.path, "token": query.get("api_token")})
        if url.path == "/api/app/user":
            self._answer(401, {"message": "Unauthenticated."})
        elif url.path == "/api/separation/get":
            self._answer(200, {"success": True, "status": "waiting", "data": {}})
        elif url.path.startswith("/storage/"):
            self.send_response(200)
            self.send_header("Content-Type", "audio/flac")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"fLaC")
        else:
            self._answer(200, {"success": True, "data": [], "queue": {}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/"):
            fields = {p.name: p.content for p in parse_multipart(body, content_type)}
            token = fields.get("api_token", b"").decode()
            size = len(fields.get("audiofile", b""))
        else:
            token = parse_qs(body.decode()).get("api_token", [""])[-1]
            size = 0
        self.seen.append({"method": "POST", "path": self.path, "token": token, "size": size})
        self._answer(200, {"success": True, "message": "ok", "data": {"hash": HASH}})


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Handler,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_debug_logs_of_real_requests_never_show_the_token(
    server: tuple[str, list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
    sleeps: Sleeps,
    tmp_path: Path,
) -> None:
    base, seen = server
    caplog.set_level(logging.DEBUG)
    # As `log_level: debug` has it (an earlier test's logging set-up may have left urllib3 at
    # WARNING, which would hide the very lines this test reads).
    caplog.set_level(logging.DEBUG, logger="urllib3")
    audio = tmp_path / "big.wav"
    audio.write_bytes(b"RIFF" + bytes(3 * 1024 * 1024))
    with Transport(sleep=sleeps, retries=1) as transport:
        client = MvsepClient(TOKEN, base, transport=transport)
        with pytest.raises(MvsepdError) as unauthorised:
            client.user()
        client.separation_history()
        client.queue()
        client.get_separation(HASH, mirror=True)
        client.get_separation(HASH)
        client.enable_premium()
        client.create_separation(audio, sep_type=20)
        client.download_result(ResultFile("Vocals", f"{base}/storage/x.flac"), tmp_path / "x.flac")
        offline = MvsepClient(TOKEN, f"http://127.0.0.1:{closed_port()}", transport=transport)
        with pytest.raises(NetworkError) as refused:
            offline.user()

    assert_hidden(unauthorised.value)
    assert_hidden(refused.value)
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/api/app/user?api_token=***" in line for line in urllib3_lines), urllib3_lines
    for record in caplog.records:
        assert not leaks(record.getMessage()), record.getMessage()
    assert not leaks(caplog.text)
    # ... while the server got the real token wherever one belongs, and the whole upload:
    tokens = {(entry["method"], entry["path"].split("?")[0]): entry["token"] for entry in seen}
    assert tokens[("GET", "/api/app/user")] == TOKEN
    assert tokens[("GET", "/api/separation/get")] is None
    assert tokens[("POST", "/api/app/enable_premium")] == TOKEN
    assert tokens[("POST", "/api/separation/create")] == TOKEN
    assert tokens[("GET", "/storage/x.flac")] is None
    assert [e["size"] for e in seen if e["path"] == "/api/separation/create"] == [
        audio.stat().st_size
    ]

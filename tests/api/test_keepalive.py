"""The keep-alive race over a real socket: MVSEP's server closes an idle kept-alive connection
just as the client's next request goes out on it.

A small HTTP server on 127.0.0.1 plays the part exactly: it answers the first request of a
connection with ``Connection: Keep-Alive`` and closes that connection when the next request
arrives, without answering. A poll must then be sent again at once on a new connection, and a
create must never meet the race at all: it goes on a connection opened for it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mvsepd.api import MvsepClient, Transport

HASH = "20240119124024-413c481b80-song.wav"
WAITING = {"success": True, "status": "waiting", "data": {"queue_count": 3, "current_order": 2}}
CREATED = {"success": True, "data": {"hash": HASH, "link": "http://x/api/separation/get"}}


@dataclass
class ClosingServer:
    """Answers one request per connection, then closes the connection at the next one."""

    sock: socket.socket = field(default_factory=socket.socket)
    #: (connection number, request line) of every request that arrived, answered or not.
    seen: list[tuple[int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self) -> None:
        connections = 0
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            connections += 1
            threading.Thread(target=self._one, args=(connection, connections)).start()

    def _one(self, connection: socket.socket, number: int) -> None:
        with connection:
            connection.settimeout(5)
            stream = connection.makefile("rb")
            first = True
            while True:
                line = stream.readline()
                if not line:
                    return
                self.seen.append((number, line.decode("latin-1").strip()))
                length = 0
                while (header := stream.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if not first:
                    return  # closed as the request arrived: no answer at all
                stream.read(length)
                body = json.dumps(CREATED if line.startswith(b"POST") else WAITING).encode()
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: Keep-Alive\r\nKeep-Alive: timeout=5, max=100\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                first = False


@pytest.fixture
def closing_server() -> Iterator[ClosingServer]:
    server = ClosingServer()
    server.sock.bind(("127.0.0.1", 0))
    server.sock.listen()
    thread = threading.Thread(target=server.serve)
    thread.start()
    yield server
    server.stop.set()
    thread.join(timeout=5)
    server.sock.close()


def test_a_poll_on_a_connection_the_server_just_closed_is_sent_again_at_once(
    closing_server: ClosingServer,
) -> None:
    sleeps: list[float] = []
    with MvsepClient(
        "t" * 30, server=closing_server.url, transport=Transport(sleep=sleeps.append)
    ) as client:
        assert client.get_separation(HASH).current_order == 2  # connection 1, kept alive
        assert client.get_separation(HASH).current_order == 2  # 1 closes; again on 2
    polls = [number for number, line in closing_server.seen]
    assert polls == [1, 1, 2]
    assert sleeps == [0.0]


def test_a_create_goes_on_a_connection_opened_for_it(
    closing_server: ClosingServer, tmp_path: Path
) -> None:
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"RIFF" + bytes(4000))
    with MvsepClient(
        "t" * 30, server=closing_server.url, transport=Transport(sleep=lambda s: None)
    ) as client:
        client.get_separation(HASH)  # leaves connection 1 idle in the pool
        created = client.create_separation(audio, sep_type=20)
        client.create_separation(audio, sep_type=20)
    assert created.hash == HASH
    creates = [number for number, line in closing_server.seen if line.startswith("POST")]
    assert creates == [2, 3]  # each on a new connection, none on the idle one

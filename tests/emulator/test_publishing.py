"""A finished job publishes its stems as MVSEP does: ``done`` with ``files: []`` first, then
every record with an empty address, filled one by one; the ``slow_publish`` fault makes it take
minutes. And the connections: kept alive like MVSEP's Apache, closed after the idle timeout."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import requests

from mvsepd.emulator import EmulatorServer, ManualClock
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, create, get, wait_status


def _done(server: EmulatorServer, token: str, audio: Path) -> str:
    job_hash = str(create(server, token, audio).json()["data"]["hash"])
    wait_status(server, job_hash, "done")
    return job_hash


def test_a_done_job_lists_no_files_then_empty_addresses_filled_one_by_one(
    make_server: ServerFactory, clock: ManualClock, audio: Path
) -> None:
    server = make_server(publish_seconds=10.0, publish_jitter=0.0)
    token = server.add_account(plan="premium", credits=100).token
    job_hash = _done(server, token, audio)  # sep_type 48: two stems, so shares of 10/3 s
    seen: list[list[bool]] = []
    for _ in range(9):
        body = get(server, job_hash)
        assert body["status"] == "done"
        addresses = [bool(item["url"]) for item in body["data"]["files"]]
        if not seen or seen[-1] != addresses:
            seen.append(addresses)
        clock.advance(1.25)
    # None listed for the first third, then both without addresses, then one, then both.
    assert seen == [[], [False, False], [True, False], [True, True]]
    final = get(server, job_hash)["data"]["files"]
    for item in final:
        assert requests.get(item["url"], timeout=10).status_code == 200


def test_the_slow_publish_fault_makes_publishing_last_minutes(
    make_server: ServerFactory, clock: ManualClock, audio: Path
) -> None:
    server = make_server(publish_seconds=0.0)
    token = server.add_account(plan="premium", credits=100).token
    server.faults.set("slow_publish", delay_seconds=240.0, count=1)
    slow = _done(server, token, audio)
    quick = _done(server, token, audio)
    assert get(server, quick)["data"]["files"]  # the fault struck the first job only
    clock.advance(200)
    assert not all(item["url"] for item in get(server, slow)["data"]["files"])
    clock.advance(41)
    assert all(item["url"] for item in get(server, slow)["data"]["files"])


def _raw_request(connection: socket.socket, path: str) -> bytes:
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head


def test_connections_are_kept_alive_and_closed_after_the_idle_timeout(
    make_server: ServerFactory,
) -> None:
    server = make_server(keepalive_seconds=0.5, keepalive_max_requests=3)
    with socket.create_connection((server.host, server.port), timeout=5) as connection:
        first = _raw_request(connection, "/api/app/news")
        assert b"Connection: Keep-Alive" in first and b"Keep-Alive: timeout=0.5, max=3" in first
        assert b"Keep-Alive" in _raw_request(connection, "/api/app/news")  # same connection
        time.sleep(1.0)
        # Idle past the timeout: the server has closed its end (EOF, or a reset on send).
        try:
            connection.sendall(b"GET /api/app/news HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            pass


def test_a_connection_carries_at_most_max_requests(make_server: ServerFactory) -> None:
    server = make_server(keepalive_seconds=5.0, keepalive_max_requests=2)
    with socket.create_connection((server.host, server.port), timeout=5) as connection:
        assert b"Connection: Keep-Alive" in _raw_request(connection, "/api/app/news")
        assert b"Connection: close" in _raw_request(connection, "/api/app/news")
        assert connection.recv(100) == b""


def test_a_pooled_client_reuses_one_connection_for_uploads_and_polls(
    make_server: ServerFactory, audio: Path
) -> None:
    server = make_server()
    token = server.add_account(plan="premium", credits=100).token
    session = requests.Session()
    with audio.open("rb") as handle:
        created = session.post(
            api(server, "separation/create"),
            data={"api_token": token, "sep_type": "48", "output_format": "1"},
            files={"audiofile": (audio.name, handle)},
            timeout=30,
        )
    created.raise_for_status()
    ports = set()
    for _ in range(3):
        answer = session.get(
            api(server, "separation/get"),
            params={"hash": created.json()["data"]["hash"]},
            stream=True,
            timeout=30,
        )
        connection = answer.raw.connection
        assert connection is not None and connection.sock is not None
        ports.add(connection.sock.getsockname()[1])
        answer.content  # noqa: B018 (read the body so the connection returns to the pool)
    assert len(ports) == 1
    session.close()

"""A studio host started before its database: it waits, says why, and starts once it answers.

After a power cut the whole studio boots at once and the database's machine is often the
slowest; a service manager's restarts give up after a few quick failures, so a host that
exited would stay down until somebody noticed. Here one real ``mvsepd run`` starts against a
PostgreSQL that is not running yet, under a fake service manager's notify socket.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.invariants import problems_after_run
from tests.integration.support import wait_until
from tests.service.support import notify_receiver
from tests.studio.hosts import Studio, studio_emulator
from tests.studio.pgserver import PostgresServer


@pytest.fixture
def late_database(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """A cluster of its own, initialised but not started (the session's stays up)."""
    server = PostgresServer(postgres_server.binaries)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    with notify_receiver(timeout=0.2) as found:
        yield found


def _received(receiver: socket.socket) -> list[str]:
    messages: list[str] = []
    while True:
        try:
            messages.append(receiver.recv(65536).decode())
        except TimeoutError:
            return messages


@pytest.mark.timeout(300)
def test_a_host_started_before_its_database_waits_and_then_works(
    tmp_path: Path,
    late_database: PostgresServer,
    notify_socket: tuple[socket.socket, str],
) -> None:
    receiver, socket_path = notify_socket
    with studio_emulator() as server:
        account = server.add_account(plan="free", credits=0)
        studio = Studio(tmp_path, server, account.token, late_database.dsn())
        try:
            host = studio.host("room-1")
            host.extra_environment["NOTIFY_SOCKET"] = socket_path
            studio.write(3, seed=5)  # exported while the studio was still booting
            process = studio.start("room-1")
            wait_until(
                lambda: "studio_database_unreachable_at_start" in studio.process_log(),
                30,
                message="the host saying it waits for the database",
            )
            status = subprocess.run(
                [sys.executable, "-m", "mvsepd", "status"],
                env=host.environment(), capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert status.returncode == 3, status.stderr
            assert "is starting and does not answer yet" in status.stderr
            time.sleep(4)  # a few more tries, each refused
            assert process.poll() is None, "the host gave up instead of waiting"
            waiting = _received(receiver)
            assert any("STATUS=waiting for the studio database" in m for m in waiting), waiting
            # The service manager is asked for more start time, so it does not kill the wait.
            assert any("EXTEND_TIMEOUT_USEC=" in m for m in waiting), waiting
            assert not any("READY=1" in m for m in waiting), "ready before it could work"

            late_database.start()
            studio.wait_finished(timeout=120)
            assert any("READY=1" in m for m in _received(receiver))
            studio.stop_all()
        finally:
            studio.stop_all()
        distinct = {item.sha256 for item in studio.written}
        assert server.state.create_count(account.token) == len(distinct)
        assert problems_after_run(studio.setup(), studio.written, studio.observer) == []
    log = studio.process_log()
    # One reason (no server on the socket), said once however many tries it took.
    assert log.count('"studio_database_unreachable_at_start"') == 1, log[-3000:]
    assert log.count('"studio_database_reached"') == 1

"""The sd_notify sender: datagrams to the path or abstract socket in NOTIFY_SOCKET, watchdog pings
at half of WATCHDOG_USEC (only for the process it names), and nothing at all outside systemd."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.process.sdnotify import Notifier
from tests.service.support import notify_receiver

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="sd_notify is Unix-only")


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    with notify_receiver(timeout=2) as found:
        yield found


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert notifier.ready("0 active") is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False


def test_ready_status_and_stopping_reach_the_socket(
    listener: tuple[socket.socket, str],
) -> None:
    receiver, path = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.ready("1 active, 0 waiting")
    assert receiver.recv(4096) == b"READY=1\nSTATUS=1 active, 0 waiting"
    assert notifier.status("2 active")
    assert receiver.recv(4096) == b"STATUS=2 active"
    assert notifier.stopping()
    assert receiver.recv(4096) == b"STOPPING=1"


def test_watchdog_pings_at_half_the_interval(listener: tuple[socket.socket, str]) -> None:
    receiver, path = listener
    clock = Clock()
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000000"}, clock=clock)
    assert notifier.watchdog_interval == 30
    assert notifier.watchdog()
    assert receiver.recv(4096) == b"WATCHDOG=1"
    # The engine sleeps up to one interval between calls: a call a little early (90 % of
    # it) pings, or a wake-up a hair short would push the ping to 60 s, the kill limit.
    clock.now += 26
    assert not notifier.watchdog()
    clock.now += 1
    assert notifier.watchdog()
    assert receiver.recv(4096) == b"WATCHDOG=1"


def test_a_watchdog_meant_for_another_process_is_ignored(
    listener: tuple[socket.socket, str],
) -> None:
    _receiver, path = listener
    environment = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    assert Notifier({**environment, "WATCHDOG_PID": str(os.getpid() + 1)}).watchdog() is False
    assert Notifier({**environment, "WATCHDOG_PID": str(os.getpid())}).watchdog() is True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux's")
def test_abstract_namespace_socket() -> None:
    name = f"mvsepd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert receiver.recv(4096) == b"READY=1"


def test_a_manager_that_went_away_is_not_an_error(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert notifier.ready() is False


def test_a_manager_that_stops_reading_never_stalls_the_sender(
    listener: tuple[socket.socket, str],
) -> None:
    # Nobody reads the socket: once its queue is full, messages are dropped, not waited on
    # (the engine sends STATUS from its own thread; a blocked send stopped every job).
    _receiver, path = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    results = [notifier.status(f"{index} active, 0 waiting") for index in range(5000)]
    assert results[0] is True
    assert results[-1] is False

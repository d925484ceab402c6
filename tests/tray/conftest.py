"""The tray tests use the status API tests' daemon and emulator fixtures, and a desktop
(``desktop``): an X server, a tray host, a session D-Bus."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from mvsepd.tray.choice import x11_tray_host_present

# Imported so that pytest finds them here too (fixtures are looked up by conftest location).
from tests.statusapi.conftest import MakeHarness, harness, make_harness, user_paths
from tests.statusapi.harness import Harness, wait_until
from tests.tray.desktop import (
    BusService,
    start_session_bus,
    start_trayer,
    start_xvfb,
)

__all__ = ["harness", "make_harness", "user_paths"]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A fresh X server for the module's tests."""
    server, name = start_xvfb()
    yield name
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def tray_host(display: str) -> Iterator[subprocess.Popen[bytes]]:
    """trayer, a system tray host (XEmbed), docked at the top right of the screen."""
    host = start_trayer(display)
    wait_until(lambda: x11_tray_host_present(display), 10, "trayer to own the tray selection")
    yield host
    host.terminate()
    host.wait(timeout=10)
    wait_until(lambda: not x11_tray_host_present(display), 5, "the tray selection released")


@pytest.fixture
def session_bus() -> Iterator[str]:
    """A private session D-Bus; its address."""
    bus, address = start_session_bus()
    yield address
    bus.terminate()
    bus.communicate(timeout=10)  # also closes its pipe


@pytest.fixture
def notification_service(session_bus: str) -> Iterator[BusService]:
    """A stand-in desktop notification service; ``received()`` lists the notifications."""
    service = BusService("notification_service", session_bus)
    yield service
    service.stop()


@pytest.fixture
def status_notifier_host(session_bus: str) -> Iterator[BusService]:
    """A stand-in StatusNotifierItem host; ``received()`` lists the items that registered."""
    service = BusService("status_notifier_watcher", session_bus)
    yield service
    service.stop()


@pytest.fixture
def finished_take(make_harness: MakeHarness) -> tuple[Harness, str]:
    """A daemon whose emulator finishes jobs at once, and one take done: its stems folder."""
    harness = make_harness(queue_seconds=0.3, processing_seconds=0.3)
    harness.drop("Night Drive.wav")
    done = harness.wait_for_jobs(
        lambda jobs: bool(jobs) and jobs[0]["phase"] == "done", "Night Drive done"
    )
    return harness, str(done[0]["output_dir"])

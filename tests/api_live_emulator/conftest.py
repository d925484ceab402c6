"""Fixtures of the live-emulator API tests: a real emulator on 127.0.0.1 and real clients.

Each test gets ``make_server`` (an ``EmulatorServer`` on port 0 with zero timings, a
``ManualClock`` and its storage under the test's temporary folder; keyword arguments override
``EmulatorSettings``) and ``make_client`` (an ``MvsepClient`` pointed at ``server.url`` whose
``Transport`` never really sleeps: waits are recorded in ``sleeps``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mvsepd.api import MvsepClient, Transport
from mvsepd.emulator import EmulatorServer, EmulatorSettings, ManualClock
from tests.api_live_emulator.support import write_audio

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

FAST = EmulatorSettings(
    queue_seconds=0.0,
    processing_seconds=0.0,
    merging_seconds=0.0,
    tick_interval_seconds=0.02,
    publish_seconds=0.0,  # tests of publishing set their own
)

ServerFactory = Callable[..., EmulatorServer]
ClientFactory = Callable[..., MvsepClient]


class Sleeps(list[float]):
    """An injected sleep that records each delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_server(clock: ManualClock, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start emulators with ``FAST`` settings overridden by keyword arguments; stop them after."""
    servers: list[EmulatorServer] = []

    def factory(**overrides: Any) -> EmulatorServer:
        storage = tmp_path / f"emulator-{len(servers)}"
        storage.mkdir()
        settings = dataclasses.replace(FAST, storage_parent=str(storage), **overrides)
        server = EmulatorServer(settings, host="127.0.0.1", port=0, clock=clock)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: ServerFactory) -> EmulatorServer:
    return make_server()


@pytest.fixture
def make_client(
    request: pytest.FixtureRequest, clock: ManualClock, sleeps: Sleeps
) -> Iterator[ClientFactory]:
    """Build clients for a token (or None) on the ``server`` fixture, or ``on=`` another one.

    ``retries`` defaults to 0 so that a fault shows as the error the caller would get; tests of
    the retry policy pass more. The transport's clock is the emulator's, so that HTTP dates and
    Retry-After agree.
    """
    transports: list[Transport] = []

    def factory(
        token: str | None, *, retries: int = 0, on: EmulatorServer | None = None
    ) -> MvsepClient:
        # The default server is looked up only when needed: a test that builds its own server
        # with ``make_server`` must not start the default one as well.
        target = on if on is not None else request.getfixturevalue("server")
        transport = Transport(retries=retries, sleep=sleeps, clock=clock, timeout=(5, 30))
        transports.append(transport)
        return MvsepClient(token, server=target.url, transport=transport)

    yield factory
    for transport in transports:
        transport.close()


@pytest.fixture
def premium_token(server: EmulatorServer) -> str:
    """The token of a premium account with 100 credits."""
    return server.add_account(plan="premium", credits=100).token


@pytest.fixture
def premium(premium_token: str, make_client: ClientFactory) -> MvsepClient:
    """A client for the ``premium_token`` account."""
    return make_client(premium_token)


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    """One second of stereo audio, named like a real track."""
    return write_audio(tmp_path / "Luke's Theme - A Madman's Symphony.wav", 1.0)

"""Fixtures for the API tests: a client on a scripted adapter that never sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvsepd.api import MvsepClient, Transport
from tests.api.scripted import TOKEN, ScriptedAdapter


class Sleeps(list[float]):
    """An injected sleep that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def adapter() -> ScriptedAdapter:
    return ScriptedAdapter()


@pytest.fixture
def transport(adapter: ScriptedAdapter, sleeps: Sleeps) -> Iterator[Transport]:
    with Transport(sleep=sleeps, clock=lambda: 1_700_000_000.0) as transport:
        transport.mount("https://", adapter)
        transport.mount("http://", adapter)
        yield transport


@pytest.fixture
def client(transport: Transport) -> MvsepClient:
    return MvsepClient(TOKEN, transport=transport)

"""Every error class the MVSEP client raises, raised for real against the emulator by a client
that holds a recognisable token: none of their texts (message, repr, server words, arguments,
the formatted traceback, and the JSON traceback mvsepd logs) holds the token.

The texts are checked as raised, before any log redaction: redaction is the second line of
defence, never the first.
"""

from __future__ import annotations

import dataclasses
import socket
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from mvsepd.api import MvsepClient, Transport
from mvsepd.emulator import EmulatorServer, EmulatorSettings, ManualClock
from mvsepd.errors import (
    ConnectionClosedError,
    DownloadError,
    FileTooLargeError,
    InvalidRequestError,
    InvalidTokenError,
    MvsepError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    PremiumRequiredError,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    ServerError,
    UnsafeDownloadError,
)
from mvsepd.models import RemoteStatus
from tests.hostile.logs import capturing_logs
from tests.integration.support import wav_bytes
from tests.security.support import MARKER, recognisable_token

DEMUCS = 20
ENSEMBLE = 26  # premium only
CREATE = "/api/separation/create"
USER = "/api/app/user"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    settings = EmulatorSettings(
        publish_seconds=0.0,
        queue_seconds=60.0,  # a free job stays unfinished: the next create is "queue full"
        processing_seconds=0.0,
        rate_limit=False,
        free_max_upload_bytes=64 * 1024,
        tick_interval_seconds=0.02,
        storage_parent=str(tmp_path),
    )
    with EmulatorServer(settings, clock=ManualClock()) as emulator:
        yield emulator


def _client(server: EmulatorServer, token: str) -> MvsepClient:
    transport = Transport(retries=0, sleep=lambda seconds: None)
    return MvsepClient(token, server=server.url, transport=transport)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _texts(error: MvsepError) -> list[str]:
    """Every text of an error a user, a log or a traceback could show."""
    texts = [str(error), repr(error), error.detail, error.endpoint, *error.messages]
    texts += [str(argument) for argument in error.args]
    texts.append("".join(traceback.format_exception(error)))
    with capturing_logs("debug") as log:
        try:
            raise error
        except MvsepError:
            structlog.get_logger("mvsepd.test").exception("client_error")
    texts.append(log.getvalue())
    return texts


def test_no_client_error_carries_the_token(server: EmulatorServer, tmp_path: Path) -> None:
    free_token = recognisable_token(7)
    premium_token = recognisable_token(8)
    revoked_token = recognisable_token(9)
    server.add_account(token=free_token, plan="free")
    server.add_account(token=premium_token, plan="premium", credits=100)
    server.add_account(token=revoked_token, plan="premium", credits=100)
    server.invalidate_token(revoked_token)
    free, premium = _client(server, free_token), _client(server, premium_token)
    small = tmp_path / "small.wav"
    small.write_bytes(wav_bytes(0.2))
    large = tmp_path / "large.wav"
    large.write_bytes(wav_bytes(2.0))

    done = premium.create_separation(small, sep_type=DEMUCS)
    server.advance(61)
    assert server.state.wait_until_idle(timeout=20)
    server.tick()
    finished = premium.get_separation(done.hash)
    assert finished.status is RemoteStatus.DONE
    stem = finished.files[0]
    free.create_separation(small, sep_type=DEMUCS)  # holds the free plan's one slot

    def with_fault(fault: str, endpoint: str, call: Callable[[], object]) -> Callable[[], object]:
        def faulty() -> object:
            server.faults.set(fault, count=1, endpoints=[endpoint])
            try:
                return call()
            finally:
                server.faults.clear()

        return faulty

    calls: dict[type[MvsepError], Callable[[], object]] = {
        InvalidTokenError: _client(server, revoked_token).user,
        InvalidRequestError: lambda: premium.create_separation(small, sep_type=9999),
        QueueFullError: lambda: free.create_separation(small, sep_type=DEMUCS),
        PremiumRequiredError: lambda: _client(server, recognisable_token(10)).create_separation(
            small, sep_type=ENSEMBLE
        ),
        FileTooLargeError: lambda: _client(server, recognisable_token(11)).create_separation(
            large, sep_type=DEMUCS
        ),
        NotFoundError: lambda: premium.cancel_separation("20231114221320-0123456789-gone.wav"),
        RateLimitedError: with_fault("http_429", USER, premium.user),
        ServerError: with_fault("http_502", USER, premium.user),
        ConnectionClosedError: with_fault("drop_connection", USER, premium.user),
        NetworkError: lambda: MvsepClient(
            premium_token,
            server=f"http://127.0.0.1:{_closed_port()}",
            transport=Transport(retries=0),
        ).user(),
        OutcomeUnknownError: with_fault(
            "lost_response", CREATE, lambda: premium.create_separation(small, sep_type=DEMUCS)
        ),
        ProtocolError: with_fault("malformed_json", USER, premium.user),
        DownloadError: lambda: premium.download_result(
            stem, tmp_path / "stem.wav", expected_size=(stem.approximate_size or 0) * 3 + 1
        ),
        UnsafeDownloadError: lambda: premium.download_result(
            dataclasses.replace(stem, url="file:///etc/passwd"), tmp_path / "stem.wav"
        ),
    }
    for token in (recognisable_token(10), recognisable_token(11)):
        server.add_account(token=token, plan="free")
    tokens = [free_token, premium_token, revoked_token, recognisable_token(10)]
    tokens.append(recognisable_token(11))
    for expected, call in calls.items():
        with pytest.raises(MvsepError) as raised:
            call()
        assert type(raised.value) is expected, (expected, raised.value)
        for text in _texts(raised.value):
            assert MARKER not in text, (expected.__name__, text)
            for token in tokens:
                assert token not in text

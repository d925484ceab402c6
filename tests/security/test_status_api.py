"""The status API answers only its token's holders, and only on loopback.

A real daemon (in this process) serves the API over HTTP; requests go over raw ``http.client``
so that nothing adds a token by itself. Whether other addresses can reach the API is asked of
the kernel (the address its listening socket is bound to), not tried: tests connect to
loopback only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.config.file import parse_config
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.errors import ConfigError, InputError
from mvsepd.models import JobState
from mvsepd.statusapi import StatusApi, read_runtime_file
from tests.integration.support import (
    RunningDaemon,
    Setup,
    running_daemon,
    wait_until,
    write_wav,
)
from tests.security.support import status_request

#: Every route of the API (and some that are not), with the method each answers to.
ROUTES = [
    ("GET", "/v1/status"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs?all=1"),
    ("GET", "/v1/jobs/1"),
    ("GET", "/v1/events?timeout=0"),
    ("POST", "/v1/pause"),
    ("POST", "/v1/resume"),
    ("POST", "/v1/rescan"),
    ("POST", "/v1/jobs/1/retry"),
    ("POST", "/v1/jobs/1/cancel"),
    ("GET", "/v1/nothing-here"),
    ("GET", "/"),
    ("DELETE", "/v1/status"),
]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Setup, RunningDaemon]]:
    settings = EmulatorSettings(
        publish_seconds=0.3, queue_seconds=0.0, processing_seconds=0.1, rate_limit=False
    )
    with EmulatorServer(settings) as server:
        hot = tmp_path / "Exports" / "Vocals"
        hot.mkdir(parents=True)
        setup = Setup(tmp=tmp_path, server=server, token=server.add_account().token, hot=hot)
        write_wav(hot / "song.wav", 0.2)
        with running_daemon(setup) as running:
            wait_until(lambda: running.done(1), 30, message="a job to look at")
            yield setup, running


def test_requests_without_the_right_token_get_401_and_nothing_else(
    daemon: tuple[Setup, RunningDaemon],
) -> None:
    setup, running = daemon
    info = read_runtime_file(setup.paths.runtime_file)
    right = info.token.reveal()
    wrong_tokens = {
        "no token": {},
        "another token": {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
        "the token with a character more": {"Authorization": f"Bearer {right}x"},
        "the token cut short": {"X-Mvsepd-Token": right[:-1]},
        "an empty bearer": {"Authorization": "Bearer "},
        "the token as a password": {"Authorization": f"Basic {right}"},
    }
    for method, path in ROUTES:
        for label, headers in wrong_tokens.items():
            answer = status_request(info.host, info.port, path, method=method, headers=headers)
            assert answer.status == 401, (method, path, label)
            assert set(answer.json()) == {"error"}, (method, path, label, answer.body)
            assert "song" not in answer.body and setup.token not in answer.body
        # The token in the query string is not a way in either (it would end up in logs).
        separator = "&" if "?" in path else "?"
        answer = status_request(info.host, info.port, f"{path}{separator}token={right}")
        assert answer.status == 401
    # Nothing that was refused happened.
    assert not running.daemon.engine.paused
    assert running.store.jobs()[0].state is JobState.DONE
    # The right token, either way it may be given, is let in.
    for headers in ({"Authorization": f"Bearer {right}"}, {"X-Mvsepd-Token": right}):
        assert status_request(info.host, info.port, "/v1/status", headers=headers).status == 200


def test_the_api_listens_on_loopback_only(daemon: tuple[Setup, RunningDaemon]) -> None:
    setup, running = daemon
    info = read_runtime_file(setup.paths.runtime_file)
    assert info.host == "127.0.0.1"
    status_api = running.daemon.status_api
    assert status_api is not None
    # Bound to 127.0.0.1, not to 0.0.0.0 or an interface: no other address of this machine (or
    # any other) reaches it.
    assert status_api.listening_on == ("127.0.0.1", info.port)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.2", "mvsep.example"])  # noqa: S104
def test_a_non_loopback_address_needs_allow_remote_status(host: str, tmp_path: Path) -> None:
    text = f'daemon: {{status_host: "{host}"}}\n'
    with pytest.raises(ConfigError, match="is not a loopback address"):
        parse_config(text, "config.yaml")
    allowed = parse_config(f'daemon: {{status_host: "{host}", allow_remote_status: true}}\n')
    assert allowed.daemon.allow_remote_status
    # The server itself refuses as well, should a caller skip the configuration's check.
    with pytest.raises(InputError, match="allow_remote_status"):
        StatusApi(None, runtime_file=tmp_path / "statusapi.json", host=host)  # type: ignore[arg-type]  # refused before the engine is used

"""The status API answers only its token's holders, and only on loopback.

A real daemon (in this process) serves the API over HTTP; requests go over raw ``http.client``
so that nothing adds a token by itself. The reachability check connects to this machine's own
non-loopback addresses (nothing leaves the machine) and expects the connection to be refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import secrets
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.configfile import parse_config
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
_SIOCGIFADDR = 0x8915  # Linux: the IPv4 address of a network interface


def own_addresses() -> list[str]:
    """This machine's non-loopback addresses (IPv4 from its interfaces, IPv6 from the kernel)."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:
                continue  # an interface without an IPv4 address
            found.append(socket.inet_ntoa(answer[20:24]))
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            found.append(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    return [
        address
        for address in found
        if not (ip := ipaddress.ip_address(address)).is_loopback and not ip.is_link_local
    ]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Setup, RunningDaemon]]:
    settings = EmulatorSettings(queue_seconds=0.0, processing_seconds=0.1, rate_limit=False)
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
    setup, _ = daemon
    info = read_runtime_file(setup.paths.runtime_file)
    assert info.host == "127.0.0.1"
    addresses = own_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address to try the status API's port on")
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as attempt:
            attempt.settimeout(5)
            with pytest.raises(ConnectionRefusedError):
                attempt.connect((address, info.port))


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

"""The admin API (``/__emulator/``) and the command line as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.emulator.cli import main, parse_account, parse_fault
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, create, get

ROOT = Path(__file__).resolve().parents[2]


def admin(server: EmulatorServer, path: str) -> str:
    return f"{server.url}/__emulator/{path}"


def test_admin_state_accounts_faults_and_advance(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(queue_seconds=100.0)
    added = requests.post(
        admin(server, "accounts"), json={"plan": "premium", "credits": 12}, timeout=10
    ).json()
    token = added["token"]
    assert create(server, token, audio).status_code == 200

    state = requests.get(admin(server, "state"), timeout=10).json()
    assert state["create_counts"] == {token: 1}
    assert state["total_creates"] == 1
    assert state["credits"][token] == 11
    assert state["jobs"][0]["status"] == "waiting"
    assert state["jobs"][0]["sep_type"] == 48

    armed = requests.post(
        admin(server, "faults"),
        json={"name": "http_503", "endpoints": ["/api/app/news"], "count": 1},
        timeout=10,
    )
    assert armed.json() == {"ok": True}
    assert requests.get(api(server, "app/news"), timeout=10).status_code == 503
    assert requests.get(api(server, "app/news"), timeout=10).status_code == 200
    requests.post(admin(server, "faults"), json={"name": "http_502"}, timeout=10)
    requests.delete(admin(server, "faults"), timeout=10)
    assert requests.get(api(server, "app/news"), timeout=10).status_code == 200
    bad = requests.post(admin(server, "faults"), json={"name": "nope"}, timeout=10)
    assert bad.status_code == 400

    moved = requests.post(admin(server, "advance"), json={"seconds": 100}, timeout=10).json()
    assert moved["ok"] is True
    assert get(server, state["jobs"][0]["hash"])["status"] in ("processing", "done")

    revoked = requests.post(admin(server, "revoke"), json={"token": token}, timeout=10)
    assert revoked.json() == {"ok": True}
    assert create(server, token, audio).status_code == 401


def test_admin_advance_needs_a_manual_clock(tmp_path: Path) -> None:
    settings = EmulatorSettings(storage_parent=str(tmp_path))
    with EmulatorServer(settings) as server:
        answer = requests.post(admin(server, "advance"), json={"seconds": 1}, timeout=10)
        assert answer.status_code == 409
        with pytest.raises(RuntimeError):
            server.advance(1.0)


def test_server_removes_its_storage_on_stop(tmp_path: Path) -> None:
    server = EmulatorServer(EmulatorSettings(storage_parent=str(tmp_path))).start()
    root = server.storage.root
    assert root.is_dir()
    server.stop()
    assert not root.exists()
    server.stop()  # idempotent


def test_account_and_fault_arguments() -> None:
    spec = parse_account("abc:premium:40")
    assert (spec.token, spec.plan, spec.credits) == ("abc", "premium", 40)
    assert parse_account("abc").plan == "free"
    assert parse_fault("http_503=0.25") == ("http_503", 0.25)
    assert parse_fault("slow") == ("slow", 1.0)


def test_cli_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2  # noqa: S104 - refused on purpose
    assert "--allow-remote" in capsys.readouterr().err


def test_python_m_emulator_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mvsepd.emulator",
            "--port",
            "0",
            "--account",
            "AbCdEfGhIjKlMnOpQrStUvWxYz0123:premium:25",
            "--fault",
            "http_503=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:")
        url = first.removeprefix("listening on ")
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        account = process.stdout.readline().strip()
        assert account == "account AbCdEfGhIjKlMnOpQrStUvWxYz0123 plan=premium credits=25"
        profile = requests.get(
            f"{url}/api/app/user",
            params={"api_token": "AbCdEfGhIjKlMnOpQrStUvWxYz0123"},
            timeout=10,
        ).json()
        assert profile["data"]["premium_minutes"] == 25
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        # communicate() drains and closes both pipes, so no file handle outlives the test.
        process.communicate(timeout=10)
    assert not list(tmp_path.glob("mvsepd-emulator-*"))  # storage removed


def test_cli_without_accounts_prints_one_free_token(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "mvsepd.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("listening on http://127.0.0.1:")
        words = process.stdout.readline().split()
        assert words[0] == "account"
        assert len(words[1]) == 30
        assert words[2:] == ["plan=free", "credits=0"]
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)

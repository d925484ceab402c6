"""Fault injection: every fault, endpoint targeting, one-shot counts and seeded rates."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from mvsepd.emulator import FAULT_NAMES, EmulatorServer
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, create, wait_status

NEWS = "/api/app/news"


def test_every_fault_name_is_known(server: EmulatorServer) -> None:
    assert set(FAULT_NAMES) == {
        "http_502",
        "http_503",
        "drop_connection",
        "slow",
        "malformed_json",
        "http_429",
        "invalid_token",
        "lost_response",
        "success_string",
        "job_failed",
        "slow_publish",
    }
    with pytest.raises(ValueError, match="unknown fault"):
        server.faults.set("gremlins")


def test_502_is_an_html_proxy_page(server: EmulatorServer) -> None:
    server.faults.set("http_502", endpoints=[NEWS])
    answer = requests.get(api(server, "app/news"), timeout=10)
    assert answer.status_code == 502
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in answer.text
    assert requests.get(api(server, "app/algorithms"), timeout=10).status_code == 200


def test_503_is_plain_text(server: EmulatorServer) -> None:
    server.faults.set("http_503")
    answer = requests.get(api(server, "app/news"), timeout=10)
    assert answer.status_code == 503
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text == "Service Unavailable"


def test_dropped_connection_is_a_connection_error(server: EmulatorServer) -> None:
    server.faults.set("drop_connection", count=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(api(server, "app/news"), timeout=10)
    assert requests.get(api(server, "app/news"), timeout=10).status_code == 200


def test_slow_answers_are_delayed(server: EmulatorServer) -> None:
    server.faults.set("slow", endpoints=[NEWS], delay_seconds=0.3)
    started = time.monotonic()
    assert requests.get(api(server, "app/news"), timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_slow_answers_trip_client_timeouts(server: EmulatorServer) -> None:
    server.faults.set("slow", delay_seconds=0.5, count=1)
    with pytest.raises(requests.Timeout):
        requests.get(api(server, "app/news"), timeout=0.1)


def test_malformed_json(server: EmulatorServer) -> None:
    server.faults.set("malformed_json", count=1)
    answer = requests.get(api(server, "app/news"), timeout=10)
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def test_injected_429(server: EmulatorServer) -> None:
    server.faults.set("http_429", count=1)
    answer = requests.get(api(server, "separation/get"), params={"hash": "x"}, timeout=10)
    assert answer.status_code == 429
    assert answer.json() == {"message": "Too Many Attempts."}
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["X-RateLimit-Limit"] == "60"


def test_token_turns_invalid(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account().token
    other = server.add_account().token
    server.faults.set("invalid_token", endpoints=["/api/app/user"], count=1)
    first = requests.get(api(server, "app/user"), params={"api_token": token}, timeout=10)
    assert first.status_code == 400
    assert first.json() == {"success": False, "data": {"message": "Invalid API key"}}
    later = create(server, token, audio)
    assert later.status_code == 401
    assert later.json() == {"success": False, "data": {"message": "Invalid API key"}}
    assert create(server, other, audio).status_code == 200


def test_lost_create_response_still_creates_and_charges(
    server: EmulatorServer, audio: Path
) -> None:
    token = server.add_account(plan="premium", credits=10).token
    server.faults.set("lost_response", count=1)
    with pytest.raises(requests.ConnectionError):
        create(server, token, audio)
    assert server.state.create_count(token) == 1
    assert server.state.credits(token) == 9
    (job,) = server.state.jobs()
    history = requests.get(
        api(server, "app/separation_history"), params={"api_token": token}, timeout=10
    ).json()["data"]
    assert history[0]["hash"] == job.hash  # how a client recovers the lost hash
    assert wait_status(server, job.hash, "done")["status"] == "done"


def test_success_as_a_string_on_create(server: EmulatorServer, audio: Path) -> None:
    server.faults.set("success_string")
    answer = create(server, server.add_account().token, audio)
    assert answer.status_code == 200
    assert answer.json()["success"] == "true"
    assert b'"success":"true"' in answer.content
    assert requests.get(api(server, "app/news"), timeout=10).json()  # other endpoints untouched


def test_faults_on_a_result_download(server: EmulatorServer, audio: Path) -> None:
    separation_hash = create(server, server.add_account().token, audio).json()["data"]["hash"]
    url = wait_status(server, separation_hash, "done")["data"]["files"][0]["url"]
    server.faults.set("drop_connection", endpoints=["/storage/"], count=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=10)
    assert requests.get(url, timeout=10).status_code == 200


def test_counted_faults_disarm_themselves(server: EmulatorServer) -> None:
    server.faults.set("http_503", count=2)
    codes = [requests.get(api(server, "app/news"), timeout=10).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]
    assert server.faults.armed() == []
    assert server.faults.fired()["http_503"] == 2


def test_clear_disarms(server: EmulatorServer) -> None:
    server.faults.set("http_503")
    server.faults.set("http_502")
    server.faults.clear("http_503")
    assert [f.name for f in server.faults.armed()] == ["http_502"]
    server.faults.clear()
    assert requests.get(api(server, "app/news"), timeout=10).status_code == 200


def test_rates_are_reproducible_with_the_seed(make_server: ServerFactory) -> None:
    def pattern(seed: int) -> list[int]:
        server = make_server(seed=seed, rate_limit=False)
        server.faults.set("http_503", 0.5)
        return [requests.get(api(server, "app/news"), timeout=10).status_code for _ in range(16)]

    first = pattern(7)
    assert first == pattern(7)
    assert 503 in first and 200 in first
    assert first != pattern(8)

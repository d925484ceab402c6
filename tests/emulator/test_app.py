"""``/api/app/*``: accounts stay consistent across register, login, user, toggles and queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from mvsepd.emulator import EmulatorServer
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, create, wait_status

PASSWORD = "correct horse"


def post(server: EmulatorServer, path: str, **fields: str) -> requests.Response:
    return requests.post(
        api(server, path), files={k: (None, v) for k, v in fields.items()}, timeout=10
    )


def user(server: EmulatorServer, token: str) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(
        api(server, "app/user"), params={"api_token": token}, timeout=10
    ).json()
    return body


def test_register_then_login_then_user(server: EmulatorServer) -> None:
    registered = post(
        server,
        "app/register",
        name="Ada",
        email="ada@example.com",
        password=PASSWORD,
        password_confirmation=PASSWORD,
    )
    assert registered.status_code == 200
    assert registered.headers["X-RateLimit-Limit"] == "60"
    assert registered.json() == {
        "success": True,
        "message": "Account verification email sent to ada@example.com",
    }
    login = post(server, "app/login", email="ada@example.com", password=PASSWORD)
    assert login.status_code == 200
    data = login.json()["data"]
    token = data["api_token"]
    assert len(token) == 30
    assert token.isalnum()
    assert data["name"] == "Ada"
    assert data["premium_minutes"] == 0
    assert data["premium_enabled"] == 0
    assert data["long_filenames_enabled"] == 0
    profile = user(server, token)
    assert profile["success"] is True
    assert {k: v for k, v in profile["data"].items() if k in data} == data
    assert profile["data"]["current_queue"] == 0
    assert profile["data"]["copy_metadata"] == 0


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({}, {"name", "email", "password"}),
        (
            {
                "name": "a",
                "email": "not-an-address",
                "password": "x" * 8,
                "password_confirmation": "x" * 8,
            },
            {"email"},
        ),
        ({"name": "a", "email": "b@example.com", "password": "short"}, {"password"}),
        ({"name": "a", "email": "b@example.com", "password": "x" * 8}, {"password"}),
    ],
)
def test_register_validation(
    server: EmulatorServer, fields: dict[str, str], problems: set[str]
) -> None:
    answer = post(server, "app/register", **fields)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert set(answer.json()["message"]) == problems


def test_register_refuses_a_taken_email(server: EmulatorServer) -> None:
    server.add_account(email="taken@example.com")
    answer = post(
        server,
        "app/register",
        name="b",
        email="taken@example.com",
        password=PASSWORD,
        password_confirmation=PASSWORD,
    )
    assert answer.json()["message"] == {"email": ["The email has already been taken."]}


def test_login_with_wrong_password_is_400(server: EmulatorServer) -> None:
    server.add_account(email="x@example.com", password=PASSWORD)
    answer = post(server, "app/login", email="x@example.com", password="wrong password")
    assert answer.status_code == 400
    assert answer.json()["success"] is False


def test_toggles_change_what_user_reports(server: EmulatorServer) -> None:
    token = server.add_account(plan="premium", credits=7).token
    assert user(server, token)["data"]["premium_enabled"] == 1
    answer = post(server, "app/disable_premium", api_token=token)
    assert answer.json() == {"success": True, "message": "successfully disabled"}
    assert answer.headers["X-RateLimit-Limit"] == "120"
    assert user(server, token)["data"]["premium_enabled"] == 0
    assert post(server, "app/enable_premium", api_token=token).json()["message"] == (
        "successfully enabled"
    )
    assert user(server, token)["data"]["premium_enabled"] == 1
    post(server, "app/enable_long_filenames", api_token=token)
    assert user(server, token)["data"]["long_filenames_enabled"] == 1
    urlencoded = requests.post(
        api(server, "app/disable_long_filenames"), data={"api_token": token}, timeout=10
    )
    assert urlencoded.json()["success"] is True
    assert user(server, token)["data"]["long_filenames_enabled"] == 0
    assert user(server, token)["data"]["premium_minutes"] == 7


def test_long_filenames_spell_out_algorithm_and_options(
    server: EmulatorServer, audio: Path
) -> None:
    token = server.add_account().token
    post(server, "app/enable_long_filenames", api_token=token)
    answer = create(server, token, audio, sep_type="48")
    done = wait_status(server, answer.json()["data"]["hash"], "done")["data"]
    names = sorted(item["download"] for item in done["files"])
    assert names[0].startswith(
        "luke-s-theme-a-madman-s-symphony_melband-roformer-vocals-instrumental_ver-2024-10"
    )
    assert names[0].endswith("_mt_4_other.wav")
    assert all(
        item["url"].endswith(f"_mt_4_{item['url'].rsplit('_', 1)[1]}") for item in done["files"]
    )


@pytest.mark.parametrize(
    "path",
    [
        "app/user",
        "app/separation_history",
    ],
)
def test_invalid_token_on_app_get_endpoints_is_400(server: EmulatorServer, path: str) -> None:
    answer = requests.get(api(server, path), params={"api_token": "nope"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"success": False, "data": {"message": "Invalid API key"}}


def test_invalid_token_on_toggles_is_400(server: EmulatorServer) -> None:
    answer = post(server, "app/enable_premium", api_token="nope")
    assert answer.status_code == 400
    assert answer.json()["success"] is False


def test_queue_with_and_without_token(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(queue_seconds=60.0)
    free = server.add_account().token
    premium = server.add_account(plan="premium", credits=10).token
    create(server, free, audio)
    create(server, premium, audio)
    anonymous = requests.get(api(server, "app/queue"), timeout=10).json()
    assert anonymous == {
        "queue": {"in_process": 0, "premium": 1, "registered": 1, "unregistered": 0}
    }
    as_free = requests.get(api(server, "app/queue"), params={"api_token": free}, timeout=10)
    assert as_free.json()["plan"] == {"plan": "registered", "queue": 1}
    as_premium = requests.get(api(server, "app/queue"), params={"api_token": premium}, timeout=10)
    assert as_premium.json()["plan"] == {"plan": "premium", "queue": 1}
    assert user(server, free)["data"]["current_queue"] == 1


def test_demo_lists_finished_demo_jobs(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account(plan="premium").token
    shown = create(server, token, audio, is_demo="1").json()["data"]["hash"]
    hidden = create(server, token, audio, sep_type="20").json()["data"]["hash"]
    wait_status(server, shown, "done")
    wait_status(server, hidden, "done")
    demo = requests.get(api(server, "app/demo"), params={"start": "0", "limit": "2"}, timeout=10)
    entries = demo.json()
    assert isinstance(entries, list)
    assert [entry["hash"] for entry in entries] == [shown]
    assert entries[0]["input_audio"].endswith(f"/storage/temp/{shown}")
    assert entries[0]["date"] == "2023-11-14 22:13"
    assert entries[0]["algorithm"]["render_id"] == 48


def test_news_filters_by_language_and_pages(server: EmulatorServer) -> None:
    english = requests.get(api(server, "app/news"), timeout=10).json()
    assert english and {item["lang"] for item in english} == {"en"}
    russian = requests.get(api(server, "app/news"), params={"lang": "ru"}, timeout=10).json()
    assert {item["lang"] for item in russian} == {"ru"}
    window = requests.get(
        api(server, "app/news"), params={"lang": "ru", "start": "2", "limit": "1"}, timeout=10
    ).json()
    assert window == [russian[2]]
    assert [item["id"] for item in english] == sorted((i["id"] for i in english), reverse=True)

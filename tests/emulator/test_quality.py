"""Quality Checker: add, entry, queue, leaderboard with sortables, delete with password."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import requests

from mvsepd.emulator import EmulatorServer
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api


def zip_bytes(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("song_001_vocals.wav", content)
    return buffer.getvalue()


def add(server: EmulatorServer, token: str, name: str, **fields: str) -> requests.Response:
    files: dict[str, Any] = {
        "api_token": (None, token),
        "zipfile": ("results.zip", zip_bytes(name.encode())),
        "algo_name": (None, name),
        "main_text": (None, f"{name} description"),
        "dataset_type": (None, "0"),
        "ensemble": (None, "0"),
        "password": (None, "secret"),
    }
    files.update({key: (None, value) for key, value in fields.items()})
    return requests.post(api(server, "quality_checker/add"), files=files, timeout=10)


def test_add_entry_queue_leaderboard_delete(server: EmulatorServer) -> None:
    token = server.add_account().token
    first = add(server, token, "MVSep Alpha")
    assert first.status_code == 200
    entry_id = first.json()["data"]["id"]
    assert first.json()["data"]["link"] == f"{server.url}/api/quality_checker/entry?id={entry_id}"
    add(server, token, "Other Beta")
    add(server, token, "Drums Gamma", dataset_type="2")

    entry = requests.get(first.json()["data"]["link"], timeout=10).json()
    assert entry["success"] is True
    data = entry["data"]
    assert data["id"] == entry_id
    assert data["proc"] == 1
    assert data["msg"] == "OK"
    assert isinstance(data["sdr_vocals"], float)
    assert set(data["metrics"]) == {"sdr_vocals", "sdr_instrum"}
    assert data["dataset_name"]

    queue = requests.get(api(server, "quality_checker/queue"), timeout=10).json()
    assert isinstance(queue, list)
    assert [item["algo_name"] for item in queue] == ["Drums Gamma", "Other Beta", "MVSep Alpha"]

    board = requests.get(api(server, "quality_checker/leaderboard"), timeout=10).json()
    assert set(board) == {"data", "dataset_type", "sortables", "sort"}
    assert board["sortables"] == ["sdr_vocals", "sdr_instrum"]
    assert board["sort"] == "sdr_vocals"
    assert {item["algo_name"] for item in board["data"]} == {"MVSep Alpha", "Other Beta"}
    scores = [item["sdr_vocals"] for item in board["data"]]
    assert scores == sorted(scores, reverse=True)
    filtered = requests.get(
        api(server, "quality_checker/leaderboard"),
        params={"algo_name_filter": "mvsep", "sort": "sdr_instrum"},
        timeout=10,
    ).json()
    assert [item["algo_name"] for item in filtered["data"]] == ["MVSep Alpha"]
    assert filtered["sort"] == "sdr_instrum"
    drums = requests.get(
        api(server, "quality_checker/leaderboard"), params={"dataset_type": "2"}, timeout=10
    ).json()
    assert drums["sortables"] == ["sdr_bass", "sdr_drums", "sdr_other", "sdr_vocals"]

    wrong = requests.post(
        api(server, "quality_checker/delete"), data={"id": entry_id, "password": "x"}, timeout=10
    )
    assert wrong.status_code == 400
    deleted = requests.post(
        api(server, "quality_checker/delete"),
        files={"id": (None, str(entry_id)), "password": (None, "secret")},
        timeout=10,
    )
    assert deleted.json() == {"success": True, "data": {"message": "successfully deleted"}}
    gone = requests.get(api(server, "quality_checker/entry"), params={"id": entry_id}, timeout=10)
    assert gone.status_code == 404
    assert gone.json()["success"] is False


def test_entries_are_processed_after_a_while(make_server: ServerFactory) -> None:
    server = make_server(qc_processing_seconds=600.0)
    entry_id = add(server, server.add_account().token, "Slow").json()["data"]["id"]
    pending = requests.get(
        api(server, "quality_checker/entry"), params={"id": entry_id}, timeout=10
    )
    assert pending.json()["data"]["proc"] == 0
    assert pending.json()["data"]["sdr_vocals"] is None
    server.advance(600.0)
    done = requests.get(api(server, "quality_checker/entry"), params={"id": entry_id}, timeout=10)
    assert done.json()["data"]["proc"] == 1


def test_add_needs_a_token_and_the_fields(server: EmulatorServer) -> None:
    unauthenticated = add(server, "nope", "X")
    assert unauthenticated.status_code == 401
    missing = requests.post(
        api(server, "quality_checker/add"),
        files={"api_token": (None, server.add_account().token)},
        timeout=10,
    )
    assert missing.status_code == 400
    assert set(missing.json()["message"]) == {"zipfile", "algo_name", "main_text", "password"}


def test_a_broken_archive_is_reported_not_ranked(server: EmulatorServer) -> None:
    token = server.add_account().token
    parts: dict[str, Any] = {
        "api_token": (None, token),
        "zipfile": ("results.zip", b"not a zip"),
        "algo_name": (None, "Broken"),
        "main_text": (None, "x"),
        "password": (None, "p"),
    }
    answer = requests.post(api(server, "quality_checker/add"), files=parts, timeout=10)
    entry_id = answer.json()["data"]["id"]
    entry = requests.get(api(server, "quality_checker/entry"), params={"id": entry_id}, timeout=10)
    assert entry.json()["data"]["msg"] != "OK"
    board = requests.get(api(server, "quality_checker/leaderboard"), timeout=10).json()
    assert board["data"] == []

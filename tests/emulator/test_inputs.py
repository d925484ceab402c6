"""The other ways in: URL creates with get-remote, matchering uploads, no-upload generators."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests
import soundfile

from mvsepd.emulator import EmulatorServer
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, create, wait_status, write_audio

SEPARATION_HASH = re.compile(r"^\d{14}-[0-9a-f]{10}-[a-z0-9-]+\.[a-z0-9]+$")


def get_remote(server: EmulatorServer, short_hash: str) -> dict[str, Any]:
    answer = requests.get(
        api(server, "separation/get-remote"), params={"hash": short_hash}, timeout=30
    )
    body: dict[str, Any] = answer.json()
    return body


def test_url_create_runs_the_three_stage_flow(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account().token
    # The emulator fetches loopback URLs for real: use its own static file server as the host.
    source = create(server, server.add_account().token, audio).json()["data"]["hash"]
    file_url = wait_status(server, source, "done")["data"]["input_file"]["url"]

    created = requests.post(
        api(server, "separation/create"),
        files={
            "api_token": (None, token),
            "url": (None, file_url),
            "remote_type": (None, "direct"),
            "sep_type": (None, "48"),
            "output_format": (None, "2"),
        },
        timeout=30,
    ).json()
    assert created["success"] is True
    short_hash = created["data"]["hash"]
    assert not SEPARATION_HASH.match(short_hash)
    assert created["data"]["link"].endswith(f"/api/separation/get-remote?hash={short_hash}")

    for _ in range(2):  # remote_download_polls
        assert get_remote(server, short_hash) == {
            "success": False,
            "data": {"message": "Your audio file is being downloaded, please wait a while..."},
        }
    relayed = get_remote(server, short_hash)
    assert relayed["success"] is True
    assert relayed["status"] in ("waiting", "processing", "done")
    assert server.state.wait_until_idle()
    done = get_remote(server, short_hash)
    assert done["status"] == "done"
    real_hash = done["data"]["hash"]
    assert SEPARATION_HASH.match(real_hash)
    assert done["data"]["link"].endswith(f"/api/separation/get?hash={real_hash}")
    result = wait_status(server, real_hash, "done")["data"]
    assert result["output_format"] == "flac (lossless, 16 bit)"
    assert real_hash.split("-", 2)[1] == source.split("-", 2)[1]  # same bytes, same md5 part


def test_url_create_counts_against_the_free_plan(make_server: ServerFactory) -> None:
    server = make_server()
    token = server.add_account().token
    fields = {"api_token": (None, token), "url": (None, "https://example.com/a.mp3")}
    fields["sep_type"] = (None, "48")
    first = requests.post(api(server, "separation/create"), files=fields, timeout=30)
    assert first.status_code == 200
    second = requests.post(api(server, "separation/create"), files=fields, timeout=30)
    assert second.status_code == 400
    assert second.json()["errors"][0].startswith("You already have unprocessed file in queue")


def test_url_that_cannot_be_reached_is_invented(server: EmulatorServer) -> None:
    token = server.add_account().token
    short_hash = requests.post(
        api(server, "separation/create"),
        data={
            "api_token": token,
            "url": "https://www.dropbox.com/s/abc/My%20Track.mp3?dl=0",
            "remote_type": "dropbox",
            "sep_type": "48",
        },
        timeout=30,
    ).json()["data"]["hash"]
    state: dict[str, Any] = {}
    for _ in range(10):
        state = get_remote(server, short_hash)
        if state.get("status") == "done":
            break
        server.state.wait_until_idle()
    assert state["status"] == "done"
    assert state["data"]["hash"].endswith("-my-track.wav")


def test_unknown_short_hash_is_not_found(server: EmulatorServer) -> None:
    assert get_remote(server, "n2AwBjy4KsFZfqqR")["status"] == "not_found"


def test_bad_remote_type_is_refused(server: EmulatorServer) -> None:
    answer = requests.post(
        api(server, "separation/create"),
        data={
            "api_token": server.add_account().token,
            "url": "https://example.com/a.mp3",
            "remote_type": "ftp",
            "sep_type": "48",
        },
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["success"] is False


def test_matchering_takes_target_and_reference(server: EmulatorServer, tmp_path: Path) -> None:
    token = server.add_account().token
    target = write_audio(tmp_path / "target.wav", 1.0, amplitude=0.1)
    reference = write_audio(tmp_path / "reference.wav", 1.0, amplitude=0.4)
    parts: dict[str, Any] = {
        "api_token": (None, token),
        "sep_type": (None, "68"),
        "output_format": (None, "1"),
        "target_audiofile": (target.name, target.read_bytes()),
        "reference_audiofile": (reference.name, reference.read_bytes()),
    }
    answer = requests.post(api(server, "separation/create"), files=parts, timeout=30)
    assert answer.status_code == 200, answer.text
    done = wait_status(server, answer.json()["data"]["hash"], "done")["data"]
    assert done["algorithm"] == "Matchering (by sergree)"
    assert [item["type"] for item in done["files"]] == ["Result"]
    mastered = requests.get(done["files"][0]["url"], timeout=30).content
    path = tmp_path / "mastered.wav"
    path.write_bytes(mastered)
    data, _ = soundfile.read(str(path))
    assert abs(abs(data).max() - 0.4) < 0.01  # brought to the reference's level


def test_matchering_without_reference_is_refused(server: EmulatorServer, audio: Path) -> None:
    parts: dict[str, Any] = {
        "api_token": (None, server.add_account().token),
        "sep_type": (None, "68"),
        "target_audiofile": (audio.name, audio.read_bytes()),
    }
    answer = requests.post(api(server, "separation/create"), files=parts, timeout=30)
    assert answer.status_code == 400
    assert answer.json() == {
        "success": False,
        "errors": ["The reference audiofile field is required."],
    }


def test_no_upload_model_takes_only_text(server: EmulatorServer) -> None:
    token = server.add_account().token
    answer = create(
        server, token, None, sep_type="62", add_opt1="warm analog synth pad", add_opt2="5"
    )
    assert answer.status_code == 200, answer.text
    separation_hash = answer.json()["data"]["hash"]
    assert separation_hash.endswith("-warm-analog-synth-pad.wav")
    done = wait_status(server, separation_hash, "done")["data"]
    assert done["input_file"] is None
    content = requests.get(done["files"][0]["url"], timeout=30).content
    assert len(content) > 5 * 44100 * 2 * 2  # five seconds of 16-bit stereo


def test_no_upload_model_requires_its_prompt(server: EmulatorServer) -> None:
    answer = create(server, server.add_account().token, None, sep_type="104", add_opt2="")
    assert answer.status_code == 400
    assert answer.json() == {"success": False, "errors": ["The add opt2 field is required."]}


def test_algorithm_scopes(server: EmulatorServer) -> None:
    def render_ids(scopes: str | None) -> set[int]:
        params = {} if scopes is None else {"scopes": scopes}
        answer = requests.get(api(server, "app/algorithms"), params=params, timeout=30)
        assert answer.headers["X-RateLimit-Limit"] == "60"
        return {entry["render_id"] for entry in answer.json()}

    single = render_ids(None)
    assert len(single) == 117
    assert render_ids("single_upload") == single
    assert render_ids("no_upload") == {62, 104, 115, 118, 119}
    assert render_ids("matchering_upload") == {68}
    assert len(render_ids("single_upload,no_upload,matchering_upload")) == 123

"""Plans and limits: concurrency, premium-only models, validation, size, credits, cancel, mirror."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, create, get, wait_status, write_audio

QUEUE_FULL = {
    "success": False,
    "errors": ["You already have unprocessed file in queue. Please wait before adding new file!"],
}


def test_free_plan_allows_one_unfinished_job(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(queue_seconds=30.0)
    token = server.add_account().token
    first = create(server, token, audio)
    assert first.status_code == 200
    second = create(server, token, audio)
    assert second.status_code == 400
    assert second.json() == QUEUE_FULL
    assert second.headers["Content-Type"] == "application/json"
    server.advance(30.0)
    wait_status(server, first.json()["data"]["hash"], "done")
    assert create(server, token, audio).status_code == 200
    assert server.state.create_count(token) == 2


def test_premium_allows_ten_unfinished_jobs(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(queue_seconds=30.0)
    short = write_audio(tmp_path / "s.wav", 0.1)
    token = server.add_account(plan="premium", credits=100).token
    for _ in range(10):
        assert create(server, token, short).status_code == 200
    eleventh = create(server, token, short)
    assert eleventh.status_code == 400
    assert eleventh.json() == QUEUE_FULL


def test_premium_concurrency_is_configurable(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(queue_seconds=30.0, premium_max_unfinished=2)
    short = write_audio(tmp_path / "s.wav", 0.1)
    token = server.add_account(plan="premium").token
    assert [create(server, token, short).status_code for _ in range(3)] == [200, 200, 400]


@pytest.mark.parametrize("sep_type", ["26", "28", "30"])
def test_ensembles_are_premium_only(server: EmulatorServer, audio: Path, sep_type: str) -> None:
    answer = create(server, server.add_account().token, audio, sep_type=sep_type)
    assert answer.status_code == 400
    assert answer.json() == {
        "success": False,
        "errors": ["Seperation type is unavailable until you purchase premium membership"],
    }
    premium = server.add_account(plan="premium", credits=100).token
    assert create(server, premium, audio, sep_type=sep_type).status_code == 200


@pytest.mark.parametrize("sep_type", ["9999", "", "abc", "35"])
def test_unknown_missing_or_inactive_sep_type(
    server: EmulatorServer, audio: Path, sep_type: str
) -> None:
    answer = create(server, server.add_account().token, audio, sep_type=sep_type)
    assert answer.status_code == 400
    assert answer.json() == {"success": False, "errors": ["Seperation type is not set"]}


def test_unknown_option_key_is_refused(server: EmulatorServer, audio: Path) -> None:
    answer = create(server, server.add_account().token, audio, sep_type="48", add_opt1="999")
    assert answer.status_code == 400
    assert answer.json() == {"success": False, "errors": ["The selected add opt1 is invalid."]}


def test_empty_options_mean_the_defaults(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account().token
    answer = create(server, token, audio, sep_type="40", add_opt1="", add_opt2="", add_opt3="")
    done = wait_status(server, answer.json()["data"]["hash"], "done")["data"]
    # BS Roformer's default model_type is "81": stems are named ..._mt_81_<stem>
    assert {item["download"].split("_mt_")[1] for item in done["files"]} == {
        "81_vocals.wav",
        "81_other.wav",
    }
    assert [item["type"] for item in done["files"]] == ["Vocals", "Other"]
    (job,) = server.state.jobs()
    assert job.options == {"add_opt1": "", "add_opt2": "", "add_opt3": ""}
    assert job.resolved_options == {"add_opt1": "81", "add_opt2": "2", "add_opt3": "0"}


def test_options_refine_the_outputs(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account().token
    answer = create(server, token, audio, sep_type="20", add_opt1="2")  # htdemucs_6s
    done = wait_status(server, answer.json()["data"]["hash"], "done")["data"]
    assert sorted(item["type"] for item in done["files"]) == [
        "Bass",
        "Drums",
        "Guitar",
        "Instrumental",
        "Other",
        "Piano",
        "Vocals",
    ]


def test_free_upload_size_limit(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(free_max_upload_bytes=50_000)
    answer = create(server, server.add_account().token, audio)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert "must not be greater than" in answer.json()["errors"][0]
    premium = server.add_account(plan="premium").token
    assert create(server, premium, audio).status_code == 200


def test_default_limits_match_mvsep() -> None:
    settings = EmulatorSettings()
    assert settings.free_max_upload_bytes == 100 * 1024 * 1024
    assert settings.premium_max_upload_bytes is None
    assert settings.free_max_unfinished == 1
    assert settings.premium_max_unfinished == 10
    assert settings.premium_only_sep_types == frozenset({26, 28, 30})


@pytest.mark.parametrize(
    ("sep_type", "options", "expected"),
    [
        ("40", {}, 2),  # floor(150 s × 1 / 60)
        ("40", {"add_opt2": "8"}, 5),  # 87.5 % overlap: price rule multiplier 2.0
        ("28", {}, 10),  # ensemble, price_coefficient 4
    ],
)
def test_credits_follow_the_price_formula(
    server: EmulatorServer, tmp_path: Path, sep_type: str, options: dict[str, str], expected: int
) -> None:
    long_clip = write_audio(tmp_path / "long.wav", 150.0, samplerate=8000, channels=1)
    token = server.add_account(plan="premium", credits=100).token
    answer = create(server, token, long_clip, sep_type=sep_type, **options)
    assert answer.status_code == 200
    assert server.state.credits(token) == 100 - expected
    assert server.state.jobs()[-1].credits == expected


def test_short_inputs_cost_at_least_one_credit(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account(plan="premium", credits=5).token
    create(server, token, audio)
    assert server.state.credits(token) == 4


def test_no_credits_spent_without_premium_enabled(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account(plan="premium", credits=5, premium_enabled=False).token
    create(server, token, audio)
    assert server.state.credits(token) == 5
    assert server.state.jobs()[-1].priority == "registered"


def test_cancel_refunds_a_waiting_job(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(queue_seconds=30.0)
    token = server.add_account(plan="premium", credits=10).token
    separation_hash = create(server, token, audio).json()["data"]["hash"]
    assert server.state.credits(token) == 9
    answer = requests.post(
        api(server, "separation/cancel"),
        files={"api_token": (None, token), "hash": (None, separation_hash)},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["success"] is True
    assert server.state.credits(token) == 10
    assert get(server, separation_hash)["status"] == "not_found"
    history = requests.get(
        api(server, "app/separation_history"), params={"api_token": token}, timeout=10
    ).json()["data"]
    assert history[0]["job_exists"] is False
    assert history[0]["credits"] is None


def test_cancel_of_a_running_job_is_refused(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(processing_seconds=60.0)
    token = server.add_account(plan="premium", credits=10).token
    separation_hash = create(server, token, audio).json()["data"]["hash"]
    assert get(server, separation_hash)["status"] == "processing"
    answer = requests.post(
        api(server, "separation/cancel"),
        data={"api_token": token, "hash": separation_hash},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert "cannot be cancelled" in answer.json()["data"]["message"]
    assert server.state.credits(token) == 9


def test_cancel_needs_the_owner(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(queue_seconds=30.0)
    owner = server.add_account().token
    stranger = server.add_account().token
    separation_hash = create(server, owner, audio).json()["data"]["hash"]
    answer = requests.post(
        api(server, "separation/cancel"),
        data={"api_token": stranger, "hash": separation_hash},
        timeout=10,
    )
    assert answer.status_code == 400
    assert get(server, separation_hash)["status"] == "waiting"


def test_delete_removes_the_results(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account().token
    separation_hash = create(server, token, audio).json()["data"]["hash"]
    done = wait_status(server, separation_hash, "done")["data"]
    answer = requests.post(
        api(server, "separation/delete"),
        data={"api_token": token, "hash": separation_hash},
        timeout=10,
    )
    assert answer.json() == {"success": True, "data": {"message": "successfully deleted"}}
    assert get(server, separation_hash)["status"] == "not_found"
    assert requests.get(done["files"][0]["url"], timeout=10).status_code == 404


def test_mirror_costs_one_credit_and_needs_a_token(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account(plan="premium", credits=3).token
    separation_hash = create(server, token, audio).json()["data"]["hash"]
    wait_status(server, separation_hash, "done")
    assert server.state.credits(token) == 2
    unauthenticated = requests.get(
        api(server, "separation/get"), params={"hash": separation_hash, "mirror": "1"}, timeout=10
    )
    assert unauthenticated.status_code == 401
    mirrored = get(server, separation_hash, mirror="1", api_token=token)
    assert mirrored["status"] == "done"
    assert server.state.credits(token) == 1
    get(server, separation_hash, mirror="1", api_token=token)
    assert server.state.credits(token) == 1  # one mirror copy per job
    broke = server.add_account(plan="premium").token
    refused = requests.get(
        api(server, "separation/get"),
        params={"hash": separation_hash, "mirror": "0"},
        timeout=10,
    )
    assert refused.status_code == 200  # mirror=0 is free for anyone
    other = create(server, broke, audio).json()["data"]["hash"]
    wait_status(server, other, "done")
    poor = requests.get(
        api(server, "separation/get"),
        params={"hash": other, "mirror": "1", "api_token": broke},
        timeout=10,
    )
    assert poor.status_code == 400
    assert poor.json()["success"] is False


def test_invalid_token_on_create_is_401(server: EmulatorServer, audio: Path) -> None:
    answer = create(server, "X" * 30, audio)
    assert answer.status_code == 401
    assert answer.json() == {"success": False, "data": {"message": "Invalid API key"}}


def test_missing_input_is_refused(server: EmulatorServer) -> None:
    answer = create(server, server.add_account().token, None)
    assert answer.status_code == 400
    assert answer.json()["errors"] == ["The audiofile field is required when url is not present."]


def test_urlencoded_create_and_bearer_header_ignored(server: EmulatorServer) -> None:
    token = server.add_account().token
    answer = requests.post(
        api(server, "separation/create"),
        data={"sep_type": "62", "add_opt1": "a short prompt", "add_opt2": "5"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 401  # the header is ignored, like the real server
    answer = requests.post(
        api(server, "separation/create"),
        data={"api_token": token, "sep_type": "62", "add_opt1": "a short prompt", "add_opt2": "5"},
        timeout=10,
    )
    assert answer.status_code == 200


def test_concurrent_creates_of_a_free_account_admit_exactly_one(
    make_server: ServerFactory, audio: Path
) -> None:
    server = make_server(queue_seconds=30.0)
    token = server.add_account().token
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(lambda _: create(server, token, audio).status_code, range(6)))
    assert codes == [200, 400, 400, 400, 400, 400]
    assert server.state.create_count(token) == 1
    assert list((server.storage.root / "uploads").iterdir()) == []  # refused uploads removed


def test_hash_carries_the_md5_of_the_uploaded_bytes(server: EmulatorServer, audio: Path) -> None:
    separation_hash = create(server, server.add_account().token, audio).json()["data"]["hash"]
    digest = hashlib.md5(audio.read_bytes(), usedforsecurity=False).hexdigest()[:10]
    assert separation_hash.split("-")[1] == digest
    served = requests.get(f"{server.url}/storage/temp/{separation_hash}", timeout=10).content
    assert served == audio.read_bytes()

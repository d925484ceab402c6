"""Job lifecycle on a manual clock: every status path, queue positions, history and expiry."""

from __future__ import annotations

from pathlib import Path

import requests

from mvsepd.emulator import ManualClock
from tests.emulator.conftest import START, ServerFactory
from tests.emulator.helpers import api, create, get, wait_status, write_audio

HOUR = 3600.0


def test_waiting_then_processing_then_done(
    make_server: ServerFactory, clock: ManualClock, audio: Path
) -> None:
    server = make_server(queue_seconds=10.0, processing_seconds=20.0)
    token = server.add_account().token
    separation_hash = create(server, token, audio).json()["data"]["hash"]

    assert get(server, separation_hash) == {
        "success": True,
        "status": "waiting",
        "data": {"queue_count": 1, "current_order": 1},
    }
    server.advance(10.0)
    processing = get(server, separation_hash)
    assert processing["success"] is True
    assert processing["status"] == "processing"
    assert isinstance(processing["data"]["message"], str)
    assert server.state.wait_until_idle()
    assert get(server, separation_hash)["status"] == "processing"  # 20 s have not passed
    server.advance(20.0)
    done = get(server, separation_hash)
    assert done["status"] == "done"
    assert set(done["data"]) == {
        "algorithm",
        "algorithm_description",
        "size",
        "output_format",
        "tags",
        "input_file",
        "files",
        "date",
        "hash",
    }
    assert done["data"]["date"] == "2023-11-14 22:13:20"
    assert done["data"]["hash"] == separation_hash
    assert separation_hash.startswith("20231114221320-")
    assert separation_hash.endswith("-luke-s-theme-a-madman-s-symphony.wav")
    assert done["data"]["input_file"]["download"] == (
        separation_hash.removesuffix(".wav") + "_[127.0.0.1].wav"
    )
    snapshot = server.state.job(separation_hash)
    assert snapshot is not None
    assert snapshot.started_at == START + 10.0
    assert snapshot.finished_at == START + 30.0


def test_long_input_is_distributed_then_merged(
    make_server: ServerFactory, clock: ManualClock, audio: Path
) -> None:
    server = make_server(
        processing_seconds=40.0,
        merging_seconds=10.0,
        distribute_above_seconds=1.0,
        chunk_seconds=0.5,
    )
    token = server.add_account().token
    separation_hash = create(server, token, audio).json()["data"]["hash"]

    first = get(server, separation_hash)
    assert first["status"] == "distributing"
    assert first["data"]["all_chunks"] == 4  # 2 s in 0.5 s chunks
    assert first["data"]["finished_chunks"] == 0
    assert {"queue_count", "current_order", "message"} <= set(first["data"])
    server.advance(20.0)
    assert get(server, separation_hash)["data"]["finished_chunks"] == 2
    server.advance(20.0)
    merging = get(server, separation_hash)
    assert merging["status"] == "merging"
    assert "message" in merging["data"]
    server.advance(10.0)
    assert wait_status(server, separation_hash, "done")["data"]["files"]


def test_injected_failure_ends_failed_with_a_message_and_refunds(
    make_server: ServerFactory, audio: Path
) -> None:
    server = make_server(queue_seconds=5.0)
    server.faults.set("job_failed", count=1)
    token = server.add_account(plan="premium", credits=10).token
    separation_hash = create(server, token, audio).json()["data"]["hash"]
    assert server.state.credits(token) == 9
    server.advance(5.0)
    failed = wait_status(server, separation_hash, "failed")
    assert failed["success"] is True
    assert failed["data"]["message"]
    assert server.state.credits(token) == 10
    assert server.state.create_count(token) == 1
    again = create(server, token, audio).json()["data"]["hash"]  # count=1: the next one works
    server.advance(5.0)
    assert wait_status(server, again, "done")["status"] == "done"


def test_unreadable_upload_fails_the_job(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(ffmpeg_binary=None)
    token = server.add_account().token
    junk = tmp_path / "notes.mp3"
    junk.write_bytes(b"this is not audio at all" * 100)
    separation_hash = create(server, token, junk).json()["data"]["hash"]
    assert "corrupted" in wait_status(server, separation_hash, "failed")["data"]["message"]


def test_results_expire_after_72_hours(
    make_server: ServerFactory, clock: ManualClock, audio: Path
) -> None:
    server = make_server()
    token = server.add_account().token
    separation_hash = create(server, token, audio).json()["data"]["hash"]
    done = wait_status(server, separation_hash, "done")["data"]
    file_url = done["files"][0]["url"]
    assert requests.get(file_url, timeout=10).status_code == 200

    server.advance(71 * HOUR)
    assert get(server, separation_hash)["status"] == "done"
    server.advance(2 * HOUR)
    assert get(server, separation_hash) == {
        "success": False,
        "status": "not_found",
        "data": {"message": "File or File Hash not found"},
    }
    assert requests.get(file_url, timeout=10).status_code == 404
    assert requests.get(done["input_file"]["url"], timeout=10).status_code == 404
    history = requests.get(
        api(server, "app/separation_history"), params={"api_token": token}, timeout=10
    ).json()["data"]
    assert history[0]["hash"] == separation_hash
    assert history[0]["time_left"] == -1  # 72 − 73 whole hours
    assert history[0]["job_exists"] is True  # as in the recording of long-expired rows


def test_queue_positions_follow_the_real_queue_of_all_accounts(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(workers=1, processing_seconds=100.0)
    short = write_audio(tmp_path / "a.wav", 0.3)
    first = server.add_account().token
    second = server.add_account().token
    third = server.add_account().token
    rich = server.add_account(plan="premium", credits=50).token

    running = create(server, first, short).json()["data"]["hash"]
    free_a = create(server, second, short).json()["data"]["hash"]
    free_b = create(server, third, short).json()["data"]["hash"]
    premium = create(server, rich, short).json()["data"]["hash"]

    assert get(server, running)["status"] == "processing"
    assert get(server, free_a)["data"] == {"queue_count": 2, "current_order": 1}
    assert get(server, free_b)["data"] == {"queue_count": 2, "current_order": 2}
    assert get(server, premium)["data"] == {"queue_count": 1, "current_order": 1}
    queue = requests.get(api(server, "app/queue"), timeout=10).json()
    assert queue == {"queue": {"in_process": 1, "premium": 1, "registered": 2, "unregistered": 0}}

    assert server.state.wait_until_idle()
    server.advance(100.0)
    # The premium job overtakes the earlier free ones.
    assert get(server, running)["status"] == "done"
    assert get(server, premium)["status"] == "processing"
    assert get(server, free_a)["data"] == {"queue_count": 2, "current_order": 1}


def test_history_is_newest_first_with_time_left_in_hours(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server()
    token = server.add_account(plan="premium", credits=100).token
    short = write_audio(tmp_path / "clip.wav", 0.2)
    hashes = []
    for _ in range(3):
        hashes.append(create(server, token, short).json()["data"]["hash"])
        server.advance(HOUR + 1800)  # 1.5 h between creates
    history_url = api(server, "app/separation_history")

    page = requests.get(history_url, params={"api_token": token}, timeout=10).json()
    assert page["success"] is True
    assert [entry["hash"] for entry in page["data"]] == hashes[::-1]
    # created 1.5 h, 3 h and 4.5 h ago → 72 − 1, 72 − 3, 72 − 4
    assert [entry["time_left"] for entry in page["data"]] == [71, 69, 68]
    assert [entry["credits"] for entry in page["data"]] == [1, 1, 1]
    ids = [entry["id"] for entry in page["data"]]
    assert ids == sorted(ids, reverse=True)

    window = requests.get(
        history_url, params={"api_token": token, "start": "1", "limit": "1"}, timeout=10
    ).json()["data"]
    assert [entry["hash"] for entry in window] == [hashes[1]]


def test_history_limit_is_at_most_20(make_server: ServerFactory, tmp_path: Path) -> None:
    server = make_server(rate_limit=False)
    token = server.add_account(plan="premium", credits=100, premium_enabled=True).token
    short = write_audio(tmp_path / "tiny.wav", 0.05)
    server.faults.set("job_failed")  # failed jobs are quick and still listed
    for _ in range(22):
        assert create(server, token, short).status_code == 200
        server.advance(1.0)
    answer = requests.get(
        api(server, "app/separation_history"),
        params={"api_token": token, "limit": "50"},
        timeout=10,
    ).json()
    assert len(answer["data"]) == 20
    default = requests.get(
        api(server, "app/separation_history"), params={"api_token": token}, timeout=10
    ).json()
    assert len(default["data"]) == 10

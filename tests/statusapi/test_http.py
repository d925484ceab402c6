"""The status API over real HTTP, against a running daemon and the emulator."""

from __future__ import annotations

import os
import stat
import threading
import time
from typing import Any

import pytest

from mvsepd.engine.control import CANCEL_WAIT_SECONDS
from mvsepd.errors import InputError
from mvsepd.statusapi import StatusApi, is_loopback, read_runtime_file
from tests.statusapi.conftest import MakeHarness
from tests.statusapi.harness import MVSEP_TOKEN, Harness, wait_until


def _waiting(count: int) -> Any:
    def check(jobs: list[dict[str, Any]]) -> bool:
        ordered = [job for job in jobs if job["phase"] == "waiting" and job["current_order"]]
        return len(ordered) == count

    return check


def test_queue_position_is_the_emulators_current_order(harness: Harness) -> None:
    for name in ("one.wav", "two.wav", "three.wav"):
        harness.drop(name)
    jobs = harness.wait_for_jobs(_waiting(3), "three jobs waiting at MVSEP")
    for job in jobs:
        remote = harness.server.state.job(harness.job_detail(job["id"])["separation_hash"])
        assert remote is not None and remote.status == "waiting"
        assert (job["current_order"], job["queue_count"]) == (remote.current_order, 3)
        assert job["summary"] == f"waiting, {['1st', '2nd', '3rd'][remote.current_order - 1]} of 3"
    assert sorted(job["current_order"] for job in jobs) == [1, 2, 3]


def test_cancel_of_a_waiting_job_refunds_its_credits(harness: Harness) -> None:
    before = harness.server.state.credits(MVSEP_TOKEN)
    harness.drop("refund me.wav")
    (job,) = harness.wait_for_jobs(_waiting(1), "the job waiting at MVSEP")
    charged = harness.server.state.credits(MVSEP_TOKEN)
    assert charged < before, "the emulator charges at create"

    answer = harness.call("POST", f"/v1/jobs/{job['id']}/cancel")

    assert answer.status == 200, answer.body
    assert "refunded" in answer.json()["message"]
    assert answer.json()["job"]["state"] == "cancelled"
    assert harness.server.state.credits(MVSEP_TOKEN) == before
    remote = harness.server.state.job(harness.job_detail(job["id"])["separation_hash"])
    assert remote is not None and remote.removed


def test_pause_stops_new_submissions_and_resume_continues(harness: Harness) -> None:
    answer = harness.call("POST", "/v1/pause")
    assert answer.status == 200 and answer.json()["paused"] is True
    assert harness.status()["daemon"]["paused"] is True

    harness.drop("held back.wav")
    (job,) = harness.wait_for_jobs(
        lambda jobs: len(jobs) == 1 and jobs[0]["state"] == "stable", "the job ready to submit"
    )
    time.sleep(1.0)  # ten engine ticks: none may submit
    assert harness.server.state.create_count(MVSEP_TOKEN) == 0
    assert harness.jobs()[0]["summary"] == "ready; submissions are paused"

    assert harness.call("POST", "/v1/resume").status == 200
    wait_until(lambda: harness.server.state.create_count(MVSEP_TOKEN) == 1, 10, "the submission")
    assert harness.status()["daemon"]["paused"] is False
    assert job["id"] == harness.wait_for_jobs(_waiting(1), "the job at MVSEP")[0]["id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic d3Jvbmc6d3Jvbmc="},
        {"X-Mvsepd-Token": "wrong"},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong-bearer", "basic", "wrong-header", "empty-bearer"],
)
def test_requests_without_the_right_token_are_refused(
    harness: Harness, headers: dict[str, str]
) -> None:
    harness.drop("private name.wav")
    harness.wait_for_jobs(lambda jobs: len(jobs) == 1, "the job")
    for method, path in [
        ("GET", "/v1/status"),
        ("GET", "/v1/jobs?all=1"),
        ("GET", "/v1/jobs/1"),
        ("GET", "/v1/events?since=0&timeout=5"),
        ("GET", "/v1/no-such-thing"),
        ("POST", "/v1/pause"),
        ("POST", "/v1/jobs/1/cancel"),
    ]:
        answer = harness.call(method, path, headers=headers, authorized=False)
        assert answer.status == 401, (method, path)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(answer.json()) == {"error"}
        assert b"private name" not in answer.body
    assert harness.status()["daemon"]["paused"] is False
    assert harness.jobs()[0]["state"] != "cancelled"


def test_the_token_is_accepted_in_either_header(harness: Harness) -> None:
    token = harness.token
    bearer = harness.call("GET", "/v1/status", headers={"Authorization": f"Bearer {token}"})
    own = harness.call("GET", "/v1/status", headers={"X-Mvsepd-Token": token}, authorized=False)
    assert bearer.status == own.status == 200


def test_unknown_jobs_are_404_with_a_message(harness: Harness) -> None:
    for method, path in [
        ("POST", "/v1/jobs/999/retry"),
        ("POST", "/v1/jobs/999/cancel"),
        ("GET", "/v1/jobs/999"),
    ]:
        answer = harness.call(method, path)
        assert answer.status == 404
        assert answer.json() == {"error": "no job with id 999"}


def test_wrong_methods_and_states_say_what_is_wrong(harness: Harness) -> None:
    wrong_method = harness.call("GET", "/v1/pause")
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"
    missing = harness.call("GET", "/v1/state")
    assert missing.status == 404 and missing.json() == {"error": "no such endpoint: GET /v1/state"}
    # Outside /v1 is the page's, which the API's token does not sign in to.
    assert harness.call("GET", "/v2/status").status == 401
    assert harness.call("GET", "/v1/events?since=x").status == 400

    harness.drop("still waiting.wav")
    (job,) = harness.wait_for_jobs(_waiting(1), "the job at MVSEP")
    conflict = harness.call("POST", f"/v1/jobs/{job['id']}/retry")
    assert conflict.status == 409
    assert (
        "only failed, cancelled, done, unpublished or held jobs can be retried"
        in (conflict.json()["error"])
    )


def test_retry_of_a_cancelled_job_submits_it_again(harness: Harness) -> None:
    harness.drop("again.wav")
    (job,) = harness.wait_for_jobs(_waiting(1), "the job at MVSEP")
    assert harness.call("POST", f"/v1/jobs/{job['id']}/cancel").status == 200

    answer = harness.call("POST", f"/v1/jobs/{job['id']}/retry")

    assert answer.status == 200
    # Cancelled at MVSEP before it started: MVSEP removed it, so it is sent (and paid) again.
    assert "is uploaded again: MVSEP no longer has it" in answer.json()["message"]
    assert answer.json()["uploads_again"] is True
    wait_until(lambda: harness.server.state.create_count(MVSEP_TOKEN) == 2, 10, "a new create")


def test_a_cancel_while_a_status_poll_is_in_flight_answers_what_happened(
    harness: Harness,
) -> None:
    harness.drop("polled.wav")
    (job,) = harness.wait_for_jobs(_waiting(1), "the job at MVSEP")
    # Every poll from now on takes 1.5 s; polls come at most 0.5 s apart, so one is in
    # flight 0.6 s later.
    harness.server.faults.set("slow", endpoints=["/api/separation/get"], delay_seconds=1.5)
    time.sleep(0.6)

    answer = harness.call("POST", f"/v1/jobs/{job['id']}/cancel")

    assert answer.status == 200, answer.body
    assert "refunded" in answer.json()["message"]
    assert answer.json()["job"]["state"] == "cancelled"


def test_a_retry_while_a_cancel_waits_for_an_upload_says_so(harness: Harness) -> None:
    # The create answers after longer than a cancel waits for a step in flight.
    harness.server.faults.set(
        "slow", endpoints=["/api/separation/create"], delay_seconds=CANCEL_WAIT_SECONDS + 3
    )
    harness.drop("slow upload.wav")
    (job,) = harness.wait_for_jobs(
        lambda jobs: len(jobs) == 1 and jobs[0]["state"] == "uploading", "the upload"
    )

    cancel = harness.call("POST", f"/v1/jobs/{job['id']}/cancel")
    retry = harness.call("POST", f"/v1/jobs/{job['id']}/retry")

    assert cancel.status == 200 and "cancelling" in cancel.json()["message"]
    assert retry.status == 409
    assert "is being cancelled" in retry.json()["error"]
    wait_until(
        lambda: harness.job_detail(job["id"])["state"] == "cancelled", 20, "the cancel to land"
    )


def test_long_poll_answers_within_a_second_of_a_change(harness: Harness) -> None:
    wait_until(lambda: harness.status()["account"]["plan"], 10, "the account check")
    version = harness.call("GET", "/v1/events").json()["version"]
    answers: list[tuple[float, Any]] = []

    def follow() -> None:
        # Like a client: follow the versions until the change of interest shows.
        since = version
        while True:
            body = harness.call("GET", f"/v1/events?since={since}&timeout=20").json()
            answers.append((time.monotonic(), body))
            if body["status"]["daemon"]["paused"]:
                return
            since = body["version"]

    waiter = threading.Thread(target=follow)
    waiter.start()
    time.sleep(0.5)
    changed_at = time.monotonic()
    harness.call("POST", "/v1/pause")
    waiter.join(timeout=5)

    (answered_at, body) = answers[-1]
    assert answered_at - changed_at < 1.0
    assert body["changed"] is True and body["version"] > version
    assert body["status"]["daemon"]["paused"] is True


def test_long_poll_without_change_answers_after_its_timeout(harness: Harness) -> None:
    wait_until(lambda: harness.status()["account"]["plan"], 10, "the account check")
    version = harness.call("GET", "/v1/events").json()["version"]
    started = time.monotonic()
    answer = harness.call("GET", f"/v1/events?since={version}&timeout=0.5").json()
    assert 0.4 <= time.monotonic() - started < 3
    assert answer["changed"] is False and answer["version"] == version


def test_the_runtime_file_is_private_and_goes_with_the_daemon(harness: Harness) -> None:
    runtime_file = harness.paths.runtime_file
    assert stat.S_IMODE(runtime_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(runtime_file.parent.stat().st_mode) == 0o700
    info = read_runtime_file(runtime_file)
    assert harness.daemon is not None and harness.daemon.status_api is not None
    assert (info.host, info.port, info.pid) == (
        "127.0.0.1",
        harness.daemon.status_api.port,
        os.getpid(),
    )
    assert len(info.token.reveal()) >= 40

    harness.stop_daemon()

    assert not runtime_file.exists()


def test_the_picture_has_the_account_folders_and_job_fields(harness: Harness) -> None:
    harness.drop("fields.wav")
    (job,) = harness.wait_for_jobs(_waiting(1), "the job at MVSEP")
    picture = harness.status()
    assert picture["service"] == "mvsepd" and picture["api"] == 1
    assert picture["daemon"]["pid"] == os.getpid() and picture["daemon"]["uptime_seconds"] >= 0
    account = picture["account"]
    assert (account["plan"], account["token_valid"]) == ("premium", True)
    assert account["credits"] is not None
    assert picture["folders"][0]["watch"] == "watching"
    assert picture["folders"][0]["output_root"].endswith("Exports stems")
    for key in ("folder", "file", "preset", "state", "current_order", "queue_count",
                "finished_chunks", "all_chunks", "upload_percent", "download_percent",
                "credits_estimate", "error", "output_dir"):  # fmt: skip
        assert key in job
    assert "separation_hash" not in job
    assert job["credits_estimate"] >= 1 and job["preset"] == "four"
    detail = harness.job_detail(job["id"])
    assert detail["separation_hash"]
    assert [step["to"] for step in detail["history"]][:2] == ["discovered", "stable"]


def test_no_answer_carries_the_mvsep_token_or_result_urls(harness: Harness) -> None:
    harness.drop("secret.wav")
    (job,) = harness.wait_for_jobs(_waiting(1), "the job at MVSEP")
    for method, path in [
        ("GET", "/v1/status"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs?all=1"),
        ("GET", f"/v1/jobs/{job['id']}"),
        ("GET", "/v1/events"),
        ("POST", "/v1/pause"),
        ("POST", "/v1/resume"),
        ("POST", "/v1/rescan"),
        ("POST", f"/v1/jobs/{job['id']}/cancel"),
    ]:
        assert harness.call(method, path).status == 200
    separation_hash = harness.job_detail(job["id"])["separation_hash"]
    for body in harness.transcript:
        assert MVSEP_TOKEN.encode() not in body
        assert b"/storage/" not in body
    listings = [body for body in harness.transcript if b'"jobs"' in body]
    assert listings and all(separation_hash.encode() not in body for body in listings)


def test_a_long_poll_in_progress_ends_when_the_daemon_stops(harness: Harness) -> None:
    version = harness.call("GET", "/v1/events").json()["version"]
    ended: list[float] = []

    def long_poll() -> None:
        harness.call("GET", f"/v1/events?since={version}&timeout=25")
        ended.append(time.monotonic())

    waiter = threading.Thread(target=long_poll)
    waiter.start()
    time.sleep(0.3)
    stopped_at = time.monotonic()
    assert harness.daemon is not None and harness.daemon.status_api is not None
    harness.daemon.status_api.stop()
    waiter.join(timeout=5)
    assert ended and ended[0] - stopped_at < 2


def test_listening_beyond_loopback_needs_the_explicit_option(make_harness: MakeHarness) -> None:
    harness = make_harness()
    assert harness.daemon is not None
    with pytest.raises(InputError, match="allow_remote_status"):
        StatusApi(harness.daemon.engine, runtime_file=harness.paths.runtime_file, host="192.0.2.1")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")  # noqa: S104 (a string; nothing binds to it)
    assert not is_loopback("192.168.1.10")

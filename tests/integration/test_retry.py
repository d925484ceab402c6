"""``mvsepd retry`` never pays twice: a job MVSEP still has is followed and fetched again (no
create), its stems replace its own earlier ones in place; only a job MVSEP failed, or one the
user asks to upload again, is sent again, and the answer says so. And a job whose stems MVSEP
did not publish in time is left for retry, which asks MVSEP again without an upload.

Through the real status API (``ControlClient``, what ``mvsepd retry`` uses), a real daemon and
the emulator over HTTP.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from mvsepd.client.control import ControlClient
from mvsepd.errors import InputError
from mvsepd.models import JobRecord, JobState
from tests.hostile.front import HostileFront, Rule, replace_with
from tests.integration.support import FAST, Setup, running_daemon, wait_until, write_wav


def _stems(setup: Setup, track: str) -> dict[str, int]:
    """Each placed file of ``track`` by name, with its inode (a re-placed file is a new one)."""
    folder = setup.outputs / track
    return {path.name: path.stat().st_ino for path in folder.iterdir() if path.is_file()}


def _manifest(setup: Setup, track: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((setup.outputs / track / "manifest.json").read_text())
    return document


def _settled(daemon: Any, job_id: int, state: JobState, retries: int) -> JobRecord | None:
    job: JobRecord = daemon.store.get(job_id)
    return job if job.state is state and job.retries == retries else None


def test_retry_of_a_done_job_fetches_it_again_without_paying(setup: Setup) -> None:
    with running_daemon(setup) as daemon:
        write_wav(setup.hot / "Take.wav", 0.4, seed=1)
        wait_until(lambda: daemon.done(1), 30, message="the first attempt")
        (job,) = daemon.store.jobs()
        first = _stems(setup, "Take")
        answer = ControlClient.discover(setup.paths).retry(job.id)
        assert answer["uploads_again"] is False
        assert "MVSEP still has it" in answer["message"], answer["message"]
        assert "No upload, no credits" in answer["message"]
        wait_until(lambda: _settled(daemon, job.id, JobState.DONE, 1), 30, message="the retry")
    assert setup.server.state.create_count(setup.token) == 1
    second = _stems(setup, "Take")
    assert sorted(second) == sorted(first)  # no "Vocals (2).wav" beside the stems
    assert all(second[name] != first[name] for name in first if name.endswith(".wav"))
    manifest = _manifest(setup, "Take")
    assert manifest["attempt"] == 2
    listed = sorted(entry["name"] for entry in manifest["outputs"])
    assert listed == sorted(name for name in second if name != "manifest.json")


def test_retry_of_a_job_whose_download_failed_fetches_it_without_paying(setup: Setup) -> None:
    with HostileFront(setup.server) as front:
        gone = front.add(
            Rule("/storage/", replace_with(lambda: Response("gone", status=404)), times=1)
        )
        config = setup.config_text().replace(setup.server.url, front.url)
        with running_daemon(setup, config) as daemon:
            write_wav(setup.hot / "Take.wav", 0.4, seed=2)
            wait_until(lambda: daemon.finished(1), 30, message="the failed download")
            (job,) = daemon.store.jobs()
            assert job.state is JobState.FAILED and gone.used == 1, job.reason
            answer = ControlClient.discover(setup.paths).retry(job.id)
            assert answer["uploads_again"] is False, answer["message"]
            wait_until(lambda: _settled(daemon, job.id, JobState.DONE, 1), 30, message="retry")
    assert setup.server.state.create_count(setup.token) == 1
    names = sorted(_stems(setup, "Take"))
    assert len(names) == 6 and not any("(2)" in name for name in names), names
    assert len(_manifest(setup, "Take")["outputs"]) == 5


def test_retry_of_a_job_mvsep_failed_uploads_it_again_and_says_so(setup: Setup) -> None:
    setup.server.faults.set("job_failed", count=1)
    with running_daemon(setup) as daemon:
        write_wav(setup.hot / "Take.wav", 0.4, seed=3)
        wait_until(lambda: daemon.finished(1), 30, message="MVSEP to fail the job")
        (job,) = daemon.store.jobs()
        assert job.state is JobState.FAILED
        answer = ControlClient.discover(setup.paths).retry(job.id)
        assert answer["uploads_again"] is True
        assert "is uploaded again: MVSEP could not process it" in answer["message"]
        assert "the free queue: no credits" in answer["message"]  # a free account
        wait_until(lambda: _settled(daemon, job.id, JobState.DONE, 1), 30, message="the retry")
    assert setup.server.state.create_count(setup.token) == 2


def test_retry_with_upload_again_sends_it_again(setup: Setup) -> None:
    with running_daemon(setup) as daemon:
        write_wav(setup.hot / "Take.wav", 0.4, seed=4)
        wait_until(lambda: daemon.done(1), 30, message="the first attempt")
        (job,) = daemon.store.jobs()
        answer = ControlClient.discover(setup.paths).retry(job.id, upload_again=True)
        assert answer["uploads_again"] is True and "--upload-again" in answer["message"]
        wait_until(lambda: _settled(daemon, job.id, JobState.DONE, 1), 30, message="the retry")
    assert setup.server.state.create_count(setup.token) == 2
    assert not any("(2)" in name for name in _stems(setup, "Take"))


def test_stems_mvsep_does_not_publish_in_time_are_left_for_retry(setup: Setup) -> None:
    # MVSEP takes 5 s to publish; the daemon waits 1.2 s (publish_wait_minutes, scaled down).
    setup.server.faults.set("slow_publish", delay_seconds=5.0, count=1)
    waits = dataclasses.replace(FAST, publish_wait_seconds=1.2)
    with running_daemon(setup, settings=waits) as daemon:
        write_wav(setup.hot / "Take.wav", 0.4, seed=5)
        wait_until(lambda: daemon.finished(1), 30, message="the wait to end")
        (job,) = daemon.store.jobs()
        assert job.state is JobState.UNPUBLISHED, (job.state, job.reason)
        client = ControlClient.discover(setup.paths)
        shown = client.job(job.id)
        assert shown["phase"] == "unpublished"
        assert f"`mvsepd retry {job.id}` asks MVSEP again (no upload" in shown["summary"]
        assert not (setup.outputs / "Take").exists()  # nothing placed from a partial set
        # MVSEP publishes them in the end (such jobs do finish, just slowly); then the retry.
        wait_until(lambda: _published_at_mvsep(setup, job), 30, message="MVSEP to publish")
        answer = client.retry(job.id)
        assert answer["uploads_again"] is False
        wait_until(lambda: _settled(daemon, job.id, JobState.DONE, 1), 30, message="the stems")
    assert setup.server.state.create_count(setup.token) == 1
    assert len(_manifest(setup, "Take")["outputs"]) == 5


def _published_at_mvsep(setup: Setup, job: JobRecord) -> bool:
    snapshot = setup.server.state.job(str(job.separation_hash))
    assert snapshot is not None, "the job is gone at MVSEP"
    return bool(snapshot.published) and all(snapshot.published)


def test_a_chain_step_whose_input_is_gone_says_why_it_cannot_run_again(
    setup: Setup, tmp_path: Path
) -> None:
    config = setup.config_text().replace(
        "presets:\n",
        "chains:\n  dry:\n    steps:\n      - {id: split, preset: four}\n"
        "      - {id: tail, from: split/Vocals, sep_type: 20}\n"
        "presets:\n",
        1,
    )
    config = config.replace("    preset: four\n", "    preset: dry\n", 1)
    with running_daemon(setup, config) as daemon:
        write_wav(setup.hot / "Take.wav", 0.4, seed=6)
        wait_until(lambda: daemon.done(2), 60, message="the chain")
        step = next(job for job in daemon.store.jobs() if job.parent_job_id is not None)
        assert not Path(step.source_path).exists()  # the chain is done: its inputs went
        client = ControlClient.discover(setup.paths)
        try:
            client.retry(step.id, upload_again=True)
        except InputError as error:
            words = str(error)
        else:
            raise AssertionError("the retry was accepted without an input")
    assert f"job {step.id} cannot run again" in words
    assert f"the 'Vocals' stem of job {step.parent_job_id}" in words
    assert "is no longer kept here" in words
    assert setup.server.state.create_count(setup.token) == 2

"""The daemon end to end: files dropped in a hot folder become stems next to it, once each."""

from __future__ import annotations

import itertools
import shutil
import time

import pytest
import soundfile

from mvsepd.models import JobState
from mvsepd.store import CHECKING
from tests.integration.support import (
    Setup,
    running_daemon,
    wait_until,
    wav_bytes,
    write_wav,
)


def test_a_dropped_file_becomes_stems_with_a_manifest(setup: Setup) -> None:
    original = write_wav(setup.hot / "My Song.wav", 1.0)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 30, message="the job to finish")
    track = setup.outputs / "My Song"
    names = sorted(path.name for path in track.iterdir())
    assert names == [
        "My Song - Bass.wav",
        "My Song - Drums.wav",
        "My Song - Instrumental.wav",
        "My Song - Other.wav",
        "My Song - Vocals.wav",
        "manifest.json",
    ]
    for stem in track.glob("*.wav"):
        info = soundfile.info(str(stem))
        assert abs(info.duration - 1.0) < 0.01
    (manifest,) = setup.manifests()
    assert manifest["preset"]["sep_type"] == 20
    assert manifest["mvsep"]["hash"] == setup.server.state.jobs()[0].hash
    assert {item["name"] for item in manifest["outputs"]} == set(names) - {"manifest.json"}
    assert (setup.hot / "My Song.wav").read_bytes() == original
    assert setup.server.state.create_count() == 1
    assert setup.leftovers() == []


def test_a_file_written_slowly_is_uploaded_once_after_it_is_complete(setup: Setup) -> None:
    data = wav_bytes(4.0)
    path = setup.hot / "slow export.wav"
    config = setup.config_text(stability=1.0)
    with running_daemon(setup, config) as daemon:
        with path.open("wb") as handle:
            # Like a DAW: header with placeholder sizes, audio in pieces over about 8 s with
            # pauses shorter than the stability window, the real header written last.
            handle.write(data[:4] + b"\0\0\0\0" + data[8:40] + b"\0\0\0\0")
            handle.flush()
            pieces = 16
            step = (len(data) - 44) // pieces + 1
            for start in range(44, len(data), step):
                handle.write(data[start : start + step])
                handle.flush()
                time.sleep(0.5)
                assert setup.server.state.create_count() == 0, "uploaded while being written"
            handle.seek(0)
            handle.write(data[:44])
        finished_writing = time.time()
        wait_until(lambda: daemon.done(1), 30, message="the slow export to be processed")
    (job,) = setup.server.state.jobs()
    assert setup.server.state.create_count() == 1
    assert job.created_at >= finished_writing
    assert job.duration is not None and abs(job.duration - 4.0) < 0.01


def test_fifty_files_on_a_free_account_one_unfinished_job_at_a_time(setup: Setup) -> None:
    for index in range(50):
        write_wav(setup.hot / f"take {index:02d}.wav", 0.2, seed=index)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(50), 150, message="50 jobs to finish", interval=0.2)
    jobs = sorted(setup.server.state.jobs(), key=lambda job: job.created_at)
    assert len(jobs) == 50 == setup.server.state.create_count()
    for earlier, later in itertools.pairwise(jobs):
        assert earlier.finished_at is not None
        assert later.created_at >= earlier.finished_at, "two unfinished jobs at once"
    assert len(list(setup.outputs.rglob("manifest.json"))) == 50
    assert setup.leftovers() == []


def test_the_same_audio_twice_is_one_job(setup: Setup) -> None:
    write_wav(setup.hot / "a.wav", 0.3)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 30, message="the first job")
        shutil.copy(setup.hot / "a.wav", setup.hot / "a copy.wav")

        def judged() -> bool:
            # Recorded as being checked first, then with the verdict.
            found = daemon.store.source(str(setup.hot), "a copy.wav")
            return found is not None and found.verdict != CHECKING

        wait_until(judged, 10, message="the copy to be looked at")
        record = daemon.store.source(str(setup.hot), "a copy.wav")
        assert record is not None and record.verdict == "duplicate"
    assert setup.server.state.create_count() == 1


def test_a_re_export_with_new_audio_is_a_new_job(setup: Setup) -> None:
    write_wav(setup.hot / "mix.wav", 0.3, seed=1)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 30, message="the first version")
        write_wav(setup.hot / "mix.wav", 0.3, seed=2)
        wait_until(lambda: daemon.done(2), 30, message="the second version")
    assert setup.server.state.create_count() == 2
    assert (setup.outputs / "mix").is_dir() and (setup.outputs / "mix (2)").exists() is False
    stems = sorted(path.name for path in (setup.outputs / "mix").iterdir())
    assert "mix - Vocals (2).wav" in stems  # the earlier stems are kept, never overwritten


def test_existing_files_are_skipped_on_a_folders_first_run(setup: Setup) -> None:
    write_wav(setup.hot / "old bounce.wav", 0.2, seed=1)
    config = setup.config_text(folder="existing_files: skip").replace("existing_files: process", "")
    with running_daemon(setup, config) as daemon:
        write_wav(setup.hot / "new bounce.wav", 0.2, seed=2)
        wait_until(lambda: daemon.done(1), 30, message="the new file")
        time.sleep(0.5)
        assert [job.source_name for job in daemon.store.jobs()] == ["new bounce.wav"]
    assert setup.server.state.create_count() == 1
    # A later start does not treat the skipped file as new either.
    with running_daemon(setup, config):
        time.sleep(1.0)
    assert setup.server.state.create_count() == 1


def test_files_added_while_the_daemon_was_down_are_processed(setup: Setup) -> None:
    with running_daemon(setup):
        pass
    write_wav(setup.hot / "while down.wav", 0.2)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 30, message="the file added while down")


def test_a_lost_create_answer_is_found_again_not_paid_twice(setup: Setup) -> None:
    setup.server.faults.set("lost_response", count=1)
    write_wav(setup.hot / "lost.wav", 0.3)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 30, message="the job to finish")
        events = [to for _, _, to, _ in daemon.store.events(daemon.store.jobs()[0].id)]
    assert setup.server.state.create_count() == 1
    assert events.count("uploading") == 1
    assert "submitted" in events


@pytest.mark.parametrize("fault", ["http_503", "http_502", "drop_connection", "malformed_json"])
def test_transient_faults_on_polls_are_waited_out(setup: Setup, fault: str) -> None:
    setup.server.faults.set(fault, rate=0.5, endpoints=["/api/separation/get"])
    for index in range(3):
        write_wav(setup.hot / f"f{index}.wav", 0.2, seed=index)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(3), 90, message="every job despite the faults")
    assert setup.server.state.create_count() == 3


def test_a_job_that_fails_at_mvsep_says_why(setup: Setup) -> None:
    setup.server.faults.set("job_failed", count=1)
    original = write_wav(setup.hot / "broken.wav", 0.2)
    with running_daemon(setup) as daemon:
        job = wait_until(
            lambda: next(iter(daemon.store.jobs([JobState.FAILED])), None), 30, message="failure"
        )
    assert job.reason.startswith("MVSEP could not process the file")
    assert (setup.hot / "broken.wav").read_bytes() == original


def test_a_queue_full_answer_from_another_client_is_waited_out(setup: Setup) -> None:
    import requests

    # Another program on the same account holds the free slot for a while.
    setup.server.faults.clear()
    other = requests.post(
        f"{setup.server.url}/api/separation/create",
        files={"audiofile": ("other.wav", wav_bytes(0.2, seed=9))},
        data={"api_token": setup.token, "sep_type": "20", "output_format": "1"},
        timeout=10,
    )
    assert other.json()["success"] is True
    write_wav(setup.hot / "mine.wav", 0.2)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 90, message="my job after the other one")
    assert setup.server.state.create_count() == 2


def test_rate_limits_are_honoured(setup: Setup) -> None:
    setup.server.faults.set("http_429", count=2, endpoints=["/api/separation/get"])
    write_wav(setup.hot / "limited.wav", 0.2)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 60, message="the job despite 429s")
    assert setup.server.state.create_count() == 1


def test_an_invalid_token_holds_every_submission_and_says_so_once(setup: Setup) -> None:
    setup.server.invalidate_token(setup.token)
    for index in range(3):
        write_wav(setup.hot / f"held {index}.wav", 0.2, seed=index)
    with running_daemon(setup) as daemon:
        wait_until(
            lambda: daemon.states().get(JobState.HELD, 0) == 3, 30, message="three held jobs"
        )
        time.sleep(0.5)
        held = daemon.store.jobs([JobState.HELD])
        assert all(job.reason == "MVSEP refused the API token" for job in held)
        assert not daemon.daemon.context.account.token_valid
    assert setup.server.state.create_count() == 0


def test_a_daily_budget_holds_jobs_beyond_it(setup: Setup) -> None:
    setup.token = setup.server.add_account(plan="premium", credits=100).token
    for index in range(3):
        write_wav(setup.hot / f"paid {index}.wav", 0.5, seed=index)
    config = setup.config_text(limits="daily_credit_budget: 2")
    with running_daemon(setup, config) as daemon:
        wait_until(lambda: daemon.done(2), 30, message="two jobs within the budget")
        wait_until(lambda: daemon.states().get(JobState.HELD, 0) == 1, 30, message="the third held")
        (held,) = daemon.store.jobs([JobState.HELD])
        assert held.reason is not None and held.reason.startswith("daily credit budget reached")
    assert setup.server.state.create_count() == 2
    assert setup.server.state.credits(setup.token) == 98

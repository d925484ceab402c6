"""Several ``mvsepd run`` hosts, one database, one shared folder, one free MVSEP account."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.models import DeliveryState, JobState
from tests.chaos.inputs import chaos_seed, plan_inputs
from tests.chaos.invariants import problems_after_run
from tests.integration.support import wait_until
from tests.studio.chaos import StudioChaos
from tests.studio.hosts import Studio, StudioHost, studio_emulator
from tests.studio.pgserver import PostgresServer

FILES = 50


@pytest.fixture
def studio(tmp_path: Path, postgres_dsn: str) -> Iterator[Studio]:
    with studio_emulator() as server:
        account = server.add_account(plan="free", credits=0)
        studio = Studio(tmp_path, server, account.token, postgres_dsn)
        try:
            yield studio
        finally:
            studio.stop_all()


@pytest.mark.timeout(600)
def test_three_hosts_share_one_folder_and_pay_each_file_once(studio: Studio) -> None:
    for name in ("room-1", "room-2", "room-3"):
        studio.start(name)
    studio.write(FILES, seed=1)
    studio.wait_finished(timeout=240)
    studio.stop_all()
    distinct = {item.sha256 for item in studio.written}
    assert studio.server.state.create_count(studio.token) == len(distinct)
    # The free plan's one unfinished job held for the whole studio: never two at MVSEP, and
    # no host was ever refused for a full queue.
    assert studio.server.state.peak_unfinished(studio.token) == 1
    assert studio.queue_full_refusals() == 0
    assert problems_after_run(studio.setup(), studio.written, studio.observer) == []
    # The hosts raced for the files: every file was also found by a host that lost the claim
    # (which host wins each is scheduling, not behaviour: one host may win them all).
    assert studio.process_log().count('"already_known"') >= len(distinct)


@pytest.fixture
def premium_studio(tmp_path: Path, postgres_dsn: str) -> Iterator[Studio]:
    # A slow link, so that uploads and downloads last long enough to be killed in.
    with studio_emulator(upload_rate=150_000, download_rate=400_000) as server:
        account = server.add_account(plan="premium", credits=1_000_000)
        studio = Studio(tmp_path, server, account.token, postgres_dsn, account="concurrency: 3")
        try:
            yield studio
        finally:
            studio.stop_all()


@pytest.mark.timeout(900)
def test_hosts_killed_at_any_moment_lose_nothing_and_pay_nothing_twice(
    premium_studio: Studio,
) -> None:
    report = StudioChaos(premium_studio, seed=chaos_seed(), hosts=3, files=12, kills=6).run()
    print(report.summary())
    assert report.kills >= 6


@pytest.mark.full
@pytest.mark.timeout(7200)
def test_full_studio_chaos(premium_studio: Studio) -> None:
    report = StudioChaos(premium_studio, seed=chaos_seed(), hosts=3, files=100, kills=100).run()
    print(report.summary())
    assert report.kills >= 100


@pytest.mark.timeout(600)
def test_the_database_restarted_mid_run_loses_and_repeats_nothing(
    studio: Studio, postgres_server: PostgresServer
) -> None:
    for name in ("room-1", "room-2", "room-3"):
        studio.start(name)
    studio.write(20, seed=7)
    wait_until(lambda: studio.server.state.create_count(studio.token) >= 3, 120, message="jobs")
    postgres_server.stop()
    started = time.monotonic()
    try:
        # Said in the status of a host while the database is away (the daemon still answers;
        # each look is a CLI process, slow on a loaded machine).
        wait_until(lambda: _outage(studio.host("room-2")), 45, message="the outage in status")
        time.sleep(max(0.0, 4 - (time.monotonic() - started)))  # longer than a lease
    finally:
        # Back even when this test fails: the studio tests after it share the cluster.
        postgres_server.start()
    studio.wait_finished(timeout=300)
    for name, process in studio.processes.items():
        assert process.poll() is None, f"{name} exited"
    studio.stop_all()
    distinct = {item.sha256 for item in studio.written}
    assert studio.server.state.create_count(studio.token) == len(distinct)
    assert problems_after_run(studio.setup(), studio.written, studio.observer) == []
    log = studio.process_log()
    assert log.count('"studio_database_unreachable"') >= 1
    assert log.count('"studio_database_back"') >= 1


@pytest.mark.timeout(600)
def test_a_host_whose_clock_is_an_hour_off_behaves_the_same(studio: Studio) -> None:
    studio.start("room-1", clock_offset_seconds=3600)
    studio.start("room-2", clock_offset_seconds=-3600)
    studio.start("room-3")
    studio.write(15, seed=11)
    studio.wait_finished(timeout=240)
    studio.stop_all()
    distinct = {item.sha256 for item in studio.written}
    assert studio.server.state.create_count(studio.token) == len(distinct)
    assert studio.queue_full_refusals() == 0
    assert problems_after_run(studio.setup(), studio.written, studio.observer) == []
    # Times written by every host are the database's: none is an hour ahead or behind.
    now = time.time()
    for job in studio.jobs():
        assert abs(job.updated_at - now) < 600, (job.id, job.owner_host, job.updated_at - now)


def _outage(host: StudioHost) -> bool:
    answer = _cli(host, "status", "--json")
    if answer.returncode != 0:
        return False
    studio = json.loads(answer.stdout).get("studio") or {}
    return bool(studio.get("outage"))


def _cli(host: StudioHost, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mvsepd", *arguments],
        env=host.environment(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.timeout(300)
def test_every_host_shows_the_studios_jobs_and_pause_is_studio_wide(studio: Studio) -> None:
    studio.start("room-1")
    studio.write(3, seed=3)  # room-1's alone
    studio.wait_finished(timeout=120)
    studio.start("room-2")
    studio.write(3, seed=4, prefix="later ")
    studio.wait_finished(timeout=120)
    room_1, room_2 = studio.host("room-1"), studio.host("room-2")
    wait_until(lambda: _cli(room_2, "status", "--json").returncode == 0, 30, message="status")
    picture = json.loads(_cli(room_2, "status", "--json").stdout)
    assert picture["studio"]["host"] == "room-2"
    assert {host["id"] for host in picture["studio"]["hosts"]} >= {"room-1", "room-2"}
    listed = json.loads(_cli(room_2, "jobs", "--all", "--json").stdout)
    owners = {job["host"] for job in listed}
    assert owners <= {"room-1", "room-2"} and len(listed) == len(studio.jobs())
    assert "room-1" in owners  # room-2 lists room-1's jobs too
    table = _cli(room_2, "jobs", "--all").stdout
    assert "host" in table and "room-1" in table
    paused = _cli(room_1, "pause")
    assert "every host of the studio" in paused.stdout
    assert json.loads(_cli(room_2, "status", "--json").stdout)["daemon"]["paused"] is True
    assert "paused for the whole studio" in _cli(room_2, "status").stdout
    _cli(room_2, "resume")
    assert json.loads(_cli(room_1, "status", "--json").stdout)["daemon"]["paused"] is False
    # Dismissing failures is the studio's too: every host's tray stops being red.
    (studio.hot / "lyrics.wav").write_bytes(b"these are lyrics, not audio\n" * 40)
    wait_until(
        lambda: [job.state for job in studio.jobs()].count(JobState.FAILED) == 1,
        60,
        message="the failed job",
    )
    dismissed = _cli(room_1, "dismiss")
    assert "dismissed 1 failure" in dismissed.stdout, dismissed.stderr
    assert "every host of the studio" in dismissed.stdout
    listed = json.loads(_cli(room_2, "jobs", "--json").stdout)
    assert [job["dismissed"] for job in listed if job["phase"] == "failed"] == [True]


@pytest.mark.timeout(300)
def test_a_folder_of_one_host_works_beside_the_shared_one(studio: Studio) -> None:
    private = studio.root / "room-1 only" / "Bounces"
    private.mkdir(parents=True)
    studio.start("room-1", private=private)
    studio.start("room-2")
    shared = studio.write(3, seed=21)
    local = plan_inputs(random.Random(22), 2, copies=False)
    for item in local:
        (private / item.name).write_bytes(item.data)
    studio.written.extend(local)  # finished() waits for these contents too
    studio.wait_finished(timeout=120)
    jobs = {job.content_sha256: job for job in studio.jobs()}
    for item in local:
        job = jobs[item.sha256]
        assert job.state is JobState.DONE and job.owner_host == "room-1"
        # Recorded as room-1's own path: any other host sees it as not its to reach.
        assert job.folder_path.startswith("@room-1:") and job.output_dir is not None
        assert job.output_dir.startswith("@room-1:")
    manifests = list((private.parent / "Bounces stems").rglob("manifest.json"))
    assert len(manifests) == 2, manifests
    for item in shared:
        assert jobs[item.sha256].state is JobState.DONE
    studio.stop_all()
    assert studio.server.state.create_count(studio.token) == 5


@pytest.mark.timeout(300)
def test_a_take_dropped_again_while_its_host_is_off_gets_its_stems(studio: Studio) -> None:
    take = studio.write(1, seed=31)[0]
    studio.start("room-1")
    studio.wait_finished(timeout=120)
    studio.processes["room-1"].send_signal(signal.SIGTERM)  # room-1 is switched off
    assert studio.processes.pop("room-1").wait(timeout=20) == 0
    studio.start("room-2")
    again = studio.hot / f"{Path(take.name).stem} (again).wav"
    partial = studio.hot / ".again.writing"
    partial.write_bytes(take.data)
    partial.rename(again)

    def placed() -> bool:
        with studio.observer() as store:
            found = store.deliveries(source_path=str(again))
        return bool(found) and found[0].state is DeliveryState.DONE

    wait_until(placed, 90, message="the copy's stems placed by room-2")
    studio.stop_all()
    with studio.observer() as store:
        (delivery,) = store.deliveries(source_path=str(again))
        (job,) = store.jobs()
        events = [detail or "" for *_, detail in store.events(job.id)]
    assert job.owner_host == "room-2"
    assert any("late deliveries taken over from room-1" in detail for detail in events), events
    assert delivery.output_dir is not None
    assert job.output_dir is not None
    # Every stem of the first placing, under the new take's name.
    first = sorted(path.name.rsplit(" - ", 1)[1] for path in Path(job.output_dir).glob("*.wav"))
    stems = sorted(path.name for path in Path(delivery.output_dir).glob("*.wav"))
    assert first and stems == [f"{again.stem} - {stem}" for stem in first]
    # Copied from room-1's stems on the share: nothing sent or paid again.
    assert studio.server.state.create_count(studio.token) == 1


@pytest.mark.timeout(300)
def test_a_job_of_one_host_is_cancelled_from_another(tmp_path: Path, postgres_dsn: str) -> None:
    # Jobs wait at MVSEP for ten minutes: long enough to cancel one (credits refunded).
    with studio_emulator(queue_seconds=600.0) as server:
        token = server.add_account(plan="premium", credits=10_000).token
        studio = Studio(tmp_path, server, token, postgres_dsn)
        try:
            studio.start("room-1")
            studio.write(1, seed=41)
            wait_until(lambda: _states(studio) == ["submitted"], 60, message="waiting at MVSEP")
            studio.start("room-2")
            room_1, room_2 = studio.host("room-1"), studio.host("room-2")
            wait_until(lambda: _cli(room_2, "status").returncode == 0, 30, message="room-2")
            (job,) = studio.jobs()
            assert job.owner_host == "room-1"
            charged = server.state.credits(token)

            answer = _cli(room_2, "cancel", str(job.id))

            assert answer.returncode == 0, answer.stderr
            assert "refunded" in answer.stdout and "room-1's job" in answer.stdout
            assert server.state.credits(token) > charged
            remote = server.state.job(job.separation_hash or "")
            assert remote is not None and remote.removed
            # room-1 keeps polling for a while: it must change nothing about the job.
            time.sleep(3)
            (after,) = studio.jobs()
            assert (after.state, after.owner_host) == (JobState.CANCELLED, "room-2")
            with studio.observer() as store:  # the take and its copy: stems for neither
                deliveries = store.deliveries(job_id=job.id)
            assert deliveries and {d.state for d in deliveries} == {DeliveryState.FAILED}
            assert studio.processes["room-1"].poll() is None
            # Retried from a third place (room-1 again): submitted anew, room-1's once more.
            retried = _cli(room_1, "retry", str(job.id))
            assert retried.returncode == 0
            assert "is uploaded again: MVSEP no longer has it" in retried.stdout
            wait_until(lambda: _states(studio) == ["submitted"], 60, message="the retry")
            assert studio.jobs()[0].owner_host == "room-1"
            assert server.state.create_count(token) == 2

            # An upload in flight is its host's alone to cancel (only it knows whether MVSEP
            # got it): said plainly, and nothing changes.
            server.faults.set("slow", endpoints=["/api/separation/create"], delay_seconds=8.0)
            studio.write(1, seed=42, prefix="slow ")
            wait_until(lambda: "uploading" in _states(studio), 60, message="the upload")
            uploading = next(j for j in studio.jobs() if j.state is JobState.UPLOADING)
            other = room_2 if uploading.owner_host == "room-1" else room_1
            refused = _cli(other, "cancel", str(uploading.id))
            assert refused.returncode != 0
            said = f"job {uploading.id} is being uploaded by {uploading.owner_host}"
            assert said in refused.stderr, refused.stderr
            assert studio.server.state.create_count(token) == 2  # the slow create is still on
            (still,) = [j for j in studio.jobs() if j.id == uploading.id]
            assert (still.state, still.owner_host) == (JobState.UPLOADING, uploading.owner_host)
        finally:
            studio.stop_all()


def _states(studio: Studio) -> list[str]:
    return sorted(job.state.value for job in studio.jobs())

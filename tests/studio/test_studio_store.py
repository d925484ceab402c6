"""The studio store on a real PostgreSQL: the races of several hosts, leases and fencing,
takeover, paths on a share, migrations applied once, and no password in any error."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mvsepd.errors import LeaseLostError, StoreError
from mvsepd.models import DeliveryState, JobState
from mvsepd.store import SourceRecord, pgschema
from mvsepd.store.deliveries import DeliveryKeys
from mvsepd.store.postgres import PostgresJobStore

HOSTS = 8


def _job(store: PostgresJobStore, sha: str = "a" * 64, folder: str = "/mnt/nas/in") -> Any:
    return store.find_or_create(
        content_sha256=sha,
        preset_fingerprint="f" * 64,
        preset_name="vocals",
        folder_path=folder,
        source_path=f"{folder}/take.wav",
        source_size=10,
        sep_type=48,
        options={},
        output_format=1,
    )


def _room(dsn: str, host: str, mount: str) -> PostgresJobStore:
    """A host mounting the share at ``mount``, with one-second leases."""
    return PostgresJobStore(dsn, host_id=host, shares={"nas": mount}, lease_seconds=1)


def _race(target: Any, arguments: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target`` in one process per argument tuple, all released at once by a barrier."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(arguments))
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(barrier, results, *args)) for args in arguments
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return answers


def _create(barrier: Any, results: Any, dsn: str, host: str) -> None:
    store = PostgresJobStore(dsn, host_id=host, shares={"nas": "/mnt/nas"})
    barrier.wait()
    job, created = _job(store)
    results.put((host, job.id, created))
    store.close()


def _claim(barrier: Any, results: Any, dsn: str, host: str, sha: str) -> None:
    store = PostgresJobStore(dsn, host_id=host, shares={"nas": "/mnt/nas"})
    job, _ = _job(store, sha=sha)
    store.transition(job.id, JobState.STABLE)
    barrier.wait()
    claimed = store.claim_slot(job.id, limit=1, upload_started_at=time.time())
    results.put((host, claimed is not None))
    store.close()


def _open(barrier: Any, results: Any, dsn: str, host: str) -> None:
    barrier.wait()
    store = PostgresJobStore(dsn, host_id=host, shares={})
    results.put(host)
    store.close()


def test_hosts_racing_for_one_file_make_one_job(postgres_dsn: str) -> None:
    answers = _race(_create, [(postgres_dsn, f"room-{n}") for n in range(HOSTS)])
    assert sum(created for _host, _id, created in answers) == 1
    assert len({job_id for _host, job_id, _created in answers}) == 1


def test_a_limit_of_one_holds_for_hosts_claiming_at_once(postgres_dsn: str) -> None:
    answers = _race(_claim, [(postgres_dsn, f"room-{n}", f"{n:x}" * 64) for n in range(1, 5)])
    assert sum(claimed for _host, claimed in answers) == 1
    with PostgresJobStore(postgres_dsn, host_id="observer", shares={}) as store:
        assert len(store.jobs([JobState.UPLOADING])) == 1


def test_migrations_are_applied_once_when_every_host_starts_at_once(postgres_dsn: str) -> None:
    _race(_open, [(postgres_dsn, f"room-{n}") for n in range(4)])
    with psycopg.connect(postgres_dsn) as connection:
        rows = connection.execute("SELECT version, applied_by FROM schema_migrations").fetchall()
    # Each migration once, all by the one host that took the lock first.
    assert sorted(version for version, _host in rows) == list(range(1, pgschema.SCHEMA_VERSION + 1))
    assert len({host for _version, host in rows}) == 1


def test_a_database_newer_than_this_mvsepd_is_refused(postgres_dsn: str) -> None:
    PostgresJobStore(postgres_dsn, host_id="a", shares={}).close()
    with psycopg.connect(postgres_dsn) as connection:
        connection.execute("INSERT INTO schema_migrations (version, applied_by) VALUES (99, 'x')")
    with pytest.raises(StoreError, match="newer mvsepd"):
        PostgresJobStore(postgres_dsn, host_id="a", shares={})


def test_only_the_host_holding_the_lease_may_change_a_job(postgres_dsn: str) -> None:
    room_a = PostgresJobStore(postgres_dsn, host_id="a", shares={"nas": "/mnt/nas"})
    room_b = PostgresJobStore(postgres_dsn, host_id="b", shares={"nas": "/Volumes/nas"})
    job, _ = _job(room_a)
    seen_by_b = room_b.get(job.id)
    assert room_a.owns(job) and not room_b.owns(seen_by_b)
    with pytest.raises(LeaseLostError, match="a's"):
        room_b.transition(job.id, JobState.STABLE)
    with pytest.raises(LeaseLostError):
        room_b.update_progress(job.id, queue_count=3)
    assert room_b.take_over() == []  # a's lease and heartbeat are fresh
    assert room_a.get(job.id).state is JobState.DISCOVERED
    room_a.close()
    room_b.close()


def test_a_cancel_on_another_host_takes_the_job_and_fences_its_host_out(
    postgres_dsn: str,
) -> None:
    room_a = PostgresJobStore(postgres_dsn, host_id="a", shares={"nas": "/mnt/nas"})
    room_b = PostgresJobStore(postgres_dsn, host_id="b", shares={"nas": "/Volumes/nas"})
    job, _ = _job(room_a)
    room_a.transition(job.id, JobState.STABLE)

    cancelled = room_b.transition(
        job.id, JobState.CANCELLED, expected=JobState.STABLE, adopt=True, reason="cancelled"
    )

    assert (cancelled.owner_host, cancelled.lease_epoch) == ("b", job.lease_epoch + 1)
    assert room_b.owns(cancelled) and not room_a.owns(room_a.get(job.id))
    with pytest.raises(LeaseLostError, match="b's"):
        room_a.update_progress(job.id, queue_count=3)  # a poll a ended after the cancel
    with pytest.raises(LeaseLostError):
        room_a.check_lease(job.id)  # a places no stems for it
    assert room_a.get(job.id).state is JobState.CANCELLED
    room_a.close()
    room_b.close()


def test_a_silent_hosts_jobs_are_taken_over_and_its_late_writes_refused(
    postgres_dsn: str,
) -> None:
    room_a = _room(postgres_dsn, "a", "/mnt/nas")
    room_b = _room(postgres_dsn, "b", "/Volumes/nas")
    shared, _ = _job(room_a)
    private, _ = _job(room_a, sha="b" * 64, folder="/home/a/exports")
    room_a.transition(shared.id, JobState.STABLE)
    time.sleep(2.2)  # a's lease and heartbeat run out; b's heartbeat goes on
    room_b.heartbeat()
    taken = room_b.take_over()
    assert [(job.id, former) for job, former in taken] == [(shared.id, "a")]
    job = taken[0][0]
    assert job.owner_host == "b" and job.lease_epoch == 2 and room_b.owns(job)
    assert job.folder_path == "/Volumes/nas/in"
    # The private folder's job is a's alone: no other host can reach its file.
    assert room_b.get(private.id).owner_host == "a"
    with pytest.raises(LeaseLostError, match="b's"):
        room_a.transition(shared.id, JobState.WAITING_SLOT)
    moved = room_b.transition(shared.id, JobState.WAITING_SLOT)
    assert moved.state is JobState.WAITING_SLOT
    assert "taken over from a" in (room_b.events(shared.id)[-2][3] or "")
    room_a.close()
    room_b.close()


def test_a_finished_jobs_late_delivery_waits_for_no_switched_off_host(
    postgres_dsn: str,
) -> None:
    room_a = _room(postgres_dsn, "a", "/mnt/nas")
    room_b = _room(postgres_dsn, "b", "/Volumes/nas")
    room_c = _room(postgres_dsn, "c", "/nas")
    finished, _ = _job(room_a)
    quiet, _ = _job(room_a, sha="b" * 64)
    for job in (finished, quiet):
        for state in (JobState.STABLE, JobState.UPLOADING, JobState.SUBMITTED,
                      JobState.DOWNLOADING, JobState.DONE):  # fmt: skip
            room_a.transition(job.id, state)
    for job in (finished, quiet):  # their stems placed where they were first dropped
        for delivery in room_a.deliveries(job.id):
            room_a.finish_delivery(delivery.id, DeliveryState.DONE, output_dir="/mnt/nas/stems")
    # The same take dropped again on the share, seen by b, while a is still up: a places it.
    again, added = room_b.add_delivery(
        finished.id, DeliveryKeys("/Volumes/nas/in", "/Volumes/nas/in/take (2).wav", "vocals")
    )
    assert added
    assert room_b.take_over() == []
    assert [d.id for d in room_a.late_deliveries()] == [again.id]
    assert room_b.late_deliveries() == []
    room_a.close()  # a is switched off for the night
    time.sleep(2.2)
    room_b.heartbeat()
    room_c.heartbeat()
    taken = room_b.take_over()
    # Only the finished job that something waits for; one host takes it, the other sees it is b's.
    assert [(job.id, former, job.state) for job, former in taken] == [
        (finished.id, "a", JobState.DONE)
    ]
    assert room_c.take_over() == []
    assert [d.id for d in room_b.late_deliveries()] == [again.id]
    assert room_c.late_deliveries() == []
    assert room_b.get(quiet.id).owner_host == "a"
    assert "late deliveries taken over from a" in (room_b.events(finished.id)[-1][3] or "")
    room_b.close()
    room_c.close()


def test_paths_on_a_share_are_the_same_file_on_every_host(postgres_dsn: str) -> None:
    room_a = PostgresJobStore(postgres_dsn, host_id="a", shares={"nas": "/mnt/nas"})
    room_b = PostgresJobStore(postgres_dsn, host_id="b", shares={"nas": "/Volumes/studio nas"})
    job, _ = _job(room_a)
    assert room_b.get(job.id).source_path == "/Volumes/studio nas/in/take.wav"
    room_a.record_source(SourceRecord("/mnt/nas/in", "take.wav", 10, 5, "a" * 64, job.id, "job"))
    assert room_b.source_stats("/Volumes/studio nas/in") == {"take.wav": (10, 5)}
    # A folder of one host alone is not another host's folder of the same name.
    room_a.mark_folder_watched("/home/me/exports")
    assert room_b.folder_first_watched("/home/me/exports") is None
    odd = os.fsdecode(b"/mnt/nas/in/caf\xe9.wav")
    named, _ = room_a.find_or_create(
        content_sha256="c" * 64, preset_fingerprint="f" * 64, preset_name="p",
        folder_path="/mnt/nas/in", source_path=odd, source_size=1, sep_type=1, options={},
        output_format=1,
    )  # fmt: skip
    assert room_a.get(named.id).source_path == odd
    room_a.close()
    room_b.close()


def test_errors_never_show_the_password(tmp_path: Path) -> None:
    dsn = f"host={tmp_path} port=1 user=mixer password=s3cret-word dbname=studio"
    with pytest.raises(StoreError) as caught:
        PostgresJobStore(dsn, host_id="a", shares={}, connect_timeout=2)
    assert "s3cret-word" not in str(caught.value)
    assert "dbname=studio" in str(caught.value)

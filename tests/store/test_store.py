"""The job store: identity, guarded transitions, atomic side records, durability, integrity.

The contract tests take ``open_store`` and run over both backends (SQLite, and PostgreSQL as
studio mode uses it); the SQLite file's own properties are tested on SQLite alone."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from mvsepd.errors import IllegalTransitionError, StoreError
from mvsepd.models import HoldKind, JobState
from mvsepd.store import SCHEMA_VERSION, JobStore, SourceRecord, SqlJobStore
from tests.store.conftest import OpenStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def new_job(store: SqlJobStore, sha: str = "a" * 64, fingerprint: str = "f" * 64):
    return store.find_or_create(
        content_sha256=sha,
        preset_fingerprint=fingerprint,
        preset_name="vocals",
        folder_path="/hot",
        source_path="/hot/song.wav",
        source_size=100,
        sep_type=48,
        options={"add_opt1": "4"},
        output_format=1,
    )


def test_identity_is_content_plus_preset(open_store: OpenStore) -> None:
    with open_store() as store:
        first, created = new_job(store)
        again, created_again = new_job(store)
        other_preset, created_other = new_job(store, fingerprint="e" * 64)
        assert created and not created_again and created_other
        assert again.id == first.id != other_preset.id
        assert first.state is JobState.DISCOVERED
        assert first.options == {"add_opt1": "4"}


def test_transition_writes_state_fields_and_event_together(open_store: OpenStore) -> None:
    clock = Clock()
    with open_store(clock) as store:
        job, _ = new_job(store)
        store.transition(job.id, JobState.STABLE, duration_seconds=12.5, credits_estimate=1)
        clock.now += 1
        store.transition(job.id, JobState.UPLOADING, upload_started_at=clock.now)
        updated = store.transition(
            job.id, JobState.SUBMITTED, separation_hash="20240101000000-abc-x.wav", server="s"
        )
        assert updated.state is JobState.SUBMITTED
        assert updated.separation_hash == "20240101000000-abc-x.wav"
        assert [to for _, _, to, _ in store.events(job.id)] == [
            "discovered",
            "stable",
            "uploading",
            "submitted",
        ]


def test_illegal_transitions_are_refused_and_change_nothing(open_store: OpenStore) -> None:
    with open_store() as store:
        job, _ = new_job(store)
        with pytest.raises(IllegalTransitionError):
            store.transition(job.id, JobState.SUBMITTED, separation_hash="x")
        assert store.get(job.id).state is JobState.DISCOVERED
        assert store.get(job.id).separation_hash is None
        assert len(store.events(job.id)) == 1


def test_expected_state_guards_against_races(open_store: OpenStore) -> None:
    with open_store() as store:
        job, _ = new_job(store)
        store.transition(job.id, JobState.STABLE)
        with pytest.raises(IllegalTransitionError):
            store.transition(job.id, JobState.UPLOADING, expected=JobState.WAITING_SLOT)


def test_progress_updates_cannot_change_state(open_store: OpenStore) -> None:
    with open_store() as store:
        job, _ = new_job(store)
        with pytest.raises(StoreError):
            store.update_progress(job.id, state="done")
        updated = store.update_progress(job.id, queue_count=12, current_order=3)
        assert (updated.queue_count, updated.current_order) == (12, 3)


def test_a_separation_hash_belongs_to_one_job(open_store: OpenStore) -> None:
    with open_store() as store:
        for sha in ("a" * 64, "b" * 64):
            job, _ = new_job(store, sha=sha)
            store.transition(job.id, JobState.STABLE)
            store.transition(job.id, JobState.UPLOADING)
        first, second = store.jobs()
        store.transition(first.id, JobState.SUBMITTED, separation_hash="h1")
        with pytest.raises(StoreError):
            store.transition(second.id, JobState.SUBMITTED, separation_hash="h1")
        assert store.get(second.id).state is JobState.UPLOADING


def test_state_survives_reopening(open_store: OpenStore) -> None:
    with open_store() as store:
        job, _ = new_job(store)
        store.transition(job.id, JobState.STABLE)
        store.transition(job.id, JobState.UPLOADING)
        store.transition(job.id, JobState.SUBMITTED, separation_hash="h")
    with open_store() as store:
        assert store.get(job.id).separation_hash == "h"
        assert store.integrity_problems() == []


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    JobStore(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match="newer mvsepd"):
        JobStore(path)


def test_integrity_check_finds_inconsistent_rows(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with JobStore(path) as store:
        job, _ = new_job(store)
    connection = sqlite3.connect(path)
    connection.execute("UPDATE jobs SET state = 'submitted' WHERE id = ?", (job.id,))
    connection.commit()
    connection.close()
    with JobStore(path) as store:
        assert store.integrity_problems() == [f"job {job.id}: submitted without a separation hash"]


def test_sources_folders_and_flags(open_store: OpenStore) -> None:
    with open_store() as store:
        record = SourceRecord("/hot", "a.wav", 10, 123, "a" * 64, None, "skipped")
        store.record_source(record)
        assert store.source("/hot", "a.wav") == record
        assert set(store.sources_in("/hot")) == {"a.wav"}
        store.forget_source("/hot", "a.wav")
        assert store.source("/hot", "a.wav") is None
        assert store.folder_first_watched("/hot") is None
        store.mark_folder_watched("/hot")
        assert store.folder_first_watched("/hot") is not None
        store.set_flag("paused", "1")
        assert store.flag("paused") == "1"
        store.set_flag("paused", None)
        assert store.flag("paused") is None


def test_a_first_watch_records_the_files_it_skips_and_never_hides_a_job(
    open_store: OpenStore,
) -> None:
    with open_store() as store:
        done = SourceRecord("/hot", "done.wav", 5, 1, "d" * 64, None, "job")
        store.record_source(done)
        before = [("b.wav", 20, 2), ("a.wav", 10, 1), ("done.wav", 5, 1), ("c d.wav", 30, 3)]
        store.mark_folder_watched("/hot", before)
        assert store.folder_first_watched("/hot") is not None
        # A file handled already keeps its record; the others are skipped, named in order.
        assert store.source("/hot", "done.wav") == done
        assert store.skipped_files("/hot") == (3, ["a.wav", "b.wav", "c d.wav"])
        assert store.skipped_files("/hot", limit=2) == (3, ["a.wav", "b.wav"])
        assert store.skipped_files("/elsewhere") == (0, [])
        # Taken: forgotten as skipped (so they are new files), and only those.
        assert store.release_skipped("/hot") == 3
        assert store.skipped_files("/hot") == (0, [])
        assert set(store.sources_in("/hot")) == {"done.wav"}
        assert store.release_skipped("/hot") == 0


def test_a_check_cut_short_is_left_out_of_a_scans_known_files(open_store: OpenStore) -> None:
    clock = Clock()  # the studio store keeps the database's time instead
    with open_store(clock) as store:
        store.record_source(SourceRecord("/hot", "done.wav", 10, 1, "a" * 64, None, "job"))
        store.record_source(SourceRecord("/hot", "cut.wav", 10, 2, None, None, "checking"))
        clock.now += 10
        time.sleep(0.05)
        store.record_source(SourceRecord("/hot", "now.wav", 10, 3, None, None, "checking"))
        cut, going_on = store.source("/hot", "cut.wav"), store.source("/hot", "now.wav")
        assert cut is not None and going_on is not None and cut.seen_at < going_on.seen_at
        started = (cut.seen_at + going_on.seen_at) / 2  # the daemon started between the two
        assert store.source_stats("/hot") == {"done.wav": (10, 1), "cut.wav": (10, 2),
                                              "now.wav": (10, 3)}  # fmt: skip
        # The check from before the start never ended: looked at again. The other goes on.
        assert store.source_stats("/hot", checks_since=started) == {
            "done.wav": (10, 1), "now.wav": (10, 3)
        }  # fmt: skip


def test_credits_committed_since(open_store: OpenStore) -> None:
    clock = Clock()
    with open_store(clock) as store:
        job, _ = new_job(store)
        store.transition(job.id, JobState.STABLE, credits_estimate=3)
        assert store.credits_committed_since(clock.now - 10) == 0
        store.transition(job.id, JobState.UPLOADING, upload_started_at=clock.now)
        assert store.credits_committed_since(clock.now - 10) == 3
        assert store.credits_committed_since(clock.now + 10) == 0


def test_file_names_that_are_not_utf8_round_trip(open_store: OpenStore) -> None:
    # A name with an invalid UTF-8 byte reaches Python as a surrogate escape.
    odd = os.fsdecode(b"/hot/caf\xe9 mix.wav")
    with open_store() as store:
        job, _ = store.find_or_create(
            content_sha256="c" * 64,
            preset_fingerprint="f" * 64,
            preset_name="p",
            folder_path="/hot",
            source_path=odd,
            source_size=1,
            sep_type=1,
            options={},
            output_format=1,
        )
        assert store.get(job.id).source_path == odd
        relative = os.fsdecode(b"caf\xe9 mix.wav")
        store.record_source(SourceRecord("/hot", relative, 1, 2, None, job.id, "job"))
        assert store.source("/hot", relative) is not None
        assert relative in store.sources_in("/hot")
        store.forget_source("/hot", relative)
        assert store.source("/hot", relative) is None


def test_a_job_never_sent_is_discarded_whole_and_its_id_never_given_again(
    open_store: OpenStore,
) -> None:
    with open_store() as store:
        kept, _ = new_job(store, sha="1" * 64)
        job, _ = new_job(store, sha="2" * 64)
        store.record_source(SourceRecord("/hot", "song.wav", 100, 1, "2" * 64, job.id, "job"))
        store.transition(job.id, JobState.STABLE)
        store.transition(job.id, JobState.WAITING_SLOT)

        # Not in the states the caller expects: nothing removed.
        assert store.discard_unsent(job.id, expected=[JobState.STABLE]) is None
        discarded = store.discard_unsent(job.id, expected=[JobState.WAITING_SLOT])
        assert discarded is not None and discarded.id == job.id
        with pytest.raises(StoreError):
            store.get(job.id)
        assert store.deliveries(job.id) == []
        assert store.source("/hot", "song.wav") is None  # the file is looked at anew
        # The same audio and preset again: a new job, with an id of its own.
        again, created = new_job(store, sha="2" * 64)
        assert created and again.id > job.id > kept.id


def test_a_job_an_upload_of_which_began_or_with_a_later_step_is_never_discarded(
    open_store: OpenStore,
) -> None:
    with open_store() as store:
        sent, _ = new_job(store, sha="3" * 64)
        store.transition(sent.id, JobState.STABLE)
        store.transition(sent.id, JobState.WAITING_SLOT)
        uploading = store.claim_slot(sent.id, limit=5, upload_started_at=1.0)
        assert uploading is not None
        store.transition(sent.id, JobState.RETRY_WAIT, expected=JobState.UPLOADING)
        assert store.discard_unsent(sent.id, expected=list(JobState)) is None
        assert store.get(sent.id).state is JobState.RETRY_WAIT

        parent, _ = new_job(store, sha="4" * 64)
        store.find_or_create(
            content_sha256="5" * 64,
            preset_fingerprint="f" * 64,
            preset_name="chain",
            folder_path="/hot",
            source_path="/hot/song.wav",
            source_size=None,
            sep_type=22,
            options={},
            output_format=1,
            parent_job_id=parent.id,
        )
        assert store.discard_unsent(parent.id, expected=list(JobState)) is None
        assert store.get(parent.id).state is JobState.DISCOVERED


def test_processing_times_are_kept_by_model_newest_first_and_pruned(
    open_store: OpenStore,
) -> None:
    from mvsepd.store import ProcessingTime
    from mvsepd.store.timing import KEPT_PER_MODEL

    clock = Clock()
    store = open_store(clock)
    for second in range(KEPT_PER_MODEL + 5):
        clock.now += 1
        store.record_processing_time("20:{}", ProcessingTime(300.0, 50.0 + second, 60.0 + second))
    store.record_processing_time("48:{}", ProcessingTime(180.0, 20.0, 25.0))
    kept = open_store(clock).processing_times("20:{}")
    assert len(kept) == KEPT_PER_MODEL
    assert kept[0] == ProcessingTime(300.0, 50.0 + KEPT_PER_MODEL + 4, 60.0 + KEPT_PER_MODEL + 4)
    assert [row.shortest for row in kept] == sorted((row.shortest for row in kept), reverse=True)
    assert store.processing_times("48:{}") == [ProcessingTime(180.0, 20.0, 25.0)]
    assert store.processing_times("unknown:{}") == []


def test_a_jobs_timings_are_written_with_its_transitions(open_store: OpenStore) -> None:
    store = open_store()
    job, _ = new_job(store)
    stable = store.transition(job.id, JobState.STABLE, timings_json=job.with_timings(ready=100.0))
    assert stable.timings == {"ready": 100.0}
    updated = store.update_progress(job.id, timings_json=stable.with_timings(upload_began=101.5))
    assert open_store().get(job.id).timings == {"ready": 100.0, "upload_began": 101.5}
    assert updated.timings == {"ready": 100.0, "upload_began": 101.5}


def test_a_hold_says_why_as_data_and_leaving_it_clears_that(open_store: OpenStore) -> None:
    with open_store() as store:
        job, _ = new_job(store)
        store.transition(job.id, JobState.STABLE)
        held = store.transition(
            job.id, JobState.HELD, reason="any words at all", hold_kind=HoldKind.BUDGET
        )
        assert held.hold_kind is HoldKind.BUDGET
        assert store.get(job.id).hold_kind is HoldKind.BUDGET
        released = store.transition(job.id, JobState.STABLE, reason=None)
        assert released.hold_kind is None


def test_held_jobs_of_an_older_store_get_their_kind_from_their_reason(tmp_path: Path) -> None:
    # A store of schema 8 (before hold kinds), with jobs held by that version's words.
    path = tmp_path / "jobs.sqlite3"
    reasons = {
        "1" * 64: ("MVSEP refused the API token", HoldKind.TOKEN),
        "2" * 64: (
            "daily credit budget reached (10 of 10 credits committed today)",
            HoldKind.BUDGET,
        ),
        "3" * 64: ("needs a premium MVSEP account: the model 'X' is for premium", HoldKind.PREMIUM),
    }
    with JobStore(path) as store:
        ids = {}
        for sha, (reason, _kind) in reasons.items():
            job, _ = new_job(store, sha=sha)
            store.transition(job.id, JobState.STABLE)
            store.transition(job.id, JobState.HELD, reason=reason)
            ids[sha] = job.id
        waiting, _ = new_job(store, sha="4" * 64)
    connection = sqlite3.connect(path)
    connection.execute("ALTER TABLE jobs DROP COLUMN hold_kind")
    connection.execute("PRAGMA user_version = 8")
    connection.commit()
    connection.close()
    with JobStore(path) as store:
        for sha, (_reason, kind) in reasons.items():
            assert store.get(ids[sha]).hold_kind is kind
        assert store.get(waiting.id).hold_kind is None

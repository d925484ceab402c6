"""Every RemoteStatus the emulator produces, as MvsepClient reads it over real HTTP.

waiting (``queue_count``/``current_order`` per priority class, across accounts), processing,
distributing (chunks), merging, done, failed (the ``job_failed`` fault), not_found (unknown,
and expired after 72 h on a ManualClock), and unknown (get-remote's "being downloaded").
Time moves only when a test advances the emulator's ManualClock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mvsepd.errors import NotFoundError
from mvsepd.models import RemoteStatus
from tests.api_live_emulator.conftest import ClientFactory, ServerFactory
from tests.api_live_emulator.support import settle, write_audio

MEL_ROFORMER = 48


def test_waiting_reports_the_position_within_each_priority_class(
    make_server: ServerFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    # One worker busy for 100 s: everything created after the first job waits behind it.
    server = make_server(processing_seconds=100.0, workers=1)
    first = make_client(server.add_account(plan="premium", credits=100).token, on=server)
    second = make_client(server.add_account(plan="premium", credits=100).token, on=server)
    free_token = server.add_account(plan="free").token
    free = make_client(free_token, on=server)
    song = write_audio(tmp_path / "song.wav", 0.5)

    running = first.create_separation(song, sep_type=MEL_ROFORMER)
    first_waiting = first.create_separation(song, sep_type=MEL_ROFORMER)
    second_waiting = second.create_separation(song, sep_type=MEL_ROFORMER)
    free_waiting = free.create_separation(song, sep_type=MEL_ROFORMER)

    processing = first.get_separation(running.hash)
    assert processing.status is RemoteStatus.PROCESSING
    assert processing.message == "Your file is being processed"
    head = first.get_separation(first_waiting.hash)
    assert (head.status, head.queue_count, head.current_order) == (RemoteStatus.WAITING, 2, 1)
    behind = second.get_separation(second_waiting.hash)
    assert (behind.status, behind.queue_count, behind.current_order) == (
        RemoteStatus.WAITING,
        2,
        2,
    )
    registered = free.get_separation(free_waiting.hash)  # its own class: first of one
    assert (registered.queue_count, registered.current_order) == (1, 1)
    queue = free.queue()
    assert (queue.in_process, queue.premium, queue.registered) == (1, 2, 1)
    assert (queue.plan_name, queue.plan_queue) == ("registered", 1)
    assert first.user().current_queue == 2

    settle(server)
    server.advance(100.0)  # the running job is done; the premium head of the queue starts

    assert first.get_separation(running.hash).status is RemoteStatus.DONE
    assert first.get_separation(first_waiting.hash).status is RemoteStatus.PROCESSING
    moved_up = second.get_separation(second_waiting.hash)
    assert (moved_up.status, moved_up.queue_count, moved_up.current_order) == (
        RemoteStatus.WAITING,
        1,
        1,
    )
    assert free.get_separation(free_waiting.hash).current_order == 1  # premium goes first


def test_long_inputs_are_distributed_in_chunks_then_merged(
    make_server: ServerFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    # One second counts as "long" here: four chunks of 0.25 s.
    server = make_server(
        distribute_above_seconds=0.5,
        chunk_seconds=0.25,
        processing_seconds=10.0,
        merging_seconds=10.0,
    )
    client = make_client(server.add_account(plan="premium", credits=100).token, on=server)
    created = client.create_separation(write_audio(tmp_path / "long.wav", 1.0), sep_type=48)

    started = client.get_separation(created.hash)
    assert started.status is RemoteStatus.DISTRIBUTING
    assert (started.finished_chunks, started.all_chunks) == (0, 4)
    assert started.message is not None and "distributed" in started.message
    server.advance(5.0)
    halfway = client.get_separation(created.hash)
    assert (halfway.status, halfway.finished_chunks, halfway.all_chunks) == (
        RemoteStatus.DISTRIBUTING,
        2,
        4,
    )

    settle(server)
    server.advance(5.0)
    merging = client.get_separation(created.hash)
    assert merging.status is RemoteStatus.MERGING
    assert merging.message is not None and "merged" in merging.message

    server.advance(10.0)
    done = client.get_separation(created.hash)
    assert done.status is RemoteStatus.DONE
    assert done.status.finished
    assert {file.type for file in done.files} == {"Vocals", "Other"}


def test_a_failed_job_says_why_and_is_refunded(
    make_server: ServerFactory, make_client: ClientFactory, audio: Path
) -> None:
    server = make_server()
    token = server.add_account(plan="premium", credits=100).token
    client = make_client(token, on=server)
    server.faults.set("job_failed", count=1)

    created = client.create_separation(audio, sep_type=MEL_ROFORMER)
    status = client.get_separation(created.hash)

    assert status.status is RemoteStatus.FAILED and status.status.finished
    assert status.message is not None and "error occurred" in status.message
    assert status.files == ()
    assert server.state.credits(token) == 100
    # The fault fired once: the next job of the same account runs normally.
    again = client.create_separation(audio, sep_type=MEL_ROFORMER)
    settle(server)
    assert client.get_separation(again.hash).status is RemoteStatus.DONE


def test_results_expire_after_72_hours(
    make_server: ServerFactory, make_client: ClientFactory, audio: Path, tmp_path: Path
) -> None:
    server = make_server()
    client = make_client(server.add_account(plan="premium", credits=100).token, on=server)
    created = client.create_separation(audio, sep_type=MEL_ROFORMER)
    settle(server)
    done = client.get_separation(created.hash)
    assert done.status is RemoteStatus.DONE
    (entry,) = client.separation_history()
    assert entry.time_left_hours == 72

    server.advance(71 * 3600.0)
    assert client.get_separation(created.hash).status is RemoteStatus.DONE
    server.advance(1 * 3600.0 + 1.0)

    expired = client.get_separation(created.hash)
    assert expired.status is RemoteStatus.NOT_FOUND and expired.status.finished
    assert expired.message == "File or File Hash not found"
    (entry,) = client.separation_history()
    assert entry.hash == created.hash and entry.time_left_hours == 0
    with pytest.raises(NotFoundError):
        client.download_result(done.files[0], tmp_path / "late.wav")
    assert not (tmp_path / "late.wav").exists()


def test_unknown_hashes_read_as_not_found(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = make_server()
    client = make_client(None, on=server)

    unknown = client.get_separation("20231114221320-0123456789-nothing.wav")
    remote = client.get_remote("NoSuchShortHash1")

    assert unknown.status is RemoteStatus.NOT_FOUND
    assert remote.status is RemoteStatus.NOT_FOUND


def test_get_remote_reads_being_downloaded_as_unknown_still_running(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = make_server(remote_download_polls=5)
    client = make_client(server.add_account(plan="premium", credits=100).token, on=server)
    # Not loopback: the emulator invents the audio instead of fetching (it has no internet).
    created = client.create_separation_from_url(
        "https://example.invalid/music/Track.mp3", sep_type=MEL_ROFORMER
    )

    status = client.get_remote(created.short_hash)

    assert status.status is RemoteStatus.UNKNOWN and not status.status.finished
    assert status.raw_status == ""
    assert status.message == "Your audio file is being downloaded, please wait a while..."

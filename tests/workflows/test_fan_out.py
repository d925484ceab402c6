"""Several presets per folder, and the same audio dropped into a second place: one job per
(input, preset), every place gets its stems, nothing is paid twice."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from mvsepd.emulator import EmulatorSettings, ManualClock
from mvsepd.models import DeliveryState
from tests.conform.material import Source, write_source
from tests.integration.support import wait_until
from tests.workflows.support import daemon_for, done, folder_config, settle, world

PRESETS = """presets:
  vocals: {sep_type: 48, output_format: flac24}
  drums: {sep_type: 44, output_format: flac24}
"""


def test_a_folder_with_two_presets_makes_two_jobs_and_two_result_folders(tmp_path: Path) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Exports")
        body = PRESETS + "folders:\n" + folder_config(hot, "[vocals, drums]")
        with daemon_for(place, body) as daemon:
            write_source(hot, Source("Song", 48000, 2, "PCM_24"), seed=1)
            jobs = done(settle(daemon, 2))
        assert len(place.remote_jobs()) == 2
        assert sorted(job.preset_name for job in jobs) == ["drums", "vocals"]
        track = place.stems_of("Exports") / "Song"
        assert sorted(p.name for p in (track / "vocals").iterdir()) == [
            "Song - Instrumental.wav",
            "Song - Vocals.wav",
            "manifest.json",
        ]
        assert sorted(p.name for p in (track / "drums").iterdir()) == [
            "Song - Drums.wav",
            "Song - Other.wav",
            "manifest.json",
        ]


def test_the_same_audio_in_a_second_folder_gets_its_stems_there_without_a_new_job(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as place:
        first, second = place.folder("Room A"), place.folder("Room B")
        body = (
            PRESETS
            + "folders:\n"
            + folder_config(first, "vocals")
            + folder_config(second, "vocals")
        )
        with daemon_for(place, body) as daemon:
            original = write_source(first, Source("Take", 44100, 2, "PCM_16"), seed=2)
            (job,) = done(settle(daemon, 1))
            # Dropped again, under a name of its own, after the first stems are in place.
            shutil.copyfile(original, second / "Take (copy).wav")
            wait_until(
                lambda: len(daemon.store.deliveries(job.id, states=[DeliveryState.DONE])) == 2,
                30,
                message="the second place's stems",
            )
        assert len(place.remote_jobs()) == 1
        there = place.stems_of("Room B") / "Take (copy)"
        names = sorted(p.name for p in there.iterdir())
        assert names == [
            "Take (copy) - Instrumental.wav",
            "Take (copy) - Vocals.wav",
            "manifest.json",
        ]
        manifest = json.loads((there / "manifest.json").read_text())
        assert manifest["copied_from"]["job_id"] == job.id
        first_stems = place.stems_of("Room A") / "Take"
        assert (there / "Take (copy) - Vocals.wav").read_bytes() == (
            first_stems / "Take - Vocals.wav"
        ).read_bytes()


def test_two_copies_dropped_together_both_get_stems_from_one_job(tmp_path: Path) -> None:
    # Both copies wait for the one job: its downloads serve the two places in one go.
    slow = EmulatorSettings(
        publish_seconds=0.3, queue_seconds=0.0, processing_seconds=2.0, rate_limit=False
    )
    with world(tmp_path, slow) as place:
        first, second = place.folder("Room A"), place.folder("Room B")
        body = (
            PRESETS
            + "folders:\n"
            + folder_config(first, "vocals")
            + folder_config(second, "vocals")
        )
        with daemon_for(place, body) as daemon:
            original = write_source(first, Source("Take", 48000, 2, "PCM_24"), seed=5)
            shutil.copyfile(original, second / "Take (copy).wav")
            (job,) = done(settle(daemon, 1))
            deliveries = daemon.store.deliveries(job.id)
        assert len(place.remote_jobs()) == 1
        assert [d.state for d in deliveries] == [DeliveryState.DONE, DeliveryState.DONE]
        for folder, track in (("Room A", "Take"), ("Room B", "Take (copy)")):
            names = sorted(p.name for p in (place.stems_of(folder) / track).iterdir())
            assert names == [
                f"{track} - Instrumental.wav",
                f"{track} - Vocals.wav",
                "manifest.json",
            ]


def test_a_second_place_whose_first_result_is_gone_is_downloaded_again(tmp_path: Path) -> None:
    with world(tmp_path) as place:
        first, second = place.folder("Room A"), place.folder("Room B")
        body = (
            PRESETS
            + "folders:\n"
            + folder_config(first, "vocals")
            + folder_config(second, "vocals")
        )
        with daemon_for(place, body) as daemon:
            original = write_source(first, Source("Take", 48000, 1, "PCM_24"), seed=3)
            (job,) = done(settle(daemon, 1))
            shutil.rmtree(place.stems_of("Room A"))  # the user cleared the first result
            shutil.copyfile(original, second / "Take.wav")
            wait_until(
                lambda: len(daemon.store.deliveries(job.id, states=[DeliveryState.DONE])) == 2,
                30,
                message="the second place's stems",
            )
        assert len(place.remote_jobs()) == 1
        manifest = json.loads((place.stems_of("Room B") / "Take" / "manifest.json").read_text())
        assert manifest["delivered_from_job"] == job.id
        assert manifest["mvsep"]["hash"] == job.separation_hash
        assert len(manifest["outputs"]) == 2


def test_a_second_place_after_mvsep_deleted_the_results_is_told_why(tmp_path: Path) -> None:
    instant = EmulatorSettings(
        publish_seconds=0.0, queue_seconds=0.0, processing_seconds=0.0, rate_limit=False
    )
    with world(tmp_path, instant, clock=ManualClock(time.time())) as place:
        first, second = place.folder("Room A"), place.folder("Room B")
        body = (
            PRESETS
            + "folders:\n"
            + folder_config(first, "vocals")
            + folder_config(second, "vocals")
        )
        with daemon_for(place, body) as daemon:
            original = write_source(first, Source("Take", 44100, 2, "PCM_16"), seed=4)
            (job,) = done(settle(daemon, 1))
            shutil.rmtree(place.stems_of("Room A"))
            place.server.advance(73 * 3600)  # MVSEP keeps results about 72 hours
            shutil.copyfile(original, second / "Take.wav")
            failed = wait_until(
                lambda: daemon.store.deliveries(job.id, states=[DeliveryState.FAILED]),
                30,
                message="the second place to be refused",
            )
        (delivery,) = failed
        assert "same input with the same preset as job" in (delivery.reason or "")
        assert f"`mvsepd retry {job.id}`" in (delivery.reason or "")
        assert len(place.remote_jobs()) == 1
        assert not (place.stems_of("Room B") / "Take").exists()

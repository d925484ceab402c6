"""The stem options through the daemon: a Residual, MVSEP's own files kept, stems of an
original that was moved away meanwhile, and staging folders that outlive their jobs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from mvsepd.models import JobState
from mvsepd.store import JobStore
from tests.conform.material import Source, null_db, read, total_of, write_source
from tests.integration.support import (
    Setup,
    running_daemon,
    start_daemon_process,
    stop_process,
    wait_until,
)


def _one_job(
    setup: Setup, folder: str, *, source: Source, preset: str = "sep_type: 48"
) -> dict[str, Any]:
    config = setup.config_text(folder=folder, preset=preset)
    with running_daemon(setup, config) as daemon:
        write_source(setup.hot, source, seed=3)
        wait_until(lambda: daemon.done(1), 60, message="the job to finish")
    (manifest,) = setup.manifests()
    return manifest


def test_residual_and_mvseps_files_are_placed_beside_the_stems(setup: Setup) -> None:
    source = Source("Lead", 48000, 2, "PCM_24", bext=True)
    manifest = _one_job(
        setup, "residual: true\n    keep_mvsep_files: true", source=source, preset="sep_type: 20"
    )
    track = setup.outputs / "Lead"
    names = sorted(path.relative_to(track).as_posix() for path in track.rglob("*.*"))
    assert names == [
        "Lead - Bass.wav",
        "Lead - Drums.wav",
        "Lead - Instrumental.wav",
        "Lead - Other.wav",
        "Lead - Residual.wav",
        "Lead - Vocals.wav",
        "MVSEP files/Lead - Bass.wav",
        "MVSEP files/Lead - Drums.wav",
        "MVSEP files/Lead - Instrumental.wav",
        "MVSEP files/Lead - Other.wav",
        "MVSEP files/Lead - Vocals.wav",
        "manifest.json",
    ]
    conform = manifest["conform"]
    # Demucs' Instrumental is vocals' complement: the stems that null are the other four.
    assert sorted(conform["best_null"]["stems"]) == ["Bass", "Drums", "Other", "Vocals"]
    original, _ = read(setup.hot / "Lead.wav")
    partition = total_of([track / f"Lead - {label}.wav" for label in conform["best_null"]["stems"]])
    residual, _ = read(track / "Lead - Residual.wav")
    assert np.max(np.abs(original - partition - residual)) <= 2.0**-23 + 1e-12
    assert null_db(partition, original) < -60
    sent = {entry["label"]: entry["mvsep"]["sha256"] for entry in conform["stems"]}
    for label, digest in sent.items():
        kept = track / "MVSEP files" / f"Lead - {label}.wav"
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == digest
        assert read(kept)[1] == 44100  # as MVSEP sent it
    assert setup.leftovers() == []


def test_stems_of_an_original_moved_away_meanwhile_still_fit_it(
    tmp_path: Path, setup: Setup
) -> None:
    source = Source("Take", 96000, 1, "PCM_24", bext=True)
    config = setup.config_text()
    setup.server.faults.set("slow", endpoints=["/storage/"], count=1, delay_seconds=2.0)
    with running_daemon(setup, config) as daemon:
        path = write_source(setup.hot, source, seed=4)
        frames = read(path)[0].shape[0]
        wait_until(
            lambda: any(job.state is JobState.SUBMITTED for job in daemon.store.jobs()), 30,
            message="the upload",
        )  # fmt: skip
        path.rename(tmp_path / "elsewhere.wav")  # the user tidies up while MVSEP works
        wait_until(lambda: daemon.done(1), 60, message="the job to finish")
    (manifest,) = setup.manifests()
    assert manifest["source"]["unchanged"] is False
    assert any("the original changed or is gone" in note for note in manifest["conform"]["notes"])
    for item in manifest["outputs"]:
        data, rate = read(Path(item["path"]))
        assert (rate, data.shape) == (96000, (frames, 1))


def test_staging_left_by_jobs_that_are_over_is_removed_at_start(setup: Setup) -> None:
    config = setup.config_text()
    with running_daemon(setup, config) as daemon:
        write_source(setup.hot, Source("Song", 44100, 2, "PCM_16"), seed=1)
        wait_until(lambda: daemon.done(1), 60, message="the job to finish")
    staging = setup.outputs / ".mvsepd-staging"
    with JobStore(setup.paths.store_file) as store:
        (job,) = store.jobs()
    # What a crash of an older mvsepd left: a failed job's folder, and one of an unknown job.
    for name in (f"job-{job.id + 1}", "job-999"):
        (staging / name).mkdir(parents=True)
        (staging / name / "00.wav").write_bytes(b"half a stem")
    with JobStore(setup.paths.store_file) as store:
        failed, _ = store.find_or_create(
            content_sha256="0" * 64, preset_fingerprint="x", preset_name="four",
            folder_path=str(setup.hot), source_path=str(setup.hot / "gone.wav"), source_size=1,
            sep_type=20, options={}, output_format=1,
        )  # fmt: skip
        store.transition(failed.id, JobState.FAILED, reason="test")
    assert failed.id == job.id + 1
    with running_daemon(setup, config):
        wait_until(lambda: not staging.exists(), 10, message="the staging folders to go")
    assert json.loads((setup.outputs / "Song" / "manifest.json").read_text())["job_id"] == job.id


def test_a_kill_while_stems_are_conformed_leaves_no_partial_stem(setup: Setup) -> None:
    # Long enough at 96 kHz for the conversion to take a while: the kill lands inside it.
    source = Source("Long take", 96000, 2, "PCM_24", bext=True, seconds=40.0)
    config = setup.write_config(setup.config_text(preset="sep_type: 48"))
    path = write_source(setup.hot, source, seed=2)
    frames = read(path)[0].shape[0]
    staging = setup.outputs / ".mvsepd-staging"

    def conforming() -> bool:
        parts = [p for p in staging.rglob(".*.part")] if staging.exists() else []
        return bool(parts) and not any(staging.rglob("conform.json"))

    process = start_daemon_process(setup, config)
    try:
        wait_until(conforming, 60, message="stems being conformed", interval=0.002)
    finally:
        stop_process(process, kill=True)
    (job,) = setup.jobs()
    assert job.state is JobState.DOWNLOADING
    track = setup.outputs / "Long take"
    assert not track.exists() or not any(track.iterdir()), "a stem was placed before its end"
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: setup.jobs()[0].state is JobState.DONE, 60, message="the job")
    finally:
        assert stop_process(process) == 0
    names = sorted(p.name for p in track.iterdir())
    assert names == ["Long take - Instrumental.wav", "Long take - Vocals.wav", "manifest.json"]
    for name in names[:2]:
        data, rate = read(track / name)
        assert (rate, data.shape) == (96000, (frames, 2))
    assert setup.leftovers() == []
    assert setup.server.state.create_count() == 1


def test_a_conforming_take_after_one_placed_as_sent_is_conformed(setup: Setup) -> None:
    """One daemon, a ``conform: off`` folder and a conforming one; the take placed as sent
    finishes first (it loads the audio package through ``verify``), then a conforming take:
    its stems are placed, conformed (once every conforming job failed here, calling a
    module)."""
    as_sent = setup.hot.parent / "As sent"
    as_sent.mkdir()
    config = setup.config_text(
        extra_folders=f"""
  - path: "{as_sent}"
    preset: four
    existing_files: process
    stability_seconds: 0.3
    conform: "off"
"""
    )
    with running_daemon(setup, config) as daemon:
        write_source(as_sent, Source("First", 44100, 2, "PCM_16"), seed=5)
        wait_until(lambda: daemon.done(1), 60, message="the take placed as sent")
        write_source(setup.hot, Source("Second", 48000, 1, "PCM_24"), seed=6)
        wait_until(lambda: daemon.finished(2), 60, message="the conforming take")
        jobs = {Path(job.source_path).name: job for job in daemon.store.jobs()}
    assert jobs["Second.wav"].state is JobState.DONE, jobs["Second.wav"].reason
    placed = sorted((setup.outputs / "Second").glob("*.wav"))
    assert len(placed) == 5
    for stem in placed:
        data, rate = read(stem)
        assert rate == 48000 and data.shape[1] == 1  # conformed to the mono 48 kHz take

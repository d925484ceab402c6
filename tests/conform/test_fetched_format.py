"""What is asked of MVSEP: a folder that conforms its stems fetches a preset's wav16 as flac16
(the same samples, half the bytes) and says so; a folder that places MVSEP's files as they
come fetches the preset's format as written; the same audio with the same preset in both is
one job, paid once, whichever folder asked first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from mvsepd.models import OutputFormat
from tests.conform.material import Source, write_source
from tests.integration.support import Setup, running_daemon, wait_until

TAKE = Source("Take", 48000, 2, "PCM_24", seconds=2.0)


def _manifest(folder: Path, track: str = "Take") -> dict[str, Any]:
    import json

    path = folder.parent / f"{folder.name} stems" / track / "manifest.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _mvsep_samples(setup: Setup) -> dict[str, np.ndarray]:
    """MVSEP's own stems of the one job, by label, as 16-bit integers."""
    (job,) = setup.server.state.jobs()
    return {
        target.label: soundfile.read(str(target.path), dtype="int16", always_2d=True)[0]
        for target in job.files
    }


def test_a_conforming_folder_fetches_wav16_as_flac16_and_says_so(setup: Setup) -> None:
    with running_daemon(setup, setup.config_text()) as daemon:
        write_source(setup.hot, TAKE, seed=1)
        wait_until(lambda: daemon.done(1), 60, message="the job")
    (remote,) = setup.server.state.jobs()
    assert remote.output_format == int(OutputFormat.FLAC16)
    manifest = _manifest(setup.hot)
    assert manifest["preset"]["output_format"] == "wav16"
    assert manifest["mvsep"]["output_format"] == "flac16"
    assert "same samples" in manifest["mvsep"]["fetched_as"]
    for stem in manifest["conform"]["stems"]:
        assert stem["mvsep"]["container"] == "FLAC" and stem["mvsep"]["subtype"] == "PCM_16"
    placed = soundfile.info(str(setup.outputs / "Take" / "Take - Vocals.wav"))
    assert (placed.format, placed.subtype, placed.samplerate) == ("WAV", "PCM_24", 48000)


def test_conform_off_fetches_the_presets_format_as_written(setup: Setup) -> None:
    with running_daemon(setup, setup.config_text(folder="conform: off")) as daemon:
        write_source(setup.hot, TAKE, seed=1)
        wait_until(lambda: daemon.done(1), 60, message="the job")
    (remote,) = setup.server.state.jobs()
    assert remote.output_format == int(OutputFormat.WAV16)
    manifest = _manifest(setup.hot)
    assert manifest["mvsep"]["output_format"] == "wav16"
    assert "fetched_as" not in manifest["mvsep"]


def _two_folders(setup: Setup, first_conforms: bool) -> tuple[Path, Path]:
    """A conforming folder and one with ``conform: off`` (the hot folder is the first)."""
    other = setup.hot.parent / "Raw"
    other.mkdir()
    off, on = "conform: off", "conform: source"
    config = setup.config_text(
        folder=on if first_conforms else off,
        extra_folders=f"""  - path: "{other}"
    preset: four
    existing_files: process
    stability_seconds: 0.3
    {off if first_conforms else on}
""",
    )
    with running_daemon(setup, config) as daemon:
        write_source(setup.hot, TAKE, seed=1)
        wait_until(lambda: daemon.done(1), 60, message="the first folder's stems")
        write_source(other, TAKE, seed=1)
        wait_until(
            lambda: (other.parent / "Raw stems" / "Take" / "manifest.json").exists(),
            60,
            message="the second folder's stems",
        )
    return (setup.hot, other) if first_conforms else (other, setup.hot)


def test_a_flac_fetched_job_serves_a_folder_that_takes_mvseps_files_as_wav16(
    setup: Setup,
) -> None:
    conforming, as_sent = _two_folders(setup, first_conforms=True)
    assert setup.server.state.create_count() == 1, "the same audio and preset was paid twice"
    (remote,) = setup.server.state.jobs()
    assert remote.output_format == int(OutputFormat.FLAC16)
    mvsep = _mvsep_samples(setup)
    track = as_sent.parent / f"{as_sent.name} stems" / "Take"
    for label, samples in mvsep.items():
        placed = track / f"Take - {label}.wav"
        info = soundfile.info(str(placed))
        assert (info.format, info.subtype, info.samplerate) == ("WAV", "PCM_16", 44100)
        data, _ = soundfile.read(str(placed), dtype="int16", always_2d=True)
        assert np.array_equal(data, samples), f"{label}: not MVSEP's samples"
    manifest = _manifest(as_sent)
    assert any("samples unchanged" in note for note in manifest["conform"]["notes"])
    assert _manifest(conforming)["mvsep"]["output_format"] == "flac16"


def test_a_wav16_job_serves_a_conforming_folder_without_a_second_job(setup: Setup) -> None:
    conforming, _as_sent = _two_folders(setup, first_conforms=False)
    assert setup.server.state.create_count() == 1
    (remote,) = setup.server.state.jobs()
    assert remote.output_format == int(OutputFormat.WAV16)
    manifest = _manifest(conforming)
    assert manifest["mvsep"]["output_format"] == "wav16"
    placed = soundfile.info(str(conforming.parent / f"{conforming.name} stems" / "Take"
                                / "Take - Vocals.wav"))  # fmt: skip
    assert (placed.subtype, placed.samplerate) == ("PCM_24", 48000)

"""Stems that fit the session: over real HTTP, against the emulator rendering like MVSEP's
models (44.1 kHz stereo, ceil length), every placed stem has its source's rate, channels, exact
length and sample format, starts where the source starts, nulls against it, and carries its
Broadcast WAV timestamp; ``conform: off`` places MVSEP's bytes unchanged.

One daemon takes every source into one folder per MVSEP output format (48 jobs on a premium
account), so the matrix costs one run. Preset 48 (vocals, other) makes stems meant to sum to
the mix.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile
import wavinfo

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.models import JobState
from tests.conform.material import Source, lag_of, null_db, read, total_of, write_source
from tests.integration.support import FAST_DAEMON, Setup, running_daemon, wait_until

FORMATS = {"mp3": 0, "wav16": 1, "flac16": 2, "m4a": 3, "wav32": 4, "flac24": 5}
#: Bits of each MVSEP output format (None: lossy).
FORMAT_BITS = {"mp3": None, "wav16": 16, "flac16": 16, "m4a": None, "wav32": 32, "flac24": 24}
SOURCES = [
    Source("cd 44k1 stereo 16", 44100, 2, "PCM_16"),
    Source("take 48k mono 24 bwf ixml", 48000, 1, "PCM_24", bext=True, ixml=True),
    Source("hires 88k2 stereo float", 88200, 2, "FLOAT"),
    Source("hires 96k stereo 24 bwf", 96000, 2, "PCM_24", bext=True),
    Source("mono 44k1 16", 44100, 1, "PCM_16"),
    Source("aiff 48k stereo 24", 48000, 2, "PCM_24", container="AIFF"),
    Source("flac 96k mono 24", 96000, 1, "PCM_24", container="FLAC"),
    Source("mp3 48k stereo", 48000, 2, "", container="MP3"),
]
#: What each source's stems are written as: (container, subtype).
EXPECTED_FORMAT: dict[str, Callable[[Source], tuple[str, str]]] = {
    "WAV": lambda source: ("WAV", source.subtype),
    "AIFF": lambda source: ("AIFF", source.subtype),
    "FLAC": lambda source: ("FLAC", source.subtype),
    "MP3": lambda source: ("WAV", "PCM_24"),
}
PLACED_BITS = {"PCM_16": 16, "PCM_24": 24, "FLOAT": 32}

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="m4a stems and mp3 sources need ffmpeg"
)


def _config(server: EmulatorServer, base: Path, formats: list[str], folder_extra: str = "") -> str:
    presets = "\n".join(
        f"  {name}:\n    sep_type: 48\n    output_format: {name}" for name in formats
    )
    folders = "\n".join(
        f'  - path: "{base / name}"\n    preset: {name}\n    existing_files: process\n'
        f"    stability_seconds: 0.3\n    {folder_extra}"
        for name in formats
    )
    return (
        f'account:\n  server: "{server.url}"\npresets:\n{presets}\nfolders:\n{folders}\n'
        f"daemon:\n  {FAST_DAEMON}\n"
    )


def _run(
    tmp_path: Path, settings: EmulatorSettings, formats: list[str], sources: list[Source],
    folder_extra: str = "",
) -> Iterator[tuple[Setup, dict[tuple[str, str], dict[str, Any]]]]:  # fmt: skip
    """Drop every source into every format's folder; yield the manifests by (format, name)."""
    with EmulatorServer(settings) as server:
        account = server.add_account(plan="premium", credits=100_000)
        base = tmp_path / "Exports"
        for name in formats:
            (base / name).mkdir(parents=True)
        setup = Setup(tmp=tmp_path, server=server, token=account.token, hot=base / formats[0])
        config = _config(server, base, formats, folder_extra)
        with running_daemon(setup, config) as daemon:
            for name in formats:
                for seed, source in enumerate(sources, start=1):
                    write_source(base / name, source, seed=seed)
            expected = len(formats) * len(sources)

            def finished() -> bool:
                states = daemon.states()
                return states.get(JobState.DONE, 0) + states.get(JobState.FAILED, 0) >= expected

            wait_until(finished, 240, message=f"{expected} jobs to finish", interval=0.2)
            failed = [job for job in daemon.store.jobs() if job.state is not JobState.DONE]
            assert failed == [], [(job.source_name, job.reason) for job in failed]
        manifests = {}
        for name in formats:
            for path in (base.parent / "Exports" / f"{name} stems").rglob("manifest.json"):
                document = json.loads(path.read_text(encoding="utf-8"))
                manifests[(name, Path(document["source"]["path"]).stem)] = document
        assert len(manifests) == expected
        yield setup, manifests


def _stems(manifest: dict[str, Any]) -> list[Path]:
    return [Path(item["path"]) for item in manifest["outputs"]]


@pytest.fixture(scope="module")
def mvsep_like(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = EmulatorSettings(
        publish_seconds=0.3, queue_seconds=0.0, processing_seconds=0.1, rate_limit=False
    )
    assert settings.output_rate == 44100  # the default: what MVSEP's models return
    yield from _run(tmp_path_factory.mktemp("mvsep-like"), settings, list(FORMATS), SOURCES)


@pytest.mark.parametrize("output_format", list(FORMATS))
@pytest.mark.parametrize("source", SOURCES, ids=[source.name for source in SOURCES])
def test_every_stem_fits_its_source(mvsep_like: Any, output_format: str, source: Source) -> None:
    _, manifests = mvsep_like
    manifest = manifests[(output_format, source.name)]
    original_path = Path(manifest["source"]["path"])
    original, _ = read(original_path)
    container, subtype = EXPECTED_FORMAT[source.container](source)
    stems = _stems(manifest)
    assert len(stems) == 2  # vocals and other
    total = None
    for stem in stems:
        placed = soundfile.info(str(stem))
        assert (placed.samplerate, placed.channels) == (source.rate, source.channels), stem.name
        assert (placed.format, placed.subtype) == (container, subtype), stem.name
        data, _ = read(stem)
        assert data.shape == original.shape, stem.name
        total = data if total is None else total + data
    assert total is not None
    # MVSEP sent 44.1 kHz stereo: the conversion really happened.
    for entry in manifest["conform"]["stems"]:
        assert (entry["mvsep"]["rate"], entry["mvsep"]["channels"]) == (44100, 2)
    assert lag_of(total, original) == 0
    measured = null_db(total, original)
    recorded = manifest["conform"]["null_db"]
    assert abs(max(measured, -200.0) - recorded) < 0.5, (measured, recorded)
    if FORMAT_BITS[output_format] is not None:
        assert measured <= -60.0, measured
    if source.bext:
        for stem in stems:
            bext = wavinfo.WavInfoReader(str(stem)).bext
            assert bext.time_reference == source.time_reference, stem.name
            assert bext.originator_date == "2026-11-30" and bext.originator_time == "21:04:33"
            assert "preset" in bext.description and stem.stem.split(" - ")[-1] in bext.description
            assert "T=Nuendo" in bext.coding_history and "T=mvsepd" in bext.coding_history
    if source.ixml:
        for stem in stems:
            ixml = wavinfo.WavInfoReader(str(stem)).ixml
            assert ixml is not None, stem.name
            text = ixml.source.decode() if isinstance(ixml.source, bytes) else str(ixml.source)
            assert f"<BWF_TIME_REFERENCE_LOW>{source.time_reference}<" in text
            assert f"<TIMESTAMP_SAMPLE_RATE>{source.rate}<" in text
            assert "ABCDEF0123456789" not in text  # a stem is a file of its own


def test_mp3_sources_keep_their_decoded_length(mvsep_like: Any) -> None:
    """An mp3's length is what decodes gaplessly, not what its header claims."""
    _, manifests = mvsep_like
    for output_format in FORMATS:
        manifest = manifests[(output_format, "mp3 48k stereo")]
        original, _ = read(Path(manifest["source"]["path"]))
        for stem in _stems(manifest):
            assert soundfile.info(str(stem)).frames == len(original)


@pytest.fixture(scope="module")
def echoing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = EmulatorSettings(
        publish_seconds=0.3,
        queue_seconds=0.0,
        processing_seconds=0.1,
        rate_limit=False,
        output_rate=None,
    )
    sources = [source for source in SOURCES if source.container != "MP3"]
    formats = ["wav16", "flac16", "wav32", "flac24"]
    yield from _run(tmp_path_factory.mktemp("echo"), settings, formats, sources)


@pytest.mark.parametrize("output_format", ["wav16", "flac16", "wav32", "flac24"])
@pytest.mark.parametrize(
    "source",
    [source for source in SOURCES if source.container != "MP3"],
    ids=[source.name for source in SOURCES if source.container != "MP3"],
)
def test_stems_of_an_echoing_model_null_to_the_precision_of_their_format(
    echoing: Any, output_format: str, source: Source
) -> None:
    _, manifests = echoing
    manifest = manifests[(output_format, source.name)]
    original, _ = read(Path(manifest["source"]["path"]))
    total = total_of(_stems(manifest))
    bits = min(FORMAT_BITS[output_format] or 0, PLACED_BITS[source.subtype])
    bound = -70.0 if bits <= 16 else -90.0
    assert lag_of(total, original) == 0
    assert null_db(total, original) <= bound
    assert manifest["conform"]["null_db"] <= bound


def test_conform_off_places_mvseps_bytes_unchanged(tmp_path: Path) -> None:
    settings = EmulatorSettings(
        publish_seconds=0.3, queue_seconds=0.0, processing_seconds=0.1, rate_limit=False
    )
    sources = [SOURCES[1], SOURCES[5]]  # a 48 kHz mono BWF, a 48 kHz AIFF
    for setup, manifests in _run(tmp_path, settings, ["wav16", "flac24"], sources,
                                 folder_extra="conform: off"):  # fmt: skip
        served = {
            hashlib.sha256(target.path.read_bytes()).hexdigest()
            for job in setup.server.state.jobs()
            for target in job.files
        }
        for manifest in manifests.values():
            assert manifest["conform"]["mode"] == "off"
            for item in manifest["outputs"]:
                path = Path(item["path"])
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                assert digest == item["sha256"] and digest in served
                info = soundfile.info(str(path))
                assert (info.samplerate, info.channels) == (44100, 2)

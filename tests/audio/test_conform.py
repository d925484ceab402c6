"""Conform, one job at a time, without the daemon: stems made from a source the way MVSEP's
models return them (44.1 kHz stereo, ceil length), brought back to the source's format."""

from __future__ import annotations

import math
import re
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import soxr

from mvsepd.audio import StemFile, StemFormat, conform, describe, verify
from mvsepd.errors import AudioError
from tests.conform.material import band_limited, null_db


def _source(path: Path, rate: int, channels: int, subtype: str, seconds: float = 1.0) -> Path:
    data = band_limited(int(seconds * rate) + 11, rate, channels, seed=5)
    soundfile.write(str(path), data, rate, subtype=subtype)
    return path


def _as_mvsep(source: Path) -> np.ndarray:
    """What a model hears and returns: the source at 44.1 kHz stereo, ceil length."""
    data, rate = soundfile.read(str(source), always_2d=True)
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    heard = soxr.resample(data, rate, 44100, quality="HQ") if rate != 44100 else data
    wanted = math.ceil(len(data) * 44100 / rate)
    return np.concatenate([heard, np.zeros((wanted - len(heard), 2))])[:wanted]


def _stems(tmp: Path, parts: dict[str, np.ndarray], subtype: str = "FLOAT") -> list[StemFile]:
    stems = []
    for index, (label, data) in enumerate(parts.items()):
        sent = tmp / f"mvsep-{index}.wav"
        soundfile.write(str(sent), data, 44100, subtype=subtype)
        stems.append(StemFile(label, sent, tmp / f"{index}.out", f"song_{label.lower()}.wav"))
    return stems


DEFAULT = StemFormat()


def _run(source: Path, stems: list[StemFile], wanted: StemFormat = DEFAULT, **options: Any) -> Any:
    return conform(
        describe(source), source, stems, wanted, source_name=source.name, origin="x", **options
    )


def test_a_mono_source_gets_mono_stems_from_the_mean_of_mvseps_two(tmp_path: Path) -> None:
    source = _source(tmp_path / "take.wav", 48000, 1, "PCM_24")
    heard = _as_mvsep(source)
    # Different left and right: the mono stem must be their mean.
    left_heavy = heard * np.array([0.7, 0.5])
    stems = _stems(tmp_path, {"Vocals": left_heavy, "Other": heard - left_heavy})
    report = _run(source, stems)
    vocals, rate = soundfile.read(str(stems[0].output), always_2d=True)
    assert (rate, vocals.shape[1]) == (48000, 1)
    expected = soxr.resample(left_heavy.mean(axis=1, keepdims=True), 44100, 48000, "VHQ")
    assert np.max(np.abs(vocals[: len(expected)] - expected[: len(vocals)])) < 1e-5
    assert report.null_db is not None and report.null_db < -70


def test_channels_stereo_keeps_mvseps_two_channels(tmp_path: Path) -> None:
    source = _source(tmp_path / "take.wav", 48000, 1, "PCM_24")
    heard = _as_mvsep(source)
    stems = _stems(tmp_path, {"Vocals": heard / 2, "Other": heard / 2})
    _run(source, stems, StemFormat(channels="stereo"))
    info = soundfile.info(str(stems[0].output))
    assert (info.channels, info.samplerate, info.frames) == (2, 48000, describe(source).frames)


def test_a_chosen_container_and_sample_format_win_and_flac_cannot_hold_float(
    tmp_path: Path,
) -> None:
    source = _source(tmp_path / "mix.wav", 96000, 2, "FLOAT")
    heard = _as_mvsep(source)
    stems = _stems(tmp_path, {"Vocals": heard / 2, "Other": heard / 2})
    report = _run(source, stems, StemFormat(container="flac"))
    info = soundfile.info(str(stems[0].output))
    assert (info.format, info.subtype, info.samplerate) == ("FLAC", "PCM_24", 96000)
    assert any("FLAC cannot hold 32-bit float" in note for note in report.notes)
    _run(source, stems, StemFormat(sample_format="pcm16"))
    assert soundfile.info(str(stems[0].output)).subtype == "PCM_16"


def test_an_adpcm_source_is_written_in_the_nearest_pcm_and_says_why(tmp_path: Path) -> None:
    source = tmp_path / "phone.wav"
    soundfile.write(str(source), band_limited(8000, 8000, 1, seed=1), 8000, subtype="IMA_ADPCM")
    heard = _as_mvsep(source)
    stems = _stems(tmp_path, {"Vocals": heard / 2, "Other": heard / 2})
    report = _run(source, stems)
    info = soundfile.info(str(stems[0].output))
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", 8000, 1)
    assert any("IMA_ADPCM cannot be written without loss" in note for note in report.notes)


def test_overs_are_clipped_in_integer_formats_and_counted(tmp_path: Path) -> None:
    source = _source(tmp_path / "mix.wav", 44100, 2, "PCM_16")
    heard = _as_mvsep(source)
    loud = heard * 3.0  # a stem over full scale (MVSEP's float output allows it)
    stems = _stems(tmp_path, {"Vocals": loud, "Other": heard - loud})
    report = _run(source, stems)
    assert report.stems[0].clipped_samples > 0
    assert any("clipped" in note for note in report.stems[0].notes)
    placed, _ = soundfile.read(str(stems[0].output))
    assert np.max(np.abs(placed)) <= 1.0


def test_the_residual_is_what_the_best_nulling_stems_leave_out(tmp_path: Path) -> None:
    source = _source(tmp_path / "mix.wav", 48000, 2, "PCM_24")
    heard = _as_mvsep(source)
    vocals, drums = heard * 0.3, heard * 0.2
    # "Instrumental" is derived (source - vocals); drums miss a part of the mix on purpose.
    stems = _stems(tmp_path, {"Vocals": vocals, "Drums": drums, "Instrumental": heard - vocals})
    residual = tmp_path / "residual.out"
    report = _run(source, stems, StemFormat(residual=True), residual_output=residual)
    assert report.best_null is not None
    assert report.best_null["stems"] == ["Vocals", "Instrumental"]
    assert report.residual is not None
    original, _ = soundfile.read(str(source), always_2d=True)
    total = sum(soundfile.read(str(stems[i].output), always_2d=True)[0] for i in (0, 2))
    rest, _ = soundfile.read(str(residual), always_2d=True)
    assert np.max(np.abs(original - total - rest)) <= 2.0**-23 + 1e-12
    assert null_db(total, original) < -70
    assert report.null_db is not None and report.null_db > -20  # all three do not null


@pytest.mark.parametrize("delay", [1105, -300])
def test_a_late_or_early_stem_is_moved_back_to_the_sources_start(
    tmp_path: Path, delay: int
) -> None:
    source = _source(tmp_path / "mix.wav", 48000, 2, "PCM_24", seconds=2.0)
    heard = _as_mvsep(source)
    # What an mp3 decoder that ignores the gapless header does: the stems come late.
    shifted = np.concatenate([np.zeros((delay, 2)), heard]) if delay > 0 else heard[-delay:]
    stems = _stems(tmp_path, {"Vocals": shifted * 0.5, "Other": shifted * 0.5})
    report = _run(source, stems)
    assert report.lag_samples == round(delay * 48000 / 44100)
    assert report.stems[0].written is not None
    assert report.stems[0].written["lag_removed"] == delay
    original, _ = soundfile.read(str(source), always_2d=True)
    total = sum(soundfile.read(str(stem.output), always_2d=True)[0] for stem in stems)
    if delay > 0:
        assert null_db(total, original) < -70
    else:  # what MVSEP cut off at the start is gone; everything after it lines up
        assert null_db(total[2000:], original[2000:]) < -70


def test_without_the_original_stems_are_conformed_from_what_was_recorded(tmp_path: Path) -> None:
    source = _source(tmp_path / "mix.wav", 48000, 2, "PCM_24")
    described = describe(source)
    heard = _as_mvsep(source)
    stems = _stems(tmp_path, {"Vocals": heard / 2, "Other": heard / 2})
    source.unlink()
    report = conform(described, None, stems, StemFormat(), source_name="mix.wav", origin="x")
    assert report.null_db is None and report.lag_samples is None
    assert any("the original changed or is gone" in note for note in report.notes)
    info = soundfile.info(str(stems[0].output))
    assert (info.samplerate, info.frames, info.subtype) == (48000, described.frames, "PCM_24")


def test_a_stem_that_does_not_decode_fails_whole_and_leaves_nothing(tmp_path: Path) -> None:
    source = _source(tmp_path / "mix.wav", 48000, 2, "PCM_24")
    heard = _as_mvsep(source)
    stems = _stems(tmp_path, {"Vocals": heard / 2, "Other": heard / 2})
    stems[1].downloaded.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 40)
    with pytest.raises(AudioError, match=re.escape("the stem 'Other' (song_other.wav)")):
        _run(source, stems)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mix.wav", "mvsep-0.wav",
                                                               "mvsep-1.wav"]  # fmt: skip


def test_verify_decodes_every_stem_to_its_end(tmp_path: Path) -> None:
    good = tmp_path / "good.flac"
    soundfile.write(str(good), np.zeros((44100, 2)), 44100, format="FLAC")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    report = verify([StemFile("Vocals", good, good, "good.flac")])
    assert report.stems[0].mvsep["frames"] == 44100
    with pytest.raises(AudioError, match="'Other'"):
        verify([StemFile("Other", cut, cut, "cut.flac")])


def test_memory_stays_flat_for_a_long_stem(tmp_path: Path) -> None:
    minutes = 5
    source = tmp_path / "long.wav"
    block = band_limited(48000 * 10, 48000, 2, seed=3)
    with soundfile.SoundFile(str(source), "w", 48000, 2, "PCM_24") as handle:
        for _ in range(minutes * 6):
            handle.write(block)
    sent = tmp_path / "mvsep.wav"
    heard = soxr.resample(block, 48000, 44100, quality="HQ")
    with soundfile.SoundFile(str(sent), "w", 44100, 2, "FLOAT") as handle:
        for _ in range(minutes * 6):
            handle.write(heard)
    stems = [StemFile("Vocals", sent, tmp_path / "out.wav", "mvsep.wav")]
    described = describe(source)
    tracemalloc.start()
    try:
        conform(described, source, stems, StemFormat(), source_name="long.wav", origin="x")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 5 minutes of 48 kHz stereo are 115 MB as float64; a block-wise conversion uses a few.
    assert peak < 40 * 1024 * 1024, peak

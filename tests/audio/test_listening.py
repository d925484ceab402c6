"""Peaks and segments of placed stems, as the page draws and plays them: from real files in
every container mvsepd places (WAV 16/24/float, FLAC, m4a through ffmpeg)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mvsepd.audio import Listening, compute_peaks, segment
from mvsepd.errors import AudioError

RATE = 44100


def half_silent(seconds: float = 4.0, *, frequency: float = 440.0) -> np.ndarray:
    """Stereo: the left channel silent for the first half, then a tone at 0.5; the right
    silent throughout."""
    frames = int(seconds * RATE)
    left = np.zeros(frames)
    second_half = np.arange(frames - frames // 2) / RATE
    left[frames // 2 :] = 0.5 * np.sin(2 * np.pi * frequency * second_half)
    return np.stack([left, np.zeros(frames)], axis=1)


@pytest.mark.parametrize(
    ("suffix", "subtype"), [(".wav", "PCM_16"), (".wav", "PCM_24"), (".flac", "PCM_24")]
)
def test_peaks_put_the_tone_in_the_half_and_the_channel_it_is_in(
    tmp_path: Path, suffix: str, subtype: str
) -> None:
    path = tmp_path / f"stem{suffix}"
    signal = half_silent()
    soundfile.write(path, signal, RATE, subtype=subtype)

    peaks = compute_peaks(path, points=100)

    assert (peaks.sample_rate, peaks.channels, peaks.frames) == (RATE, 2, signal.shape[0])
    left_low, left_high = np.array(peaks.minimum[0]), np.array(peaks.maximum[0])
    assert len(left_low) == 100
    assert np.all(np.abs(left_low[:49]) < 1e-3) and np.all(np.abs(left_high[:49]) < 1e-3)
    assert np.all(left_high[51:] > 0.45) and np.all(left_low[51:] < -0.45)
    assert max(peaks.maximum[1]) < 1e-3 and min(peaks.minimum[1]) > -1e-3
    assert peaks.clipped_samples == 0 and 0.49 < peaks.peak <= 0.5


def test_peaks_count_samples_at_full_scale_and_beyond(tmp_path: Path) -> None:
    path = tmp_path / "hot.wav"
    signal = half_silent() * 3  # the tone at 1.5: a float file keeps it
    soundfile.write(path, signal, RATE, subtype="FLOAT")
    peaks = compute_peaks(path)
    assert peaks.peak == pytest.approx(1.5, abs=1e-3)
    assert peaks.clipped_samples == int(np.count_nonzero(np.abs(signal) >= 32767 / 32768))
    assert peaks.clipped_samples > 0


def test_a_short_file_has_as_many_points_as_it_has_spans(tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    soundfile.write(path, np.full((300, 1), 0.25), RATE, subtype="PCM_16")
    peaks = compute_peaks(path, points=2000)
    assert len(peaks.maximum[0]) == 2  # 256 frames and the 44 after them
    assert peaks.maximum[0] == pytest.approx((0.25, 0.25), abs=1e-4)


def test_segments_are_the_files_frames_cut_at_the_same_samples(tmp_path: Path) -> None:
    path = tmp_path / "stem.wav"
    signal = half_silent(1.0)
    soundfile.write(path, signal, RATE, subtype="PCM_24")
    whole, _ = soundfile.read(path, dtype="float64", always_2d=True)
    count = 10_000
    pieces = []
    start = 0
    while True:
        piece = segment(path, start, count)
        assert (piece.start, piece.sample_rate, piece.channels) == (start, RATE, 2)
        assert piece.total_frames == signal.shape[0]
        decoded, rate = soundfile.read(io.BytesIO(piece.data), dtype="float64", always_2d=True)
        assert rate == RATE and decoded.shape[0] == piece.frames
        assert soundfile.info(io.BytesIO(piece.data)).subtype == "PCM_16"
        if piece.frames == 0:
            break
        pieces.append(decoded)
        start += piece.frames
    joined = np.concatenate(pieces)
    assert joined.shape == whole.shape
    assert np.max(np.abs(joined - whole)) <= 1.5 / 32767  # 16-bit rounding, nothing shifted
    assert [len(p) for p in pieces][-1] == signal.shape[0] % count


def test_a_segment_of_a_float_stem_beyond_full_scale_is_clipped_not_wrapped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hot.wav"
    soundfile.write(path, np.full((100, 1), 1.7), RATE, subtype="FLOAT")
    decoded, _ = soundfile.read(io.BytesIO(segment(path, 0, 100).data), dtype="int16")
    assert np.all(decoded == 32767)


def test_what_is_not_audio_says_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio", encoding="utf-8")
    with pytest.raises(AudioError, match=r"notes\.wav"):
        segment(path, 0, 10)
    with pytest.raises(AudioError, match=r"notes\.wav"):
        compute_peaks(path)


def test_listening_keeps_peaks_by_content_and_reads_a_changed_file_again(tmp_path: Path) -> None:
    cache = tmp_path / "state" / "listening"
    listening = Listening(cache)
    path = tmp_path / "stem.wav"
    soundfile.write(path, half_silent(1.0), RATE, subtype="PCM_16")
    first = listening.peaks(path, points=50)
    (cached,) = cache.glob("*.peaks-50.json")
    assert cached.name.startswith(listening.content_key(path))
    assert listening.peaks(path, points=50) == first
    # Nothing written beside the stem.
    assert sorted(item.name for item in tmp_path.iterdir()) == ["state", "stem.wav"]

    soundfile.write(path, half_silent(1.0) * 0.1, RATE, subtype="PCM_16")
    changed = listening.peaks(path, points=50)
    assert changed.peak < first.peak / 5
    assert len(list(cache.glob("*.peaks-50.json"))) == 2


def test_an_m4a_stem_is_cut_from_a_decoded_copy_in_the_cache(tmp_path: Path) -> None:
    source = tmp_path / "source.wav"
    soundfile.write(source, half_silent(2.0), RATE, subtype="PCM_16")
    stem = tmp_path / "stem.m4a"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-c:a", "aac", str(stem)],
        check=True,
    )
    listening = Listening(tmp_path / "cache")
    peaks = listening.peaks(stem, points=20)
    assert peaks.channels == 2 and peaks.sample_rate == RATE
    assert max(peaks.maximum[0][:8]) < 0.05 and min(peaks.maximum[0][12:]) > 0.4

    piece = listening.segment(stem, RATE // 2, RATE // 4)
    assert piece.frames == RATE // 4 and piece.sample_rate == RATE
    assert list((tmp_path / "cache").glob("*.wav"))  # decoded once, kept for the next cut
    again = listening.segment(stem, RATE // 2, RATE // 4)
    assert again.data == piece.data

"""The emulator renders stems like MVSEP's models: 44.1 kHz, stereo, ceil(N × 44100 / rate) frames,
no chunks, whatever came in; ``output_rate=None`` echoes the input (the exact-sum mode)."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mvsepd.emulator.dsp import plan_stems
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import create, download, stem_key, wait_status, write_audio

FORMATS = {0: "mp3", 1: "wav16", 2: "flac16", 3: "m4a", 4: "wav32", 5: "flac24"}
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="m4a stems need ffmpeg (scripts/test installs it)"
)


def _decode(data: bytes, extension: str, tmp_path: Path) -> tuple[int, int, int]:
    """Rate, channels and frames of a stem, decoded end to end (ffmpeg for m4a)."""
    if extension == "m4a":
        stem = tmp_path / "stem.m4a"
        stem.write_bytes(data)
        probe = (
            subprocess.run(
                [
                    "ffprobe",
                    "-v",
                    "error",
                    "-show_entries",
                    "stream=sample_rate,channels",
                    "-of",
                    "csv=p=0",
                    str(stem),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .split(",")
        )
        rate, channels = int(probe[0]), int(probe[1])
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(stem), "-f", "f32le", "-"],
            check=True,
            capture_output=True,
        ).stdout
        return rate, channels, len(raw) // (4 * channels)
    with soundfile.SoundFile(io.BytesIO(data)) as handle:
        frames = sum(len(block) for block in handle.blocks(65536))
        return int(handle.samplerate), int(handle.channels), frames


def _chunk_ids(data: bytes) -> list[bytes]:
    ids, offset = [], 12
    while offset + 8 <= len(data):
        ids.append(data[offset : offset + 4])
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        offset += 8 + size + (size & 1)
    return ids


@pytest.mark.parametrize(
    "output_format",
    [pytest.param(n, id=name, marks=needs_ffmpeg if n == 3 else ()) for n, name in FORMATS.items()],
)
@pytest.mark.parametrize(("rate", "channels"), [(48000, 1), (96000, 2), (44100, 1)])
def test_stems_come_back_at_44100_hz_stereo_with_the_ceil_length(
    make_server: ServerFactory, tmp_path: Path, output_format: int, rate: int, channels: int
) -> None:
    server = make_server()
    token = server.add_account(plan="premium", credits=100).token
    source = write_audio(tmp_path / "take.wav", 1.3, samplerate=rate, channels=channels)
    frames = soundfile.info(str(source)).frames
    answer = create(server, token, source, sep_type="20", output_format=str(output_format))
    separation_hash = answer.json()["data"]["hash"]
    done = wait_status(server, separation_hash, "done", "failed")
    assert done["status"] == "done", done
    expected_frames = math.ceil(frames * 44100 / rate)
    # ffmpeg's AAC in mp4 decodes with up to about two frames (1024 samples each) of padding
    # at the end, as the emulator's m4a stems always did.
    allowance = 2048 if output_format == 3 else 0
    for item in done["data"]["files"]:
        data = download(item["url"])
        extension = item["url"].rsplit(".", 1)[-1]
        stem_rate, stem_channels, stem_frames = _decode(data, extension, tmp_path)
        assert (stem_rate, stem_channels) == (44100, 2), item["type"]
        assert expected_frames <= stem_frames <= expected_frames + allowance, item["type"]
        if output_format in (1, 4):
            assert _chunk_ids(data)[-1] == b"data"
            assert b"bext" not in _chunk_ids(data)
            assert b"iXML" not in _chunk_ids(data)
    # The done answer's tags keep describing the upload, as recorded.
    tags = done["data"]["tags"]["audio"]
    assert (tags["sample_rate"], tags["channels"]) == (rate, channels)


def test_mp3_stems_of_a_96_khz_source_are_resampled_not_failed(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server()
    token = server.add_account(plan="premium", credits=100).token
    source = write_audio(tmp_path / "hires.wav", 2.0, samplerate=96000, subtype="PCM_24")
    separation_hash = create(server, token, source, sep_type="48", output_format="0").json()[
        "data"
    ]["hash"]
    done = wait_status(server, separation_hash, "done", "failed")
    assert done["status"] == "done", done
    for item in done["data"]["files"]:
        with soundfile.SoundFile(io.BytesIO(download(item["url"]))) as handle:
            assert handle.samplerate == 44100
            assert handle.format == "MP3"


def test_source_mode_echoes_rate_channels_and_length_and_sums_to_the_input(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(output_rate=None)
    token = server.add_account(plan="premium", credits=100).token
    source = write_audio(tmp_path / "take.wav", 1.0, samplerate=48000, channels=1)
    original, _ = soundfile.read(str(source), always_2d=True)
    separation_hash = create(server, token, source, sep_type="20", output_format="4").json()[
        "data"
    ]["hash"]
    done = wait_status(server, separation_hash, "done")
    total = np.zeros_like(original)
    files = done["data"]["files"]
    primary = set(plan_stems([stem_key(item["url"]) for item in files]).primary)
    for item in (item for item in files if stem_key(item["url"]) in primary):
        stem, stem_rate = soundfile.read(io.BytesIO(download(item["url"])), always_2d=True)
        assert stem_rate == 48000
        assert stem.shape == original.shape
        total += stem
    assert np.max(np.abs(total - original)) < 4e-6


def test_model_mode_stems_sum_to_the_resampled_input(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    """What the model returns still partitions what it heard: the input at 44.1 kHz."""
    import soxr

    server = make_server()
    token = server.add_account(plan="premium", credits=100).token
    source = write_audio(tmp_path / "take.wav", 1.0, samplerate=48000)
    original, _ = soundfile.read(str(source), always_2d=True)
    heard = soxr.resample(original, 48000, 44100, quality="HQ")
    separation_hash = create(server, token, source, sep_type="20", output_format="4").json()[
        "data"
    ]["hash"]
    done = wait_status(server, separation_hash, "done")
    total = None
    files = done["data"]["files"]
    primary = set(plan_stems([stem_key(item["url"]) for item in files]).primary)
    for item in (item for item in files if stem_key(item["url"]) in primary):
        stem, _ = soundfile.read(io.BytesIO(download(item["url"])), always_2d=True)
        total = stem if total is None else total + stem
    assert total is not None
    assert len(total) == math.ceil(len(original) * 44100 / 48000)
    assert np.max(np.abs(total[: len(heard)] - heard)) < 1e-5

"""Uploads sent as lossless FLAC: what MVSEP receives decodes to the source's samples exactly,
float and lossy files go as they are unless asked, a kill while encoding costs nothing, and a
file too large even compressed is refused before a byte is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from mvsepd.domain.hashing import file_sha256
from mvsepd.models import JobState
from tests.conform.material import Source, write_source
from tests.integration.support import (
    Setup,
    running_daemon,
    wait_until,
)
from tests.uploads.helpers import received, temporary_files


def _run(setup: Setup, source: Source, *, folder: str = "", account: str = "") -> Path:
    config = setup.config_text(folder=folder, account=account)
    with running_daemon(setup, config) as daemon:
        path = write_source(setup.hot, source, seed=4)
        wait_until(lambda: daemon.finished(1), 60, message="the job to end")
    return path


def _manifest_upload(setup: Setup) -> dict[str, Any]:
    (manifest,) = setup.manifests()
    upload: dict[str, Any] = manifest["upload"]
    return upload


@pytest.mark.parametrize(
    "source",
    [
        Source("Vocal take", 48000, 1, "PCM_16", seconds=3.0),
        Source("Bounce", 44100, 2, "PCM_24", bext=True, seconds=3.0),
        Source("Logic bounce", 48000, 2, "PCM_24", container="AIFF", seconds=3.0),
        Source("Sampler", 22050, 1, "PCM_U8", seconds=3.0),
    ],
    ids=["wav16-mono", "wav24-bwf", "aiff24", "wav8"],
)
def test_integer_pcm_goes_as_flac_that_decodes_to_the_same_samples(
    setup: Setup, source: Source
) -> None:
    path = _run(setup, source)
    remote, kept = received(setup)
    assert remote.received_name == f"{path.stem}.flac"
    info = soundfile.info(str(kept))
    assert info.format == "FLAC"
    sent, rate = soundfile.read(str(kept), dtype="int32", always_2d=True)
    original, original_rate = soundfile.read(str(path), dtype="int32", always_2d=True)
    assert rate == original_rate and sent.shape == original.shape
    assert np.array_equal(sent, original), "the FLAC's samples differ from the source's"
    assert remote.input_size < path.stat().st_size
    upload = _manifest_upload(setup)
    assert upload["encoding"] == "flac" and upload["bytes"] == remote.input_size
    assert upload["source_bytes"] == path.stat().st_size
    (job,) = setup.jobs()
    assert job.state is JobState.DONE
    assert job.content_sha256 == file_sha256(path), "identity is the source's, not the FLAC's"
    assert upload["streamed"] is True, "the FLAC went as it was encoded"
    assert temporary_files(setup) == [], "a temporary FLAC was written"


def test_a_float_wav_is_sent_as_it_is_by_default(setup: Setup) -> None:
    path = _run(setup, Source("Mixdown", 48000, 2, "FLOAT", seconds=2.0))
    remote, _kept = received(setup)
    assert remote.received_name == path.name
    assert remote.input_sha256 == file_sha256(path)
    assert _manifest_upload(setup)["encoding"] == "original"


def test_float_as_flac24_is_used_when_the_file_has_no_overs(setup: Setup) -> None:
    path = _run(
        setup, Source("Mixdown", 48000, 2, "FLOAT", seconds=2.0), folder="upload_float_as: flac24"
    )
    remote, kept = received(setup)
    assert remote.received_name == "Mixdown.flac"
    assert soundfile.info(str(kept)).subtype == "PCM_24"
    sent, _ = soundfile.read(str(kept), dtype="float64", always_2d=True)
    original, _ = soundfile.read(str(path), dtype="float64", always_2d=True)
    # 24-bit steps: every sample within half a step of the float original.
    assert np.max(np.abs(sent - original)) <= 0.5 / 2**23 + 1e-12


def test_float_as_flac24_is_refused_for_a_file_with_overs_and_the_original_goes(
    setup: Setup,
) -> None:
    config = setup.config_text(folder="upload_float_as: flac24")
    with running_daemon(setup, config) as daemon:
        loud = np.zeros((48000, 2))
        loud[1000:1100] = 1.8  # a master bus with overs, as float exports keep them
        loud[5000:] = 0.3 * np.sin(np.arange(43000) / 7.0)[:, None]
        staging = setup.hot.parent / ".Hot master.writing"
        soundfile.write(str(staging), loud, 48000, subtype="FLOAT", format="WAV")
        path = staging.replace(setup.hot / "Hot master.wav")
        wait_until(lambda: daemon.finished(1), 60, message="the job to end")
    remote, kept = received(setup)
    assert remote.received_name == "Hot master.wav"
    assert file_sha256(kept) == file_sha256(path)
    upload = _manifest_upload(setup)
    assert upload["encoding"] == "original"
    assert "over full scale" in upload["note"] and "+5.1 dBFS" in upload["note"]


def test_an_mp3_is_never_re_encoded(setup: Setup) -> None:
    path = _run(setup, Source("Demo", 44100, 2, "MP3", container="MP3", seconds=2.0))
    remote, kept = received(setup)
    assert remote.received_name == path.name
    assert file_sha256(kept) == file_sha256(path)


def test_upload_encoding_original_sends_every_file_as_it_is(setup: Setup) -> None:
    path = _run(
        setup, Source("Take", 48000, 2, "PCM_24", seconds=2.0), folder="upload_encoding: original"
    )
    remote, kept = received(setup)
    assert remote.received_name == path.name and file_sha256(kept) == file_sha256(path)


def test_a_file_too_large_even_as_flac_is_refused_before_upload_naming_both_sizes(
    setup: Setup,
) -> None:
    config = setup.config_text(account="max_upload_mb: 0.1")
    with running_daemon(setup, config) as daemon:
        path = write_source(setup.hot, Source("Long", 48000, 2, "PCM_24", seconds=3.0), seed=1)
        wait_until(lambda: daemon.finished(1), 60, message="the refusal")
    (job,) = setup.jobs()
    assert job.state is JobState.FAILED
    reason = job.reason or ""
    original_mb = f"{path.stat().st_size / 2**20:.1f} MB"
    assert "Long.wav is " in reason and "even as lossless FLAC" in reason, reason
    assert f"({original_mb} as it is)" in reason and "up to 0.1 MB" in reason, reason
    assert setup.server.state.create_count() == 0
    assert path.is_file(), "the original must stay"

"""A FLAC made as it is sent: the same bytes a FLAC file of the source would have, but for
what only the end of the encoding knows (the MD5 and the frame sizes, zero: "unknown"), and
the frame count, known from the source, in its STREAMINFO."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from mvsepd.audio.upload import plan_upload
from tests.conform.material import band_limited

#: STREAMINFO's fields after "fLaC" and the block header: min/max frame size, the MD5.
_FRAME_SIZES = slice(8 + 4, 8 + 10)
_MD5 = slice(8 + 18, 8 + 34)


def _source(path: Path, subtype: str, seconds: float = 4.0) -> Path:
    soundfile.write(str(path), band_limited(int(44100 * seconds), 44100, 2, seed=8), 44100,
                    subtype=subtype)  # fmt: skip
    return path


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_the_streamed_flac_holds_the_sources_samples_and_its_frame_count(
    tmp_path: Path, subtype: str
) -> None:
    source = _source(tmp_path / "take.wav", subtype)
    progress: list[tuple[int, int]] = []
    plan = plan_upload(
        source,
        encoding="flac",
        float_as="original",
        work_dir=tmp_path / "work",
        stem="job-1",
        progress=lambda done, total: progress.append((done, total)),
        streamed=True,
    )
    assert plan.stream is not None and plan.size is None and plan.name == "take.flac"
    chunks = list(plan.stream.chunks())
    streamed = b"".join(chunks)
    assert len(chunks) > 1, "the FLAC was not handed on as it was encoded"
    assert plan.stream.finished and plan.stream.sent == len(streamed)
    assert not (tmp_path / "work").exists(), "a streamed FLAC was written to disk"
    (tmp_path / "streamed.flac").write_bytes(streamed)
    info = soundfile.info(str(tmp_path / "streamed.flac"))
    original, _ = soundfile.read(str(source), dtype="int32")
    sent, _ = soundfile.read(str(tmp_path / "streamed.flac"), dtype="int32")
    assert info.frames == original.shape[0] and np.array_equal(sent, original)
    assert progress[-1] == (original.shape[0], original.shape[0])
    # The FLAC a file would hold: the same bytes but for the MD5 and the frame sizes.
    filed = plan_upload(
        source, encoding="flac", float_as="original", work_dir=tmp_path / "work", stem="job-2"
    )
    assert filed.stream is None
    whole = filed.path.read_bytes()
    assert len(whole) == len(streamed)
    assert streamed[_MD5] == bytes(16) and streamed[_FRAME_SIZES] == bytes(6)
    assert whole[: _FRAME_SIZES.start] == streamed[: _FRAME_SIZES.start]
    assert whole[_FRAME_SIZES.stop : _MD5.start] == streamed[_FRAME_SIZES.stop : _MD5.start]
    assert whole[_MD5.stop :] == streamed[_MD5.stop :]
    assert plan.as_record()["bytes"] == len(streamed) and plan.as_record()["streamed"] is True

"""MVSEP's samples in another container, unchanged: a job fetched as FLAC 16 (for a folder
that conforms its stems) placed for a folder that takes MVSEP's files as they come and asked
for WAV 16 gets WAV 16 files holding the very samples MVSEP sent."""

from __future__ import annotations

import os

import soundfile

from mvsepd.audio.reports import StemFile
from mvsepd.errors import AudioError

_BLOCK_FRAMES = 1 << 16
#: Integer sample formats read and written as integers (exact); the others are not rewrapped.
_INTEGER_TYPES = {"PCM_16": "int16", "PCM_24": "int32"}


def rewrap(stem: StemFile, *, container: str, subtype: str) -> None:
    """Write ``stem``'s downloaded samples into ``stem.output`` as ``container``/``subtype``
    (through a ``.part`` name); raise AudioError naming the stem when it does not decode or
    holds other samples than ``subtype`` can keep."""
    if stem.output is None:
        return
    dtype = _INTEGER_TYPES.get(subtype)
    part = stem.output.with_name(f".{stem.output.name}.part")
    try:
        with soundfile.SoundFile(str(stem.downloaded)) as reader:
            if reader.subtype != subtype or dtype is None:
                raise AudioError(
                    f"the stem {stem.label!r} ({stem.name}) is {reader.subtype}, not {subtype}: "
                    "it cannot be rewrapped unchanged"
                )
            with soundfile.SoundFile(
                str(part), "w", reader.samplerate, reader.channels, subtype, None, container
            ) as writer:
                for block in reader.blocks(_BLOCK_FRAMES, dtype=dtype, always_2d=True):
                    writer.write(block)
        os.replace(part, stem.output)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        part.unlink(missing_ok=True)
        words = f"the stem {stem.label!r} ({stem.name}) does not decode: {error}"
        raise AudioError(words) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise

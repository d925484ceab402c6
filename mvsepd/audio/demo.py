"""The demo's track, written the way a DAW exports a bounce: 48 kHz, 24-bit, with a Broadcast
WAV timestamp (``bext``) placing it one hour into the session, as Pro Tools and Nuendo do."""

from __future__ import annotations

import os
from pathlib import Path

import numpy
import soundfile

from mvsepd.audio import riff

#: Where the demo's bounce starts in its session: 01:00:00.000 (a common session start).
DEMO_START_SECONDS = 3600
DEMO_RATE = 48000


def write_demo_track(path: Path, *, seconds: float = 8.0, sample_rate: int = DEMO_RATE) -> None:
    """Write a short stereo 24-bit BWF with drums, bass and a sung-like melody."""
    frames = int(seconds * sample_rate)
    time_axis = numpy.arange(frames) / sample_rate
    beat = 0.5
    position = time_axis % beat
    kick = numpy.sin(2 * numpy.pi * 55 * position) * numpy.exp(-position * 18)
    generator = numpy.random.default_rng(7)
    hat_position = (time_axis + beat / 2) % beat
    hats = generator.uniform(-1, 1, frames) * numpy.exp(-hat_position * 60) * 0.25
    bass_notes = numpy.array([55.0, 55.0, 65.4, 49.0])
    bass_frequency = bass_notes[(time_axis // (beat * 4)).astype(int) % len(bass_notes)]
    bass = numpy.sign(numpy.sin(2 * numpy.pi * bass_frequency * time_axis)) * 0.18
    melody_notes = numpy.array([440.0, 494.0, 523.3, 587.3, 523.3, 494.0])
    melody_frequency = melody_notes[(time_axis // beat).astype(int) % len(melody_notes)]
    vibrato = 1 + 0.01 * numpy.sin(2 * numpy.pi * 5.5 * time_axis)
    phase = 2 * numpy.pi * numpy.cumsum(melody_frequency * vibrato) / sample_rate
    voice = sum(numpy.sin(phase * harmonic) / harmonic for harmonic in (1, 2, 3, 4)) * 0.22
    left = kick * 0.6 + hats * 0.8 + bass + voice
    right = kick * 0.6 + hats * 0.5 + bass + voice
    stereo = numpy.stack([left, right], axis=1)
    stereo /= max(1.0, float(numpy.abs(stereo).max()) / 0.9)
    plain = path.with_name(f".{path.name}.plain")
    soundfile.write(str(plain), stereo, sample_rate, subtype="PCM_24", format="WAV")
    bext = riff.Bext(
        description="mvsepd demo bounce",
        originator="mvsepd demo",
        origination_date="2026-12-01",
        origination_time="10:00:00",
        time_reference=DEMO_START_SECONDS * sample_rate,
        coding_history=f"A=PCM,F={sample_rate},W=24,M=stereo,T=mvsepd demo",
    )
    try:
        riff.insert_chunks(plain, path, [(b"bext", bext.pack())])
    finally:
        os.unlink(plain)

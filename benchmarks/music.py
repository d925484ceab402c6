"""A test signal that compresses like music: a General MIDI arrangement rendered by fluidsynth.

FLAC's ratio depends on the signal: silence compresses to nothing and white noise not at all,
so neither says what a producer's export costs on the wire. ``render`` writes a multi-section
arrangement (drums, bass, chords, pads, a lead line; quiet intro, verses, louder choruses, a
breakdown) as a Standard MIDI File, renders it with fluidsynth and Debian's FluidR3 General
MIDI soundfont at the wanted rate, and writes it at the wanted sample format. Without
fluidsynth it falls back to a synthetic mix of tones, transients and low-level noise under a
dynamics envelope, and says so.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
_TICKS = 480  # per quarter note
_TEMPO_US = 500_000  # 120 bpm: a 4/4 bar is 2 s


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _arrangement(bars: int) -> list[tuple[int, bytes]]:
    """(absolute tick, MIDI message) for the whole song."""
    events: list[tuple[int, bytes]] = []
    programs = {0: 33, 1: 0, 2: 48, 3: 81}  # finger bass, piano, strings, saw lead
    for channel, program in programs.items():
        events.append((0, bytes([0xC0 | channel, program])))
    progression = [(45, [57, 60, 64]), (41, [53, 57, 60]), (48, [55, 60, 64]), (43, [55, 59, 62])]
    melody = [69, 72, 74, 76, 74, 72, 69, 67, 69, 72, 76, 79, 76, 74, 72, 69]
    bar_ticks = 4 * _TICKS

    def note(tick: int, channel: int, pitch: int, velocity: int, length: int) -> None:
        velocity = max(1, min(127, velocity))
        events.append((tick, bytes([0x90 | channel, pitch, velocity])))
        events.append((tick + length, bytes([0x80 | channel, pitch, 0])))

    for bar in range(bars):
        section = (bar // 8) % 6  # intro, verse, chorus, verse, chorus, breakdown
        loud = {0: 0.45, 1: 0.7, 2: 1.0, 3: 0.75, 4: 1.0, 5: 0.4}[section]
        start = bar * bar_ticks
        root, chord = progression[bar % 4]
        if section != 5:
            for beat in range(4):  # drums: kick on 1 and 3, snare on 2 and 4, eighth hats
                tick = start + beat * _TICKS
                note(tick, 9, 36 if beat % 2 == 0 else 38, int(110 * loud), _TICKS // 4)
                for half in (0, _TICKS // 2):
                    note(tick + half, 9, 42, int((70 + 20 * (half == 0)) * loud), _TICKS // 8)
        for eighth in range(8):  # bass
            pitch = root - 12 + (7 if eighth in (3, 7) else 0)
            note(start + eighth * _TICKS // 2, 0, pitch, int(95 * loud), _TICKS // 2 - 20)
        for beat in (0, 2):  # piano chords
            for pitch in chord:
                note(start + beat * _TICKS, 1, pitch, int(75 * loud), _TICKS * 2 - 40)
        for pitch in chord:  # string pad, the whole bar
            note(start, 2, pitch - 12, int(60 * loud), bar_ticks - 10)
        if section in (2, 4):  # lead line in the choruses
            for step in range(4):
                pitch = melody[(bar * 4 + step) % len(melody)]
                note(start + step * _TICKS, 3, pitch, int(90 * loud), _TICKS - 30)
    return sorted(events, key=lambda item: (item[0], item[1][0] & 0xF0 != 0x80))


def write_midi(path: Path, seconds: float) -> None:
    """A Standard MIDI File (format 0) of the arrangement, ``seconds`` long."""
    bars = int(seconds // 2) + 1
    body = bytearray(_vlq(0) + b"\xff\x51\x03" + _TEMPO_US.to_bytes(3, "big"))
    previous = 0
    for tick, message in _arrangement(bars):
        body += _vlq(tick - previous) + message
        previous = tick
    body += _vlq(0) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, _TICKS)
    path.write_bytes(header + b"MTrk" + struct.pack(">I", len(body)) + bytes(body))


def soundfont() -> Path | None:
    """The General MIDI soundfont fluidsynth renders with, when installed."""
    if shutil.which("fluidsynth") is None:
        return None
    return next((font for font in SOUNDFONTS if font.is_file()), None)


def render(path: Path, *, seconds: float, rate: int, subtype: str) -> str:
    """Write the test track to ``path`` (stereo WAV); return what it is, in words."""
    font = soundfont()
    frames = int(seconds * rate)
    if font is not None:
        with tempfile.TemporaryDirectory() as directory:
            midi = Path(directory) / "song.mid"
            raw = Path(directory) / "render.wav"
            write_midi(midi, seconds)
            subprocess.run(
                ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(rate), "-O", "float",
                 "-T", "wav", "-F", str(raw), str(font), str(midi)],
                check=True,
                capture_output=True,
            )  # fmt: skip
            data, _ = soundfile.read(str(raw), dtype="float64", always_2d=True)
        data = data[:frames]
        if len(data) < frames:
            data = np.pad(data, ((0, frames - len(data)), (0, 0)))
        peak = float(np.max(np.abs(data))) or 1.0
        data *= 0.89 / peak  # -1 dBFS, as a mastered export
        what = (
            f"a General MIDI arrangement (drums, bass, piano, strings, lead; sections from "
            f"quiet to loud) rendered by fluidsynth with {font.name}"
        )
    else:
        data = _synthetic(frames, rate)
        what = "a synthetic mix of tones, transients and low-level noise with dynamics"
    soundfile.write(str(path), data, rate, subtype=subtype)
    return what


def _synthetic(frames: int, rate: int) -> np.ndarray:
    generator = np.random.default_rng(11)
    t = np.arange(frames) / rate
    tones = sum(
        0.12 * np.sin(2 * np.pi * frequency * t + phase)
        for frequency, phase in ((110, 0.0), (164.8, 0.3), (220, 1.1), (329.6, 2.0), (880, 0.7))
    )
    beat = (t * 2) % 1.0  # 120 bpm transients: decaying clicks of filtered noise
    transients = np.exp(-beat * 30) * generator.normal(0, 0.25, frames)
    noise = generator.normal(0, 0.003, frames)
    envelope = 0.5 + 0.45 * np.sin(2 * np.pi * t / 40.0)  # sections every 20 s
    mono = envelope * (tones + transients) + noise
    stereo = np.stack([mono, np.roll(mono, 37) * 0.9], axis=1)
    return np.asarray(0.89 * stereo / np.max(np.abs(stereo)))

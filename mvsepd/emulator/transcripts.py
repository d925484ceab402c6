"""Results that are not audio: MIDI from the transcription models, text from the speech ones.

MVSEP's MIDI extractors (SOME, Transkun, Basic Pitch) and its speech-to-text models (Whisper,
Parakeet) return a file of their kind, not a stem [INF: their catalog entries list one
"Result" output and describe MIDI or text; the file types are the emulator's choice:
Standard MIDI File ``.mid`` and plain text ``.txt``]. The emulator writes a small, valid file of
that kind whose content depends on the input's length, so tests can tell them apart.
"""

from __future__ import annotations

import struct
from pathlib import Path

MIDI = "mid"
TEXT = "txt"


def result_kind(algorithm_name: str) -> str | None:
    """``mid``, ``txt``, or None for a model whose results are audio."""
    name = algorithm_name.casefold()
    if "midi" in name:
        return MIDI
    if "extract text" in name or ("transcri" in name and "midi" not in name):
        return TEXT
    return None


def write_midi(path: Path, seconds: float) -> None:
    """A one-track Standard MIDI File: a middle C every beat for ``seconds`` at 120 bpm."""
    ticks_per_beat = 480
    events = bytearray()
    for _ in range(max(1, round(seconds * 2))):
        events += b"\x00\x90\x3c\x40"  # note on, C4
        events += _delta(ticks_per_beat) + b"\x80\x3c\x00"  # note off one beat later
    events += b"\x00\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
    track = b"MTrk" + struct.pack(">I", len(events)) + bytes(events)
    path.write_bytes(header + track)


def write_text(path: Path, seconds: float) -> None:
    """A transcript line per second of input."""
    lines = [f"[{second:02d}:00] la la la" for second in range(max(1, round(seconds)))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _delta(ticks: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [ticks & 0x7F]
    ticks >>= 7
    while ticks:
        out.append((ticks & 0x7F) | 0x80)
        ticks >>= 7
    return bytes(reversed(out))

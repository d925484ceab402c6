"""Fake separation: split audio into a model's stems with simple, exactly invertible DSP.

Each output key of a model is either *primary* or *derived*:

- The primary stems partition the input. They are extracted one after the other from what is
  left of the signal: a voice-like stem takes a speech band of the mid (L+R)/2 channel, a
  "wide"/"back"/"reverb" stem takes the side (L-R)/2 channel, every other stem takes an FFT band
  chosen from its name (bass low, hi-hats high, unknown names a stable one-octave band). The last
  primary stem (``other``, ``residual``, ``no-*``, the instrumental, … or else the last key) gets
  whatever is left, so **the primary stems sum to the input exactly** before quantisation.
- Derived stems mirror how MVSEP's extra files relate to the main ones: ``instrumental`` next to
  ``vocals`` and other stems is input − vocals, ``all-X`` is input − ``no-X``, ``sum`` is the
  input, and model variants such as ``vocals-fullness-level-1`` or ``instrum-max-fft`` are copies
  of their base stem.

Audio is processed in independent blocks (rectangular FFT frames) so memory stays bounded for
inputs of any length; the per-block operations are linear, so the partition is exact in every
block. Stems are returned as float64 arrays of shape (frames, channels).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float64]

_VARIANT_MARKERS = ("fullness", "fft", "roformer", "scnet", "mdx23c", "demucs", "bs-rof", "mel-rof")
_COMPLEMENTS = ("instrumental", "instrum", "instruments", "accompaniment", "invert")
_RESIDUAL_PREFERENCE = (
    "other",
    "residual",
    "instrumental",
    "instrum",
    "instruments",
    "accompaniment",
    "music",
    "invert",
    "noise",
)
_VOICE_WORDS: tuple[str, ...] = ("vocal", "voice", "speech", "dialog", "lead", "male", "female")
_VOICE_WORDS += ("singer", "soprano", "alto", "tenor", "choir", "aspiration")
_SIDE_WORDS = ("wide", "back", "reverb", "side", "crowd")
_BANDS: tuple[tuple[tuple[str, ...], tuple[float, float]], ...] = (
    (("kick",), (30.0, 120.0)),
    (("sub",), (20.0, 60.0)),
    (("bass", "tuba", "double-bass"), (30.0, 250.0)),
    (("snare",), (150.0, 400.0)),
    (("toms",), (80.0, 300.0)),
    (("hh", "hihat", "hi-hat", "cymbal", "crash", "ride", "triangle", "bells"), (6000.0, 18000.0)),
    (("drum", "percussion", "fx", "sfx", "effect", "risers", "braam"), (2500.0, 9000.0)),
    (("piano", "keys", "organ", "synth"), (250.0, 2000.0)),
    (("guitar", "strings", "violin", "cello", "viola", "harp"), (200.0, 1500.0)),
    (("wind", "brass", "flute", "sax", "trumpet", "horn", "oboe", "clarinet"), (400.0, 3000.0)),
)
_VOICE_BAND = (300.0, 3400.0)


@dataclasses.dataclass(frozen=True)
class Derivation:
    """How a derived stem is computed: ``copy`` of ``source``, ``complement`` (input − source),
    or ``input`` (the input itself)."""

    kind: str
    source: str | None = None


@dataclasses.dataclass(frozen=True)
class StemPlan:
    """Which keys partition the input (``primary``, residual last) and how the rest follow."""

    primary: tuple[str, ...]
    derived: dict[str, Derivation]

    @property
    def residual(self) -> str:
        return self.primary[-1]


def plan_stems(keys: Sequence[str]) -> StemPlan:
    """Classify a model's output keys (see the module docstring)."""
    if not keys:
        raise ValueError("a model has at least one output")
    key_set = set(keys)
    derived: dict[str, Derivation] = {}
    for key in keys:
        base = _variant_base(key, key_set)
        if key == "sum":
            derived[key] = Derivation("input")
        elif base is not None:
            derived[key] = Derivation("copy", base)
        elif key.startswith("all-") and f"no-{key[4:]}" in key_set:
            derived[key] = Derivation("complement", f"no-{key[4:]}")
    voice = next((k for k in keys if k not in derived and _is_voice(k)), None)
    candidates = [k for k in keys if k not in derived]
    if voice is not None and len(candidates) >= 3:
        for key in candidates:
            if key in _COMPLEMENTS:
                derived[key] = Derivation("complement", voice)
    primary = [k for k in keys if k not in derived]
    if not primary:
        primary = [keys[0]]
        derived.pop(keys[0], None)
    residual = _pick_residual(primary)
    ordered = [k for k in primary if k != residual] + [residual]
    return StemPlan(primary=tuple(ordered), derived=derived)


def split_block(block: Audio, samplerate: int, plan: StemPlan) -> dict[str, Audio]:
    """All stems of one block (frames × channels, float64). Primary stems sum to ``block``."""
    remaining = block.copy()
    stems: dict[str, Audio] = {}
    for key in plan.primary[:-1]:
        stem = _extract(key, remaining, samplerate)
        stems[key] = stem
        remaining -= stem
    stems[plan.residual] = remaining
    for key, how in plan.derived.items():
        if how.kind == "input":
            stems[key] = block.copy()
        elif how.kind == "copy" and how.source is not None:
            stems[key] = _source(stems, how.source, block).copy()
        elif how.source is not None:
            stems[key] = block - _source(stems, how.source, block)
    return stems


def _source(stems: dict[str, Audio], source: str, block: Audio) -> Audio:
    return stems.get(source, block)


def _variant_base(key: str, key_set: set[str]) -> str | None:
    for base in key_set:
        if base != key and key.startswith(base + "-"):
            suffix = key[len(base) + 1 :]
            if any(marker in suffix for marker in _VARIANT_MARKERS):
                return base
    return None


def _is_voice(key: str) -> bool:
    return any(word in key for word in _VOICE_WORDS) and not key.startswith(("no-", "other"))


def _pick_residual(primary: list[str]) -> str:
    for preferred in _RESIDUAL_PREFERENCE:
        if preferred in primary:
            return preferred
    for key in primary:
        if key.startswith(("no-", "other")):
            return key
    return primary[-1]


def _extract(key: str, audio: Audio, samplerate: int) -> Audio:
    if any(word in key for word in _SIDE_WORDS):
        return _side(audio, samplerate, _band_for(key))
    if key == "center":
        return _mid(audio, samplerate, (0.0, samplerate / 2.0))
    if _is_voice(key):
        return _mid(audio, samplerate, _VOICE_BAND)
    return _bandpass(audio, samplerate, _band_for(key))


def _band_for(key: str) -> tuple[float, float]:
    for words, band in _BANDS:
        if any(word in key for word in words):
            return band
    if any(word in key for word in _SIDE_WORDS):
        return (0.0, 24000.0)
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
    low = 150.0 * (2.0 ** ((digest % 1000) / 1000.0 * 5.0))  # 150 Hz .. 4.8 kHz
    return (low, low * 2.0)


def _band_filter(signal: Audio, samplerate: int, band: tuple[float, float]) -> Audio:
    """Keep the FFT bins of ``band`` along axis 0 (rectangular block, exact complement)."""
    frames = signal.shape[0]
    if frames == 0:
        empty: Audio = signal.copy()
        return empty
    spectrum = np.fft.rfft(signal, axis=0)
    freqs = np.fft.rfftfreq(frames, d=1.0 / samplerate)
    mask = (freqs >= band[0]) & (freqs < band[1])
    shape = (-1,) + (1,) * (signal.ndim - 1)
    kept = spectrum * mask.reshape(shape)
    return np.asarray(np.fft.irfft(kept, n=frames, axis=0), dtype=np.float64)


def _bandpass(audio: Audio, samplerate: int, band: tuple[float, float]) -> Audio:
    return _band_filter(audio, samplerate, band)


def _mid(audio: Audio, samplerate: int, band: tuple[float, float]) -> Audio:
    mid: Audio = np.asarray(audio.mean(axis=1), dtype=np.float64)
    filtered = _band_filter(mid, samplerate, band)
    return np.repeat(filtered[:, None], audio.shape[1], axis=1)


def _side(audio: Audio, samplerate: int, band: tuple[float, float]) -> Audio:
    if audio.shape[1] < 2:
        return np.zeros_like(audio)
    side = (audio[:, 0] - audio[:, 1]) / 2.0
    filtered = _band_filter(side, samplerate, band)
    stem = np.zeros_like(audio)
    stem[:, 0] = filtered
    stem[:, 1] = -filtered
    return stem

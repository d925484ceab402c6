"""The tray icon's pixels: checked-in PNG snapshots, and readability at the sizes trays use.

Regenerate the snapshots after an intended change of the drawing (and look at them!):

    MVSEPD_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/tray/test_badge.py
"""

from __future__ import annotations

import colorsys
import itertools
import os
from pathlib import Path

import numpy
import pytest
from PIL import Image

from mvsepd.tray.badge import (
    CANVAS,
    TONES,
    TRAY_SIZES,
    WHITE,
    IconState,
    number_state,
    render,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("MVSEPD_UPDATE_SNAPSHOTS", "") not in ("", "0")

CASES = {
    "position-1": number_state(1),
    "position-9": number_state(9),
    "position-42": number_state(42),
    "position-100-plus": number_state(100),
    "count-2-processing": number_state(2, "processing"),
    "count-3-downloading": number_state(3, "downloading"),
    "error": IconState("error", "error"),
    "position-7-with-error": number_state(7, "error"),
    "paused": IconState("paused", "paused"),
    "offline": IconState("offline", "offline"),
    "idle": IconState("idle", "idle"),
}


def _pixels(image: Image.Image) -> numpy.ndarray:
    return numpy.asarray(image.convert("RGBA")).astype(int)


@pytest.mark.parametrize("name", sorted(CASES))
def test_badge_matches_its_snapshot_pixel_for_pixel(name: str) -> None:
    image = render(CASES[name])
    path = SNAPSHOTS / f"{name}.png"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        image.save(path, optimize=True)
    assert path.exists(), f"no snapshot {path.name}: run with MVSEPD_UPDATE_SNAPSHOTS=1"
    with Image.open(path) as stored:
        expected = stored.convert("RGBA")
    assert expected.size == image.size == (CANVAS, CANVAS)
    different = int((_pixels(expected) != _pixels(image)).any(axis=2).sum())
    assert different == 0, (
        f"{different} pixels of {name} differ from {path.name} (a Pillow or drawing change? "
        "look, then regenerate with MVSEPD_UPDATE_SNAPSHOTS=1)"
    )


def test_rendering_is_repeatable_and_cached() -> None:
    first = render(number_state(42), 22)
    assert render(number_state(42), 22) is first
    render.cache_clear()
    assert _pixels(render(number_state(42), 22)).tolist() == _pixels(first).tolist()


def test_labels() -> None:
    assert [number_state(n).label() for n in (1, 9, 42, 99, 100, 12345)] == [
        "1", "9", "42", "99", "99+", "99+"
    ]  # fmt: skip


@pytest.mark.parametrize("size", TRAY_SIZES)
def test_every_queue_position_looks_different_at_tray_sizes(size: int) -> None:
    # Readable means at least: no two positions render alike. "Clearly different" pixels
    # differ by more than 90 summed over R, G and B.
    images = {n: _pixels(render(number_state(n), size)) for n in range(1, 101)}
    fewest = min(
        int((numpy.abs(images[a] - images[b])[..., :3].sum(axis=2) > 90).sum())
        for a, b in itertools.combinations(images, 2)
    )
    assert fewest >= size // 4


@pytest.mark.parametrize("size", TRAY_SIZES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_glyph_and_background_both_show_at_tray_sizes(size: int, name: str) -> None:
    pixels = _pixels(render(CASES[name], size))
    assert pixels.shape == (size, size, 4)
    opaque = pixels[..., 3] > 250
    assert opaque.mean() > 0.8, "the badge fills the icon"
    light = (pixels[..., :3].min(axis=2) > 200) & opaque
    tone = numpy.array(TONES[CASES[name].tone][:3])
    background = (numpy.abs(pixels[..., :3] - tone).sum(axis=2) < 30) & opaque
    assert 0.05 < light.mean() < 0.5, "the glyph is visible, not a blot"
    assert background.mean() > 0.3, "the colour that says the state is visible"


def _luminance(colour: tuple[int, ...]) -> float:
    channels = []
    for value in colour[:3]:
        srgb = value / 255
        channels.append(srgb / 12.92 if srgb <= 0.03928 else ((srgb + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


@pytest.mark.parametrize("tone", sorted(TONES))
def test_white_on_every_tone_has_wcag_aa_contrast(tone: str) -> None:
    ratio = (_luminance(WHITE) + 0.05) / (_luminance(TONES[tone]) + 0.05)  # type: ignore[index]
    assert ratio >= 4.5


def test_states_are_told_apart_by_colour_at_16_px() -> None:
    def hue_and_saturation(state: IconState) -> tuple[float, float]:
        pixels = _pixels(render(state, 16))
        opaque = pixels[pixels[..., 3] > 250][:, :3]
        darkest = opaque[opaque.sum(axis=1) < 500].mean(axis=0) / 255
        hue, _lightness, saturation = colorsys.rgb_to_hls(*darkest)
        return hue, saturation

    colours = {
        name: hue_and_saturation(CASES[name])
        for name in (
            "position-9",
            "count-2-processing",
            "count-3-downloading",
            "position-7-with-error",
            "paused",
        )
    }
    assert colours["paused"][1] < 0.15, "paused is grey"
    hues = [
        colours[name][0]
        for name in (
            "position-9",
            "count-2-processing",
            "count-3-downloading",
            "position-7-with-error",
        )
    ]
    for first, second in itertools.combinations(hues, 2):
        distance = min(abs(first - second), 1 - abs(first - second))
        assert distance > 0.05

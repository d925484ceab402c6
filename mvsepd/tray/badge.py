"""The tray icon's image, drawn with Pillow: a rounded square whose colour says how things stand
and whose glyph says what is happening (pure: ``IconState`` in, ``Image`` out, cached).

- the number of files still to come (``99+`` above 99), on blue while they wait (in MVSEP's
  queue or in mvsepd's), on teal while one is uploaded or separated, on green while stems
  are downloaded;
- nothing to do: three bars (stems), on slate;
- a failure not dismissed yet or an invalid token: the colour turns red; with nothing to
  come, the glyph is ``!``;
- paused: grey with pause bars (or the number while files are still to come);
- the daemon cannot be reached: grey with a dash.

Everything is drawn at 64 x 64 and scaled down (the tray asks for 16 to 32 px), with the font
bundled in Pillow (``ImageFont.load_default(size=...)``, Pillow >= 10.1), so the pixels are the
same on every machine with the same Pillow; ``tests/tray/snapshots`` holds the expected images.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

#: The size everything is drawn at; backends scale it to the tray's own size.
CANVAS = 64
#: Sizes the icon must stay readable at (Windows 16, GNOME 22/24, KDE and macOS 32 ...).
TRAY_SIZES = (16, 22, 24, 32)

Glyph = Literal["number", "idle", "error", "paused", "offline"]
Tone = Literal["waiting", "processing", "downloading", "idle", "error", "paused", "offline"]

WHITE = (255, 255, 255, 255)
#: Background colours; each has a contrast ratio of at least 4.5 against white (WCAG AA).
TONES: dict[Tone, tuple[int, int, int, int]] = {
    "waiting": (29, 78, 216, 255),  # blue
    "processing": (15, 118, 110, 255),  # teal
    "downloading": (21, 128, 61, 255),  # green
    "idle": (51, 65, 85, 255),  # slate
    "error": (200, 30, 30, 255),  # red
    "paused": (90, 96, 108, 255),  # grey
    "offline": (100, 106, 116, 255),  # grey, a little lighter
}
_CORNER_RADIUS = 14
_STROKE = 7  # width of the drawn glyphs at 64 px: about 2 px at 16 px


@dataclass(frozen=True)
class IconState:
    """What the icon shows: a glyph on a tone, and the count for ``number``."""

    glyph: Glyph
    tone: Tone
    number: int | None = None

    def label(self) -> str:
        """The text of a number badge (``99+`` above 99)."""
        if self.number is None:
            return ""
        return "99+" if self.number > 99 else str(max(0, self.number))


def number_state(count: int, tone: Tone = "waiting") -> IconState:
    """The badge for ``count`` files still to come."""
    return IconState("number", tone, count)


@functools.lru_cache(maxsize=256)
def render(state: IconState, size: int = CANVAS) -> Image.Image:
    """Return the icon for ``state`` as an RGBA image of ``size`` px (shared: do not modify)."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (0, 0, CANVAS - 1, CANVAS - 1), radius=_CORNER_RADIUS, fill=TONES[state.tone]
    )
    _GLYPHS[state.glyph](draw, state)
    if size == CANVAS:
        return image
    return image.resize((size, size), Image.Resampling.LANCZOS)


# --- glyphs ---------------------------------------------------------------------------------


def _number(draw: ImageDraw.ImageDraw, state: IconState) -> None:
    label = state.label()
    font, stroke = _fitting_font(label)
    draw.text(
        (CANVAS / 2, CANVAS / 2 + 1),
        label,
        font=font,
        fill=WHITE,
        anchor="mm",
        stroke_width=stroke,
        stroke_fill=WHITE,
    )


@functools.lru_cache(maxsize=8)
def _fitting_font(label: str) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, int]:
    """The largest bundled font size at which ``label`` fits the square with a margin."""
    stroke = 2 if len(label) < 3 else 1
    max_width = 54 if len(label) < 3 else 60
    max_height = 42 if len(label) < 3 else 32
    for size in range(60, 8, -1):
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = font.getbbox(label, anchor="mm", stroke_width=stroke)
        if right - left <= max_width and bottom - top <= max_height:
            return font, stroke
    return ImageFont.load_default(size=9), 0


def _idle(draw: ImageDraw.ImageDraw, state: IconState) -> None:
    # Three stems of different lengths.
    for top, (left, right) in zip((14, 28, 42), ((13, 50), (13, 40), (13, 46)), strict=True):
        draw.rounded_rectangle((left, top, right, top + _STROKE), radius=3, fill=WHITE)


def _error(draw: ImageDraw.ImageDraw, state: IconState) -> None:
    draw.rounded_rectangle((28, 10, 36, 40), radius=3, fill=WHITE)
    draw.ellipse((27, 45, 37, 55), fill=WHITE)


def _paused(draw: ImageDraw.ImageDraw, state: IconState) -> None:
    draw.rounded_rectangle((18, 14, 27, 50), radius=2, fill=WHITE)
    draw.rounded_rectangle((37, 14, 46, 50), radius=2, fill=WHITE)


def _offline(draw: ImageDraw.ImageDraw, state: IconState) -> None:
    draw.rounded_rectangle((14, 28, 50, 36), radius=3, fill=WHITE)


_GLYPHS = {
    "number": _number,
    "idle": _idle,
    "error": _error,
    "paused": _paused,
    "offline": _offline,
}

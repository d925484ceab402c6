"""Where the stems start against their source: the lag that maximises their cross-correlation.

Lossy codecs move audio in time: an mp3 decoder that ignores the LAME gapless header puts a
stem 1,105 samples late (576 encoder + 529 decoder delay), AAC priming is 1,024 or 2,112. The
sum of a job's stems is the mix the model heard, so its cross-correlation with the source
peaks at the lag. The search is bounded (``MAX_LAG`` each way) and made on a window where the
source is not silent; periodic material has several equal peaks, and the one nearest zero is
taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Mono = npt.NDArray[np.float64]

#: Largest lag looked for, in samples at the source's rate.
MAX_LAG = 8192
#: Samples compared (at the source's rate).
WINDOW = 1 << 16
#: A window quieter than this (RMS, dBFS) says nothing about the lag: look further on.
SILENT_DB = -60.0
#: Peaks within this fraction of the highest count as equal (periodic material).
_PEAK_TIE = 0.01
#: Below this normalised correlation the stems do not resemble the source: no lag is claimed.
MIN_CONFIDENCE = 0.2


@dataclass(frozen=True)
class Lag:
    """The lag found (positive: the stems are late), in samples at the source's rate, to a
    fraction of a sample, and how alike the signals are at it (0-1)."""

    exact: float
    confidence: float

    @property
    def samples(self) -> int:
        """The lag in whole samples at the source's rate."""
        return round(self.exact)

    def at_rate(self, rate: int, source_rate: int) -> int:
        """The lag in whole samples at ``rate``: codec delays are whole samples of the stem's
        own rate (1,105 at 44.1 kHz is 1,202.7 at 48 kHz), so it is removed there."""
        return round(self.exact * rate / source_rate)


def is_silent(window: Mono) -> bool:
    """True when ``window`` is too quiet to align on."""
    if window.size == 0:
        return True
    rms = float(np.sqrt(np.mean(window * window)))
    return rms <= 10 ** (SILENT_DB / 20)


def find_lag(reference: Mono, candidate: Mono, max_lag: int = MAX_LAG) -> Lag:
    """The lag of ``candidate`` against ``reference``.

    ``reference`` holds W samples of the source from some frame S; ``candidate`` holds the
    stems' sum from frame S − ``max_lag`` to S + W + ``max_lag`` (zeros where before 0).
    """
    width = reference.size
    size = 1 << int(np.ceil(np.log2(width + candidate.size)))
    spectrum = np.conj(np.fft.rfft(reference, size)) * np.fft.rfft(candidate, size)
    correlation = np.fft.irfft(spectrum, size)[: 2 * max_lag + 1]
    lags = np.arange(-max_lag, max_lag + 1)
    best = float(correlation.max())
    if best <= 0.0:
        return Lag(0, 0.0)
    tied = np.flatnonzero(correlation >= best * (1 - _PEAK_TIE))
    index = int(tied[np.argmin(np.abs(lags[tied]))])
    lag = int(lags[index])
    exact = float(lag)
    if 0 < index < correlation.size - 1:
        # The peak's position between samples, from the parabola through it and its neighbours.
        left, middle, right = correlation[index - 1], correlation[index], correlation[index + 1]
        curvature = left - 2 * middle + right
        if curvature < 0:
            exact += float(0.5 * (left - right) / curvature)
    start = max_lag + lag
    overlap = candidate[start : start + width]
    energy = float(np.sqrt(np.dot(reference, reference) * np.dot(overlap, overlap)))
    confidence = float(correlation[index]) / energy if energy > 0 else 0.0
    return Lag(exact, min(1.0, confidence))

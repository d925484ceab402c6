"""Credit estimates for MVSEP jobs (domain layer: pure arithmetic).

MVSEP's API page gives the price of a job as ``floor(<duration in seconds> * price_coefficient
/ 60) ?: 1``: whole credits, never less than one. Options with ``price_rules`` multiply it (the
87.5 % overlap of the Roformer models costs double). Only accounts that spend credits (premium
enabled with a positive balance) are charged; the free queue costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mvsepd.models import Algorithm


@dataclass(frozen=True)
class CreditEstimate:
    """The estimated price of one job and how it was reached."""

    credits: int
    duration_seconds: float
    price_coefficient: float
    multiplier: float

    def describe(self) -> str:
        """Return the estimate in words, e.g. ``"3 credits (181 s x 1 x 1.0)"``."""
        noun = "credit" if self.credits == 1 else "credits"
        return (
            f"{self.credits} {noun} ({self.duration_seconds:.0f} s x "
            f"{self.price_coefficient:g} x {self.multiplier:g})"
        )


def option_multiplier(algorithm: Algorithm, options: Mapping[str, str]) -> float:
    """Return the product of the price rules that the chosen options trigger."""
    chosen = {**algorithm.defaults(), **{key: value for key, value in options.items() if value}}
    multiplier = 1.0
    for option_field in algorithm.fields:
        key = chosen.get(option_field.name)
        if key is not None:
            multiplier *= option_field.price_multiplier(key)
    return multiplier


def estimate_credits(
    algorithm: Algorithm, options: Mapping[str, str], duration_seconds: float
) -> CreditEstimate:
    """Given an algorithm, the chosen option keys and the audio's duration, return the price."""
    multiplier = option_multiplier(algorithm, options)
    raw = duration_seconds * algorithm.price_coefficient * multiplier / 60.0
    credits = max(1, math.floor(raw + 1e-9))
    return CreditEstimate(
        credits=credits,
        duration_seconds=duration_seconds,
        price_coefficient=algorithm.price_coefficient,
        multiplier=multiplier,
    )

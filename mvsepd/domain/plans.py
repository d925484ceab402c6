"""What MVSEP's plans allow (domain layer: pure rules): premium-only models and output formats,
and each plan's limits on an input's length and size.

MVSEP's catalog gives every model an ``orientation``: 0 for everyone, 1 for registered users,
2 for premium users only (AbleVSEP's reading, ``src/mvsep/catalog.ts``; in the catalog exactly
the three ensembles have 2, which MVSEP refuses to free accounts with "Seperation type is
unavailable until you purchase premium membership" [REC]). WAV 32-bit and FLAC 24-bit output
are premium-only in AbleVSEP's picker, but MVSEP's refusing them is not recorded, so they are
only warned about; the plans' limits (free: 10 min, 100 MB; premium:
100 min, 1000 MB) are mvsep.com/plans as AbleVSEP's ``src/credits.ts`` cites them. None of this
is in MVSEP's API, so every number is a setting (``account.plans``), not a constant here.

"Premium" means an account that spends credits (premium usage on and credits left): the free
queue serves everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvsepd.models import Algorithm, OutputFormat

MEBIBYTE = 1024 * 1024


@dataclass(frozen=True)
class PlanLimits:
    """How long and how large an input one plan takes."""

    name: str
    max_minutes: float
    max_upload_mb: float

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * MEBIBYTE)


@dataclass(frozen=True)
class PremiumRules:
    """Which models and output formats need a premium account."""

    orientations: frozenset[int]
    output_formats: frozenset[OutputFormat]

    def needs(self, algorithm: Algorithm | None) -> list[str]:
        """What of a preset needs a premium account, in words (empty: nothing). MVSEP refuses
        such a model to a free account with its own words [REC]."""
        if algorithm is not None and algorithm.orientation in self.orientations:
            return [f"the model {algorithm.name!r} is for premium accounts only"]
        return []

    def format_warning(self, output_format: OutputFormat) -> str | None:
        """A warning for an output format MVSEP may keep from free accounts, or None.

        Only one client (AbleVSEP) gates these formats; no refusal of MVSEP's is recorded, and
        mvsepd's own chains ask for flac24 between steps. So this is said, not enforced: if
        MVSEP does refuse, the job fails with MVSEP's words, as a problem of the settings.
        """
        if output_format not in self.output_formats:
            return None
        return (
            f"output format {output_format.config_name} may be for premium accounts only "
            "(AbleVSEP offers it to premium accounts alone; MVSEP's API does not say): if "
            "MVSEP refuses it, ask for flac16 or wav16"
        )


def too_long_or_large(
    name: str,
    *,
    seconds: float | None,
    size: int | None,
    plan: PlanLimits,
    other: PlanLimits | None = None,
) -> list[str]:
    """Why ``name`` (``seconds`` long, ``size`` bytes as sent) is more than ``plan`` takes, in
    words that say what to do; empty when it fits. ``other`` is the plan that would take it (the
    premium plan for a free account)."""
    found: list[str] = []
    if seconds is not None and seconds > plan.max_minutes * 60:
        fix = "shorten or split it"
        if other is not None and seconds <= other.max_minutes * 60:
            fix += f", or turn on premium usage at mvsep.com (up to {other.max_minutes:g} min)"
        found.append(
            f"{name} is {_length(seconds)} long; the {plan.name} plan takes up to "
            f"{plan.max_minutes:g} min: {fix}"
        )
    if size is not None and size > plan.max_bytes:
        fix = "shorten or split it, or export 16/24-bit so it goes as FLAC"
        if other is not None and size <= other.max_bytes:
            fix += f", or turn on premium usage at mvsep.com (up to {other.max_upload_mb:g} MB)"
        found.append(
            f"{name} is {size / MEBIBYTE:.1f} MB as sent; the {plan.name} plan takes files up "
            f"to {plan.max_upload_mb:g} MB: {fix}"
        )
    return found


def _length(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"

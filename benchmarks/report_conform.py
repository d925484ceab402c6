"""The report's sections on conforming stems: speed beside ffmpeg, alignment per format.

Rendering only (``benchmarks.run`` measures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def conform(conform: dict[str, Any], alignment: list[dict[str, Any]]) -> list[str]:
    def seconds(value: float | None) -> str:
        return "n/a (no ffmpeg)" if value is None else f"{value:.2f} s"

    ffmpeg_vhq = conform["ffmpeg_vhq_seconds"]
    ratio = (
        f"{conform['mvsepd_seconds'] / ffmpeg_vhq:.2f}x ffmpeg's time at the same precision"
        if ffmpeg_vhq
        else "no ffmpeg to compare with"
    )
    lines = [
        "",
        f"## Conform: a {conform['minutes']:.0f}-minute 44.1 kHz stereo float stem "
        f"({conform['stem_mib']} MiB) to 48 kHz 24-bit (median of {conform['repeats']})",
        "",
        _row(["tool", "time", "peak memory growth"]),
        _row(["---"] * 3),
        _row(
            [
                "mvsepd conform (soxr VHQ, streamed; decode, resample, round, write)",
                seconds(conform["mvsepd_seconds"]),
                f"{conform['mvsepd_growth_mib']:.1f} MiB",
            ]
        ),
        _row(
            [
                "mvsepd conform with the source at hand (+ lag search, null figure)",
                seconds(conform["mvsepd_checked_seconds"]),
                f"{conform['mvsepd_checked_growth_mib']:.1f} MiB",
            ]
        ),
        _row(
            [
                "ffmpeg -af aresample=resampler=soxr:precision=28 (same precision, baseline)",
                seconds(ffmpeg_vhq),
                "",
            ]
        ),
        _row(
            [
                "ffmpeg -af aresample=resampler=soxr (its default precision 20)",
                seconds(conform["ffmpeg_seconds"]),
                "",
            ]
        ),
        "",
        f"mvsepd takes {ratio}.",
        "",
        "## Alignment and null after conform, per MVSEP output format",
        "",
        "A 20 s 48 kHz 24-bit stereo take of noise band-limited below 18 kHz with a slow swell, "
        "through the emulator in its MVSEP-like mode (44.1 kHz stereo stems) and back; the lag "
        "and null are measured on the placed stems by an independent cross-correlation.",
        "",
        _row(["MVSEP format", "lag after conform (samples)", "null (dB)", "manifest's null (dB)"]),
        _row(["---"] * 4),
    ]
    for row in alignment:
        lines.append(
            _row(
                [
                    row["format"],
                    str(row["lag_samples"]),
                    f"{row['null_db']:.1f}",
                    f"{row['manifest_null_db']:.1f}",
                ]
            )
        )
    lines += [
        "",
        "Lossy formats do not null on noise (mp3 and AAC keep how it sounds, not its waveform); "
        "their stems still start on the source's sample 0. wav16 nulls less deeply than "
        "flac16 because libsndfile truncates (not rounds) float samples written to 16-bit WAV, "
        "as MVSEP's own writer does.",
    ]
    return lines

"""The report's section on studio mode: throughput with 1 to 3 hosts, takeover delay.

Rendering only (``benchmarks.run`` measures, with ``benchmarks.studio_figures``).
"""

from __future__ import annotations

from typing import Any


def studio(figures: dict[str, Any], concurrency: int, processing_seconds: float) -> str:
    """The studio figures (``studio_figures.measure``) as a Markdown section."""
    lines = [
        f"## Studio mode: hosts on one account ({concurrency} unfinished jobs, "
        f"{processing_seconds:.0f} s processing)",
        "",
        "| hosts | takes (distinct) | seconds | jobs per minute | creates per content | "
        "peak unfinished at MVSEP | done by host |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in figures["throughput"]:
        by_host = ", ".join(
            f"{host} {count}" for host, count in sorted(run["done_by_host"].items())
        )
        lines.append(
            f"| {run['hosts']} | {run['files']} ({run['distinct']}) | {run['seconds']} | "
            f"{run['jobs_per_minute']} | {run['creates_per_content']} | "
            f"{run['peak_unfinished']} | {by_host} |"
        )
    delay = figures["takeover"]
    lines += [
        "",
        "The account's slots bound the studio, not the number of hosts: each job waits its "
        f"{processing_seconds:.0f} s at MVSEP whoever sent it, and the limit of {concurrency} "
        "holds studio-wide (peak unfinished jobs at MVSEP is the emulator's own count). Extra "
        "hosts add cover, not speed: a host that dies has its jobs taken over.",
        "",
        f"Takeover after a SIGKILL (lease {delay['lease_seconds']:.0f} s, {delay['rounds']} "
        f"kills of the host of a submitted job): median {delay['median_seconds']} s, "
        f"max {delay['max_seconds']} s until another host held the job. With the default "
        "30 s lease a takeover comes 30 to 45 s after the kill (the lease, then up to half "
        "a lease until the next look).",
    ]
    return "\n".join(lines)

"""One command, one report: every benchmark, each figure next to its baseline from the same run.

    python -m benchmarks.run [--quick] [--output benchmarks/RESULTS.md] [--before REV]
                             [--link-before REV] [--official-client PATH/mvsep_client.py]

Prints the report and writes it as Markdown, with the machine, Python and library versions in
its header. ``--quick`` shortens every measurement (a smoke run; its figures are not the
published ones). A benchmark prints figures; it is not a test, and nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import (
    conform_speed,
    daemon_figures,
    idle_footprint,
    report_conform,
    report_link,
    report_studio,
    studio_figures,
    time_to_stems,
)
from benchmarks.download_speed import download_speed
from benchmarks.harness import worktree

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before the idle-footprint work: what "before" measures by default.
BEFORE_IDLE_WORK = "cb1d77d"
#: The last commit before issue 21's work on time to stems: the link's "before" by default.
BEFORE_LINK_WORK = "e1620be"
LIBRARIES = (
    "requests",
    "requests-toolbelt",
    "urllib3",
    "watchdog",
    "Werkzeug",
    "soundfile",
    "soxr",
    "numpy",
    "structlog",
    "pydantic",
    "PyYAML",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header() -> list[str]:
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (absent)")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- Run: {now}, mvsepd commit {commit or 'unknown'}",
        f"- Machine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} cores ({_cpu_model()})",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- Libraries: {', '.join(versions)}",
    ]


def _upload(size_mib: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.upload_memory", "--size-mib", str(size_mib), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _timed(name: str, step: Callable[[], Any]) -> Any:
    print(f"- {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    value = step()
    print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return value


def _idle(seconds: float, before: str) -> dict[str, Any]:
    with worktree(before) as checkout:
        figures = idle_footprint.measure(seconds, checkout)
    figures["before_commit"] = before
    return figures


def link_figures(
    quick: bool, official: Path | None, reuse: Path | None, before: str
) -> dict[str, Any]:
    if reuse is not None:
        # The longest part (about 40 minutes): ``python -m benchmarks.time_to_stems --json``.
        figures: dict[str, Any] = json.loads(reuse.read_text(encoding="utf-8"))
        return figures
    return time_to_stems.measure(
        1 if quick else 3,
        10.0 if quick else 60.0,
        official,
        seconds=60.0 if quick else 300.0,
        before=before,
    )


def measure(
    quick: bool,
    before: str,
    official: Path | None,
    reuse_link: Path | None = None,
    reuse_studio: Path | None = None,
    link_before: str = BEFORE_LINK_WORK,
) -> dict[str, Any]:
    """Run every benchmark; return the raw figures."""
    return {
        "studio": _timed("studio mode, 1 to 3 hosts", lambda: _studio(quick, reuse_studio)),
        "idle": _timed("idle footprint", lambda: _idle(10 if quick else 60, before)),
        "link": _timed(
            "time to stems on a shaped link",
            lambda: link_figures(quick, official, reuse_link, link_before),
        ),
        "upload": _timed("upload memory and speed", lambda: _upload(128 if quick else 1024)),
        "download": _timed("download speed", lambda: download_speed(64 if quick else 256)),
        "startup": [
            _timed(f"start-up with {count} files", functools.partial(daemon_figures.startup, count))
            for count in ((1_000, 10_000) if quick else (10_000, 100_000))
        ],
        "per_job": _timed(
            "per-job overhead", lambda: daemon_figures.per_job_overhead(20 if quick else 100)
        ),
        "stability": _timed(
            "stability delay", lambda: daemon_figures.stability_delay(5 if quick else 20)
        ),
        "requests": _timed("requests per waiting job", lambda: requests_figures(link_before)),
        "processing_requests": _timed(
            "requests per processed job", daemon_figures.requests_per_processing_job
        ),
        "conform": _timed(
            "conform throughput", lambda: conform_speed.throughput(2.0 if quick else 10.0)
        ),
        "alignment": _timed(
            "alignment per output format",
            lambda: conform_speed.alignment(5.0 if quick else 20.0),
        ),
    }


def requests_figures(before: str) -> dict[str, Any]:
    with worktree(before) as checkout:
        figures = daemon_figures.requests_per_waiting_job(before=checkout)
    figures["before_commit"] = before
    return figures


def _studio(quick: bool, reuse: Path | None) -> dict[str, Any]:
    if reuse is not None:
        figures: dict[str, Any] = json.loads(reuse.read_text(encoding="utf-8"))
        return figures
    return studio_figures.measure(files=8 if quick else 24, rounds=2 if quick else 5)


def requests_section(requests: dict[str, Any], processed: dict[str, Any] | None) -> list[str]:
    """The requests of a job that waits 10 minutes, and of one MVSEP processes for 10."""
    lines: list[str] = []
    lines += [
        "",
        "## HTTP requests for a job that waits 10 minutes in the queue",
        "",
        _row(["client", "requests (create + polls + downloads)", "polls"]),
        _row(["---"] * 3),
        _row(
            [
                "mvsepd (2 s, then 7.5 s rising to 30 s with jitter)",
                str(requests["daemon_requests"]),
                str(requests["daemon_polls"]),
            ]
        ),
        *(
            [
                _row(
                    [
                        f"mvsepd before ({requests['before_commit']})",
                        str(requests["before_requests"]),
                        str(requests["before_polls"]),
                    ]
                )
            ]
            if "before_requests" in requests
            else []
        ),
        _row(
            [
                "fixed 5 s poll loop (baseline)",
                str(requests["fixed_5s_loop_requests"]),
                str(requests["fixed_5s_loop_polls"]),
            ]
        ),
        "",
        f"Both run with time scaled down {requests['time_scale']:.0f}x (the wait, the "
        "poll intervals); the counts are the same as at full scale. Goal: at most 30.",
    ]
    if processed is not None:
        lines += [
            "",
            "A job MVSEP processes for 10 minutes (polled by when it is expected to finish; "
            f"time scaled down {processed['time_scale']:.0f}x):",
            "",
            _row(["job", "requests (create + polls + downloads)", "polls"]),
            _row(["---"] * 3),
            _row(
                [
                    "the first of its model (every 2 s, then every 20th of its time so far)",
                    str(processed["first_of_model_requests"]),
                    str(processed["first_of_model_polls"]),
                ]
            ),
            _row(
                [
                    "a model seen finishing before (its processing time recorded)",
                    str(processed["model_seen_requests"]),
                    str(processed["model_seen_polls"]),
                ]
            ),
        ]
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def report(figures: dict[str, Any], quick: bool) -> str:
    """Render the figures as Markdown tables."""
    lines = ["# mvsepd benchmark results", ""]
    if quick:
        lines += [
            "**Quick run** (`--quick`): shortened measurements, not the published figures.",
            "",
        ]
    lines += header()
    upload = {row["tool"]: row for row in figures["upload"]["results"]}

    def mib(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    lines += [
        "",
        f"## Upload of a {figures['upload']['size_mib']} MiB WAV",
        "",
        _row(["tool", "idle RSS MiB", "peak RSS MiB", "growth MiB", "MiB/s"]),
        _row(["---"] * 5),
    ]
    for tool in ("mvsepd", "requests", "curl"):
        row = upload.get(tool)
        if row:
            lines.append(
                _row(
                    [
                        "mvsepd (streamed)"
                        if tool == "mvsepd"
                        else (
                            "plain requests `files=` (baseline)"
                            if tool == "requests"
                            else "curl -F"
                        ),
                        mib(row.get("idle_mib")),
                        mib(row.get("peak_mib")),
                        mib(row.get("growth_mib")),
                        f"{row['mib_per_second']:.0f}",
                    ]
                )
            )
    lines += ["", figures["upload"]["verdict"]]
    download = figures["download"]
    curl = download["curl_mib_per_second"]
    lines += [
        "",
        f"## Download of a {download['stem_mib']:.0f} MiB stem (best of {download['repeats']})",
        "",
        _row(["tool", "MiB/s"]),
        _row(["---"] * 2),
        _row(["mvsepd (resumable, size-capped)", f"{download['mvsepd_mib_per_second']:.0f}"]),
        _row(["curl -o (baseline)", "n/a" if curl is None else f"{curl:.0f}"]),
    ]
    lines += report_link.idle(figures["idle"])
    lines += report_link.upload_bytes(figures["link"])
    lines += report_link.time_to_stems(figures["link"])
    lines += [
        "",
        "## Start-up with already-processed files (to READY=1, median of 3)",
        "",
        _row(["files", "mvsepd", "walk + stat the tree (baseline)", "Python + imports alone"]),
        _row(["---"] * 4),
    ]
    for startup in figures["startup"]:
        lines.append(
            _row(
                [
                    f"{startup['files']:,}",
                    f"{startup['daemon_ready_seconds']:.2f} s",
                    f"{startup['walk_and_stat_seconds']:.2f} s",
                    f"{startup['python_and_imports_seconds']:.2f} s",
                ]
            )
        )
    per_job = figures["per_job"]
    lines += [
        "",
        f"## Per-job overhead, {per_job['jobs']} jobs, instant emulator, free plan",
        "",
        _row(["", "seconds per job"]),
        _row(["---"] * 2),
        _row(
            [
                "mvsepd daemon (watch, hash, store, upload, poll, download, manifest)",
                f"{per_job['daemon_seconds_per_job']:.3f}",
            ]
        ),
        _row(
            [
                "bare serial client: create, poll, download (baseline)",
                f"{per_job['bare_client_seconds_per_job']:.3f}",
            ]
        ),
        _row(["overhead", f"{per_job['overhead_seconds_per_job']:.3f}"]),
    ]
    stability = figures["stability"]
    lines += [
        "",
        "## Stability detection",
        "",
        f"From the end of a write to the start of its upload, beyond the "
        f"{stability['window_seconds']:.0f} s stability window ({stability['samples']} "
        f"files): median {stability['median_beyond_window_seconds'] * 1000:.0f} ms, "
        f"worst {stability['max_beyond_window_seconds'] * 1000:.0f} ms.",
    ]
    lines += requests_section(figures["requests"], figures.get("processing_requests"))
    lines += report_conform.conform(figures["conform"], figures["alignment"])
    lines += [
        "",
        report_studio.studio(
            figures["studio"], studio_figures.CONCURRENCY, studio_figures.PROCESSING_SECONDS
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="shortened smoke run")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--before",
        default=BEFORE_IDLE_WORK,
        metavar="REV",
        help=f"the commit whose idle footprint is shown as 'before' (default {BEFORE_IDLE_WORK})",
    )
    parser.add_argument(
        "--link-before",
        default=BEFORE_LINK_WORK,
        metavar="REV",
        help=f"the commit whose time to stems is shown as 'before' (default {BEFORE_LINK_WORK})",
    )
    parser.add_argument(
        "--official-client",
        type=Path,
        default=None,
        metavar="PATH",
        help="ZFTurbo's python_example3/mvsep_client.py, run beside mvsepd when given",
    )
    parser.add_argument(
        "--link-figures",
        type=Path,
        default=None,
        metavar="JSON",
        help="take the time-to-stems figures from `python -m benchmarks.time_to_stems --json` "
        "instead of measuring them again",
    )
    parser.add_argument(
        "--studio-figures",
        type=Path,
        default=None,
        metavar="JSON",
        help="take the studio figures from `python -m benchmarks.studio_figures --json`",
    )
    arguments = parser.parse_args(argv)
    figures = measure(
        arguments.quick,
        arguments.before,
        arguments.official_client,
        arguments.link_figures,
        arguments.studio_figures,
        arguments.link_before,
    )
    text = report(figures, arguments.quick)
    arguments.output.write_text(text, encoding="utf-8")
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

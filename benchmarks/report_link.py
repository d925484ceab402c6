"""The report's sections on the link and on rest: bytes sent, time to stems, idle footprint.

Rendering only (``benchmarks.run`` measures); each figure beside its baseline from the run.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

#: What the issue set as goals, quoted beside each figure.
IDLE_GOALS = {"wakeups_per_second": 1.0, "threads": 16, "rss_mb": 60.0, "cpu_percent": 0.05}
LONG_POLL_EXTRA_WAKEUPS = 0.5


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def upload_bytes(link: dict[str, Any]) -> list[str]:
    """Bytes uploaded as a fraction of the WAV, 24-bit and 16-bit."""
    rows = []
    for bits in (24, 16):
        wav, sent = link[f"wav{bits}_bytes"], link[f"sent{bits}_bytes"]
        goal = 0.75 if bits == 24 else 0.65
        rows.append(
            _row(
                [
                    f"{bits}-bit 48 kHz stereo, {link['seconds_of_audio'] / 60:.0f} min",
                    f"{wav / 2**20:.1f} MiB",
                    f"{sent / 2**20:.1f} MiB",
                    f"{sent / wav:.2f}",
                    f"<= {goal:.2f}",
                ]
            )
        )
    return [
        "",
        "## Bytes uploaded (lossless FLAC of integer PCM)",
        "",
        f"The signal: {link['signal']}. What the emulator received for one mvsepd upload; a "
        "client that sends the file as it is (the official examples) uploads the whole WAV.",
        "",
        _row(["export", "WAV", "sent by mvsepd", "fraction of the WAV", "goal"]),
        _row(["---"] * 5),
        *rows,
    ]


#: The clients of the time-to-stems table, in order, with their words.
_CLIENTS = {
    "mvsepd_wav16": "mvsepd, preset wav16 (fetched as flac16)",
    "mvsepd_flac24": "mvsepd, preset flac24",
    "before_wav16": "mvsepd before ({before}), preset wav16 (fetched as wav16)",
    "before_flac24": "mvsepd before ({before}), preset flac24",
    "official": "ZFTurbo's python_example3/mvsep_client.py itself (wav16)",
    "baseline": "example-3 behaviour, written in the benchmark (wav16)",
}
#: What the issue set as goals.
FLOOR_GOAL = 1.05
LOOPBACK_GOAL_SECONDS = 1.0


def _median(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


def time_to_stems(link: dict[str, Any]) -> list[str]:
    """From a complete export to its stems in place: each client's time, its floor, the ratio
    to the floor and to the official example, and mvsepd's phases."""
    reference = link.get("official") or link.get("baseline")
    reference_seconds = reference["median_seconds"] if reference else None
    before = link.get("before_commit") or "before"
    rows = []
    for key, label in _CLIENTS.items():
        row = link.get(key)
        if row is None:
            continue
        label = label.format(before=before)
        runs = ", ".join(f"{value:.1f}" for value in row["all_seconds"])
        if row.get("failures"):
            rows.append(_row([label, f"no stems ({row['failures'][0][:120]})", *["n/a"] * 5, runs]))
            continue
        results = row["runs"]
        floor = _median([run.get("floor_seconds") for run in results])
        ratios = [
            run["seconds"] / run["floor_seconds"] for run in results if run.get("floor_seconds")
        ]
        ratio = _median(ratios)
        rows.append(
            _row(
                [
                    label,
                    f"{row['median_seconds']:.1f} s",
                    "n/a" if floor is None else f"{floor:.1f} s",
                    "n/a" if ratio is None else f"{ratio:.3f}",
                    "n/a"
                    if not reference_seconds
                    else f"{row['median_seconds'] / reference_seconds:.2f}x",
                    _mib(_median([run.get("link_up_bytes") for run in results])),
                    _mib(_median([run.get("link_down_bytes") for run in results])),
                    runs,
                ]
            )
        )
    up = link["link"]["up"] * 8 / 1e6
    down = link["link"]["down"] * 8 / 1e6
    latency = link["link"]["latency_ms"]
    lines = [
        "",
        f"## Time to stems on a {up:.0f}/{down:.0f} Mbit/s link, {latency:.0f} ms, "
        f"{link['processing_seconds']:.0f} s of processing, free plan (median of {link['runs']})",
        "",
        f"From the moment a {link['seconds_of_audio'] / 60:.0f}-minute 24-bit/48 kHz stereo "
        "export is complete (written into the hot folder and closed) until every stem of it is "
        "in place: 5 files from sep_type 20 (the four stems and the instrumental MVSEP adds), "
        "conformed by mvsepd to 48 kHz 24-bit WAV with the source's tags; the example's stay "
        "as MVSEP sent them. The floor of each run is what no client could beat on its link: "
        "the bytes the emulator received and sent over the shaped link at its rates, plus the "
        f"{link['processing_seconds']:.0f} s of processing, plus one round trip ({latency:.0f} "
        "ms) for each request no client can do without (the create, the status that says "
        "done, each stem). The ratio is the median of each run's time over its own floor.",
        "",
        _row(
            [
                "client",
                "time",
                "floor",
                "time / floor",
                "vs example 3",
                "uploaded",
                "downloaded",
                "runs (s)",
            ]
        ),
        _row(["---"] * 8),
        *rows,
        "",
        f"Goal: time / floor <= {FLOOR_GOAL} for the wav16 and the flac24 preset.",
    ]
    lines += _phase_table(link, before)
    lines += _loopback(link, before)
    return lines


def _phase_table(link: dict[str, Any], before: str) -> list[str]:
    """Median seconds of each phase of mvsepd's time, per client (``time_to_stems.PHASES``)."""
    keys = [key for key in ("mvsepd_wav16", "mvsepd_flac24", "before_wav16", "before_flac24")
            if key in link and not link[key].get("failures")]  # fmt: skip
    if not keys:
        return []
    names = list(link[keys[0]]["runs"][0]["phases"])
    header = ["phase", *(key.replace("_", " ") for key in keys)]
    rows = []
    for name in names:
        cells = [name]
        for key in keys:
            value = _median([run["phases"].get(name) for run in link[key]["runs"]])
            cells.append("n/a" if value is None else f"{value:.2f} s")
        rows.append(_row(cells))
    totals = ["total", *(f"{link[key]['median_seconds']:.1f} s" for key in keys)]

    def measured(field: str, unit: str) -> list[str]:
        values = [_median([run.get(field) for run in link[key]["runs"]]) for key in keys]
        return ["n/a" if value is None else f"{value:.1f}{unit}" for value in values]

    machine = [
        _row(["the daemon's CPU time for the take", *measured("daemon_cpu_seconds", " s")]),
        _row(["load average of the machine as the take began", *measured("load_average", "")]),
    ]
    return [
        "",
        "### Where mvsepd's time goes (median seconds per phase, from the job's own timings)",
        "",
        'Each phase ends where the next begins; "seeing done" is the time between the '
        "emulator finishing the job and the daemon's first poll that found it done. The "
        "earlier checkout keeps no timings of its own beyond its state changes: readiness "
        "there includes hashing and scheduling, downloading includes conforming and placing.",
        "",
        _row(header),
        _row(["---"] * len(header)),
        *rows,
        _row(totals),
        *machine,
    ]


def _loopback(link: dict[str, Any], before: str) -> list[str]:
    """The same export on an unshaped loopback: the daemon's own time per take."""
    rows = []
    for key, label in (
        ("loopback_mvsepd_wav16", "mvsepd"),
        ("loopback_before_wav16", f"before ({before})"),
    ):
        row = link.get(key)
        if row is None or row.get("failures"):
            continue
        results = row["runs"]
        processing = _median([run["emulator_processing_seconds"] for run in results])
        overhead = _median([run["seconds"] - run["emulator_processing_seconds"] for run in results])
        phases = results[0]["phases"]
        parts = ", ".join(
            f"{name} {_median([run['phases'].get(name) for run in results]):.2f} s"
            for name in phases
            if name != "queue and processing at MVSEP"
            and _median([run["phases"].get(name) for run in results]) is not None
        )
        rows.append(
            _row(
                [
                    label,
                    f"{row['median_seconds']:.2f} s",
                    "n/a" if processing is None else f"{processing:.2f} s",
                    "n/a" if overhead is None else f"{overhead:.2f} s",
                    parts,
                ]
            )
        )
    if not rows:
        return []
    return [
        "",
        "### The same export on an unshaped loopback (preset wav16, no processing delay)",
        "",
        "The emulator's processing here is its own work (decoding the upload, writing five "
        "stems); what is left is the daemon's own time per take.",
        "",
        _row(["daemon", "time to stems", "emulator's processing", "beyond it", "phases"]),
        _row(["---"] * 5),
        *rows,
        "",
        f"Goal: at most {LOOPBACK_GOAL_SECONDS:.0f} s beyond the emulator's processing.",
    ]


def idle(figures: dict[str, Any]) -> list[str]:
    """Wakeups, threads, memory and CPU at rest, before and after, beside the floor."""
    labels = {
        "native": "10 native folders",
        "long_poll": "+ a status client long-polling (the tray)",
        "poll": "10 polled folders (every 30 s)",
    }
    rows = []
    for version in ("before", "after"):
        data = figures.get(version)
        if data is None:
            continue
        for key, label in labels.items():
            row = data[key]
            rows.append(
                _row(
                    [
                        f"mvsepd {version}"
                        + (f" ({figures['before_commit']})" if version == "before" else ""),
                        label,
                        f"{row['wakeups_per_second']:.2f}",
                        str(row["threads"]),
                        f"{row['rss_mb']:.1f}",
                        f"{row['cpu_percent']:.3f}",
                    ]
                )
            )
    floor = figures["floor"]
    rows.append(
        _row(
            [
                "floor: Python + one watchdog Observer (baseline)",
                labels["native"],
                f"{floor['wakeups_per_second']:.2f}",
                str(floor["threads"]),
                f"{floor['rss_mb']:.1f}",
                f"{floor['cpu_percent']:.3f}",
            ]
        )
    )
    goals = IDLE_GOALS
    return [
        "",
        f"## At rest: 10 empty folders, nothing to do ({figures['seconds']:.0f} s windows)",
        "",
        "Wakeups are voluntary context switches summed over every thread "
        "(`/proc/PID/task/*/status`); memory is VmRSS before the first job.",
        "",
        _row(["process", "set-up", "wakeups/s", "threads", "RSS MB", "CPU % of a core"]),
        _row(["---"] * 6),
        *rows,
        "",
        f"Goals: at most {goals['wakeups_per_second']:.0f} wakeup/s, {goals['threads']} "
        f"threads, {goals['rss_mb']:.0f} MB, {goals['cpu_percent']} % of a core; a connected "
        f"tray adds at most {LONG_POLL_EXTRA_WAKEUPS} wakeups/s.",
    ]

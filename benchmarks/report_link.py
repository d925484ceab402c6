"""The report's sections on the link and on rest: bytes sent, time to stems, idle footprint.

Rendering only (``benchmarks.run`` measures); each figure beside its baseline from the run.
"""

from __future__ import annotations

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


def time_to_stems(link: dict[str, Any]) -> list[str]:
    """From a complete export to its stems in place, each client beside the baseline."""
    base = link["baseline"]["median_seconds"]
    names = {
        "mvsepd": "mvsepd, WAV 16-bit from MVSEP, 4 downloads at once",
        "mvsepd_serial": "mvsepd, WAV 16-bit from MVSEP, one download at a time",
        "mvsepd_flac": "mvsepd, FLAC 16-bit from MVSEP (same samples), 4 at once",
        "baseline": "example-3 behaviour, written in the benchmark (baseline)",
        "official": "ZFTurbo's python_example3/mvsep_client.py itself",
    }
    rows = []
    for key, label in names.items():
        row = link.get(key)
        if row is None:
            continue
        runs = ", ".join(f"{value:.1f}" for value in row["all_seconds"])
        failures = row.get("failures") or []
        if failures:
            rows.append(
                _row(
                    [
                        label,
                        f"no stems (stopped after {row['median_seconds']:.0f} s)",
                        "n/a",
                        f"{row['bytes_received'] / 2**20:.1f} MiB",
                        f"failed: {failures[0][:160]}",
                    ]
                )
            )
            continue
        rows.append(
            _row(
                [
                    label,
                    f"{row['median_seconds']:.1f} s",
                    f"{row['median_seconds'] / base:.2f}x",
                    f"{row['bytes_received'] / 2**20:.1f} MiB",
                    runs,
                ]
            )
        )
    up = link["link"]["up"] * 8 / 1e6
    down = link["link"]["down"] * 8 / 1e6
    return [
        "",
        f"## Time to stems on a {up:.0f}/{down:.0f} Mbit/s link, "
        f"{link['link']['latency_ms']:.0f} ms, {link['processing_seconds']:.0f} s of "
        f"processing, free plan (median of {link['runs']})",
        "",
        f"From the moment a {link['seconds_of_audio'] / 60:.0f}-minute 24-bit/48 kHz stereo "
        "export is complete (renamed into the hot folder) until every stem of it is in place "
        f"({link['baseline']['files']} files from sep_type 20: the four stems and the "
        "instrumental MVSEP adds). mvsepd's time includes its 5 s stability window and "
        "conforming the stems to 48 kHz 24-bit; the baseline's stems stay 44.1 kHz 16-bit.",
        "",
        _row(["client", "time", "vs baseline", "uploaded", "runs (s)"]),
        _row(["---"] * 5),
        *rows,
        "",
        "The link's rates are per account over all its connections: parallel downloads share "
        "one 100 Mbit/s pipe, so they gain only the round trips between files. The written-out "
        "baseline gives its upload as long as it takes (with the example's `timeout=30` one "
        "run failed with a send timeout: the upload needs 35 s here).",
        "",
        _bound(link),
    ]


def _bound(link: dict[str, Any]) -> str:
    """What no client can beat on this link, from the bytes that must cross it."""
    up = link["link"]["up"]
    down = link["link"]["down"]
    stems = link["mvsepd"]
    sent = link["sent24_bytes"]
    wav = link["wav24_bytes"]
    downloaded = link.get("wav16_stem_bytes")
    floor_flac = sent / up + link["processing_seconds"]
    floor_wav = wav / up + link["processing_seconds"]
    words = (
        f"Without any overhead, uploading the FLAC and processing take {floor_flac:.0f} s, the "
        f"WAV and processing {floor_wav:.0f} s"
    )
    if downloaded:
        words += f"; the WAV stems need {downloaded / down:.0f} s more to come down"
    return words + f" (mvsepd: {stems['median_seconds']:.0f} s in all)."


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

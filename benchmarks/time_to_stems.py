"""Time to stems on a real link: mvsepd against the physical floor of each run and against
MVSEP's official example 3, with mvsepd's time broken down by phase.

    python -m benchmarks.time_to_stems [--runs 3] [--processing-seconds 60] [--json]
                                       [--official-client PATH/mvsep_client.py]
                                       [--before REV]

The emulator is shaped like a producer's link (20 Mbit/s up, 100 Mbit/s down, 40 ms before
every answer, per account over all its connections) and takes 60 s to process a job, free
plan. The clock starts when a 5-minute 24-bit/48 kHz stereo export is complete (written into
the hot folder and closed, as a DAW's bounce ends) and stops when every stem of it is in place
(the manifest written last):

- mvsepd (a daemon watching the folder: readiness, FLAC upload, polls, downloads, conform to
  48 kHz 24-bit, manifest) with a preset asking wav16 (a conforming folder fetches it as
  flac16) and one asking flac24; with ``--before REV`` the same two from that checkout;
- ZFTurbo/MVSep-API-Examples ``python_example3/mvsep_client.py`` (``--official-client``): that
  very file, its base URL pointed at the emulator, nothing else changed (WAV 16, its default;
  the whole file posted, a status request every 20 s, stems fetched one after another);
  without it, the same behaviour written out here.

The floor of a run is what no client could beat on its link: the bytes the emulator actually
received and sent over the shaped link (request bodies and stem files) at its rates, its
processing time, and one round trip per request a client cannot do without (the create, the
status that says done, each stem). Each mvsepd run is also broken down by phase from the job's
own timings (the job store's ``timings_json``, or its state changes for a checkout older than
them) and the emulator's processing. The same export on an unshaped loopback gives the
daemon's own overhead per take (its time beyond the emulator's processing).

The test signal is ``benchmarks.music`` (what it is is printed). Each figure is the median of
``--runs`` runs; a benchmark prints figures, nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from benchmarks.harness import ROOT, cpu_seconds, daemon_process, worktree
from benchmarks.music import render
from mvsepd.emulator import EmulatorServer, EmulatorSettings

UPLOAD_RATE = 20_000_000 / 8  # 20 Mbit/s in bytes per second
DOWNLOAD_RATE = 100_000_000 / 8
LATENCY_MS = 40.0
SEP_TYPE = 20  # Demucs4 HT: vocals, drums, bass, other (MVSEP adds an instrumental)
WAV16 = 1
STATUS_EVERY = 20.0  # the example's retry_interval
OFFICIAL_BASE = "https://mvsep.com/api"
#: The phases of mvsepd's time, in order, with the timings that bound each.
PHASES = (
    ("readiness", "export complete", "ready"),
    ("hash, probe, schedule", "ready", "upload_began"),
    ("upload, the FLAC encoding included", "upload_began", "submitted"),
    ("queue and processing at MVSEP", "submitted", "mvsep_finished"),
    ("seeing done", "mvsep_finished", "done_seen"),
    ("publishing", "done_seen", "published"),
    ("downloading", "published", "downloaded"),
    ("conforming after the last download", "downloaded", "converted"),
    ("placing, manifest", "converted", "placed"),
)


def _settings(processing_seconds: float, *, shaped: bool = True) -> EmulatorSettings:
    if not shaped:
        return EmulatorSettings(
            publish_seconds=0.0, queue_seconds=0.0, processing_seconds=processing_seconds
        )
    return EmulatorSettings(
        publish_seconds=0.0,
        queue_seconds=0.0,
        processing_seconds=processing_seconds,
        upload_rate=UPLOAD_RATE,
        download_rate=DOWNLOAD_RATE,
        latency_ms=LATENCY_MS,
    )


def _export(source: Path, folder: Path) -> float:
    """Write the export into ``folder`` as a DAW's bounce and close it; return that moment."""
    with source.open("rb") as reading, (folder / source.name).open("wb") as writing:
        while block := reading.read(1 << 20):
            writing.write(block)
    return time.time()


def mvsepd_once(
    source: Path,
    processing_seconds: float,
    *,
    output_format: str,
    checkout: Path = ROOT,
    shaped: bool = True,
    daemon_settings: str = "",
) -> dict[str, Any]:
    """Seconds from a complete export to its stems in place, what crossed the link, and the
    job's phases (``daemon_settings``: lines added to the ``daemon`` section)."""
    with EmulatorServer(_settings(processing_seconds, shaped=shaped)) as server:
        token = server.add_account(plan="free").token
        with tempfile.TemporaryDirectory() as directory:
            work = Path(directory)
            hot = work / "Music" / "Bounces"
            hot.mkdir(parents=True)
            config = f"""account: {{server: "{server.url}"}}
presets:
  split: {{sep_type: {SEP_TYPE}, output_format: {output_format}}}
folders:
  - {{path: "{hot}", preset: split, existing_files: process}}
"""
            if daemon_settings:
                config += f"daemon:\n  {daemon_settings}\n"
            with daemon_process(config, token, workdir=work, source=checkout) as daemon:
                daemon.wait_for("READY=1")
                time.sleep(2)  # the account and catalog checks are not part of the wait
                cpu_before = cpu_seconds(daemon.process.pid)
                load = os.getloadavg()[0]
                started = _export(source, hot)
                manifest = work / "Music" / "Bounces stems" / source.stem / "manifest.json"
                while not manifest.exists():
                    time.sleep(0.02)
                    if daemon.process.poll() is not None:
                        raise RuntimeError("the daemon stopped; see its log in " + str(work))
                seconds = time.time() - started
                daemon_cpu = cpu_seconds(daemon.process.pid) - cpu_before
            (job,) = server.state.jobs()
            record = _record(server, token, seconds, job)
            # What the machine gave: the daemon's own CPU time for the take, and the load of
            # everything else on it (the one-minute load average as the take began).
            record["daemon_cpu_seconds"] = daemon_cpu
            record["load_average"] = load
            record["phases"] = _phases(work / "state" / "jobs.sqlite3", started, job)
            record["requests"] = _requests(work / "state" / "jobs.sqlite3", len(job.files))
            return record


def _record(server: EmulatorServer, token: str, seconds: float, job: Any) -> dict[str, Any]:
    up, down = server.link_bytes(token)
    stem_bytes = sum(target.path.stat().st_size for target in job.files if target.path.exists())
    processing = (job.finished_at or 0.0) - (job.started_at or 0.0)
    return {
        "seconds": seconds,
        "bytes_received": job.input_size,
        "link_up_bytes": up,
        "link_down_bytes": down,
        "files": len(job.files),
        "stem_bytes": stem_bytes,
        "output_format": job.output_format,
        "emulator_processing_seconds": processing,
    }


def _phases(store: Path, started: float, job: Any) -> dict[str, float | None]:
    """Seconds of each phase (``PHASES``) from the job's own timings; where the daemon kept
    none (an older checkout), from its state changes, and None where it cannot be told."""
    connection = sqlite3.connect(store)
    connection.row_factory = sqlite3.Row
    try:
        row = connection.execute("SELECT * FROM jobs ORDER BY id LIMIT 1").fetchone()
        events = {
            event["to_state"]: event["at"]
            for event in connection.execute(
                "SELECT to_state, MIN(at) AS at FROM events WHERE job_id = ? GROUP BY to_state",
                (row["id"],),
            )
        }
    finally:
        connection.close()
    timings: dict[str, float] = {}
    columns = row.keys()  # a Row's ``in`` looks at its values, not its column names
    if "timings_json" in columns and row["timings_json"]:
        timings = {k: float(v) for k, v in json.loads(row["timings_json"]).items()}
    moments: dict[str, float | None] = {
        "export complete": started,
        "ready": timings.get("ready"),
        "upload_began": timings.get("upload_began", events.get("uploading")),
        "submitted": timings.get("submitted", events.get("submitted")),
        "mvsep_finished": job.finished_at,
        "done_seen": timings.get("done_seen", events.get("publishing", events.get("downloading"))),
        "published": timings.get("published", events.get("downloading")),
        "downloaded": timings.get("downloaded"),
        "converted": timings.get("converted"),
        "placed": timings.get("placed", events.get("done")),
    }
    phases: dict[str, float | None] = {}
    for name, begin, end in PHASES:
        first, last = moments[begin], moments[end]
        phases[name] = None if first is None or last is None else last - first
    if moments["ready"] is None and moments["upload_began"] is not None:
        # An older daemon: readiness, hashing and scheduling together.
        phases["readiness"] = moments["upload_began"] - started
    if moments["downloaded"] is None and moments["published"] and moments["placed"]:
        phases["downloading"] = moments["placed"] - moments["published"]
        phases["placing, manifest"] = None
    return phases


def _requests(store: Path, files: int) -> int:
    """Requests the daemon made for the job: the create, its polls and each stem."""
    connection = sqlite3.connect(store)
    try:
        polls = int(connection.execute("SELECT polls FROM jobs ORDER BY id LIMIT 1").fetchone()[0])
    finally:
        connection.close()
    return 1 + polls + 1 + files


def floor_seconds(run: dict[str, Any], processing_seconds: float, link: dict[str, Any]) -> float:
    """What no client could beat on this run's link (see the module docstring)."""
    round_trips = 2 + int(run["files"])  # the create, the status that says done, each stem
    return float(
        run["link_up_bytes"] / link["up"]
        + processing_seconds
        + run["link_down_bytes"] / link["down"]
        + round_trips * link["latency_ms"] / 1000
    )


def baseline_once(source: Path, processing_seconds: float) -> dict[str, Any]:
    """The example-3 behaviour, written out here: post, poll every 20 s, fetch one by one."""
    with EmulatorServer(_settings(processing_seconds)) as server:
        token = server.add_account(plan="free").token
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory)
            api = f"{server.url}/api"
            started = time.time()
            data = {
                "api_token": token,
                "sep_type": str(SEP_TYPE),
                "output_format": str(WAV16),
                "is_demo": "0",
            }
            with source.open("rb") as handle:
                # Not the example's timeout=30: one run with it failed here with a send timeout
                # (an 86 MB upload takes 35 s on this link); the baseline waits for the upload.
                created = requests.post(
                    f"{api}/separation/create",
                    data=data,
                    files={"audiofile": handle},
                    timeout=3600,
                ).json()
            task = created["data"]["hash"]
            while True:
                status = requests.get(
                    f"{api}/separation/get", params={"hash": task, "mirror": "0"}, timeout=30
                ).json()
                if status.get("status") == "done":
                    break
                if status.get("status") in ("failed", "error"):
                    raise RuntimeError(f"the baseline's job failed: {status}")
                time.sleep(STATUS_EVERY)
            for item in status["data"]["files"]:
                answer = requests.get(item["url"], stream=True, timeout=30)
                answer.raise_for_status()
                with (out / item["download"]).open("wb") as handle:
                    for chunk in answer.iter_content(chunk_size=8192):
                        if chunk:
                            handle.write(chunk)
            seconds = time.time() - started
            (job,) = server.state.jobs()
            return _record(server, token, seconds, job)


def official_once(client: Path, source: Path, processing_seconds: float) -> dict[str, Any]:
    """The real example-3 file, unchanged but for its host, on a folder holding the export."""
    with EmulatorServer(_settings(processing_seconds)) as server:
        token = server.add_account(plan="free").token
        with tempfile.TemporaryDirectory() as directory:
            work = Path(directory)
            text = client.read_text(encoding="utf-8")
            if OFFICIAL_BASE not in text:
                raise SystemExit(f"{client}: no {OFFICIAL_BASE!r} to point at the emulator")
            copy = work / "mvsep_client.py"
            copy.write_text(text.replace(OFFICIAL_BASE, f"{server.url}/api"), encoding="utf-8")
            inputs, out = work / "in", work / "out"
            inputs.mkdir()
            (inputs / source.name).write_bytes(source.read_bytes())
            started = time.time()
            limit = processing_seconds + 240
            try:
                completed = subprocess.run(
                    [sys.executable, str(copy), "separate", "--input", str(inputs),
                     "--output_folder", str(out), "--token", token, "--sep_type",
                     str(SEP_TYPE), "--output_format", str(WAV16)],
                    capture_output=True,
                    text=True,
                    timeout=limit,
                )  # fmt: skip
                output = completed.stdout + completed.stderr
            except subprocess.TimeoutExpired as expired:
                output = f"still running after {limit:.0f} s; " + str(expired.stdout or "")
            seconds = time.time() - started
            stems = list(out.iterdir()) if out.is_dir() else []
            jobs = server.state.jobs()
            if not jobs or not stems:
                lines = [line for line in output.splitlines() if "rror" in line]
                failure = (lines[-1] if lines else output[-300:]).strip()
                return {"seconds": seconds, "bytes_received": 0, "files": 0, "failure": failure}
            record = _record(server, token, seconds, jobs[0])
            record["files"] = len(stems)
            return record


def bytes_sent(source: Path) -> int:
    """What mvsepd's upload of ``source`` put on the wire (an unshaped emulator's record)."""
    with EmulatorServer(
        EmulatorSettings(publish_seconds=0.0, queue_seconds=0, processing_seconds=0)
    ) as server:
        token = server.add_account(plan="premium", credits=1000).token
        with tempfile.TemporaryDirectory() as directory:
            work = Path(directory)
            hot = work / "Music" / "In"
            hot.mkdir(parents=True)
            config = f"""account: {{server: "{server.url}"}}
presets:
  split: {{sep_type: {SEP_TYPE}, output_format: wav16}}
folders:
  - {{path: "{hot}", preset: split, existing_files: process, stability_seconds: 0.3}}
"""
            with daemon_process(config, token, workdir=work) as daemon:
                daemon.wait_for("READY=1")
                _export(source, hot)
                deadline = time.monotonic() + 120
                while not server.state.jobs() and time.monotonic() < deadline:
                    time.sleep(0.05)
            (job,) = server.state.jobs()
            return job.input_size


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [row for row in results if not row.get("failure")]
    summary: dict[str, Any] = {
        "median_seconds": statistics.median(row["seconds"] for row in results),
        "all_seconds": [round(row["seconds"], 2) for row in results],
        "failures": [row["failure"] for row in results if row.get("failure")],
        "runs": results,
    }
    if ok:
        summary.update(
            bytes_received=ok[0]["bytes_received"],
            files=ok[0]["files"],
            stem_bytes=ok[0].get("stem_bytes"),
        )
    return summary


def measure(
    runs: int,
    processing_seconds: float,
    official: Path | None = None,
    seconds: float = 300.0,
    before: str | None = None,
) -> dict[str, Any]:
    """Every figure of the module docstring."""
    link = {"up": UPLOAD_RATE, "down": DOWNLOAD_RATE, "latency_ms": LATENCY_MS}
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        wav24, wav16 = work / "Song mix.wav", work / "Song mix 16.wav"
        signal = render(wav24, seconds=seconds, rate=48000, subtype="PCM_24")
        render(wav16, seconds=seconds, rate=48000, subtype="PCM_16")
        figures: dict[str, Any] = {
            "signal": signal,
            "seconds_of_audio": seconds,
            "runs": runs,
            "processing_seconds": processing_seconds,
            "link": link,
            "wav24_bytes": wav24.stat().st_size,
            "wav16_bytes": wav16.stat().st_size,
            "sent24_bytes": bytes_sent(wav24),
            "sent16_bytes": bytes_sent(wav16),
            "before_commit": before,
        }
        with worktree(before) if before else _no_checkout() as checkout:
            steps = _steps(wav24, processing_seconds, official, checkout)
            rows: dict[str, list[dict[str, Any]]] = {}
            for _ in range(runs):
                for name, step in steps:
                    result = step()
                    if "link_up_bytes" in result and not name.startswith("loopback"):
                        result["floor_seconds"] = floor_seconds(result, processing_seconds, link)
                    rows.setdefault(name, []).append(result)
                    print(f"  {name}: {result['seconds']:.1f} s", file=sys.stderr, flush=True)
        for name, results in rows.items():
            figures[name] = _summary(results)
        return figures


Step = tuple[str, Callable[[], dict[str, Any]]]


def _steps(
    source: Path, processing: float, official: Path | None, checkout: Path | None
) -> list[Step]:
    """One round of the measurement: mvsepd (and the checkout before) on the shaped link for
    a wav16 and a flac24 preset, the official example (or its behaviour), then the same export
    on an unshaped loopback."""

    def ours(output_format: str, where: Path = ROOT, shaped: bool = True) -> Step:
        name = ("" if shaped else "loopback_") + ("before_" if where != ROOT else "mvsepd_")
        seconds = processing if shaped else 0.0
        return (
            name + output_format,
            lambda: mvsepd_once(
                source, seconds, output_format=output_format, checkout=where, shaped=shaped
            ),
        )

    steps = [ours("wav16"), ours("flac24")]
    if checkout is not None:
        steps += [ours("wav16", checkout), ours("flac24", checkout)]
    if official is not None:
        steps.append(("official", lambda: official_once(official, source, processing)))
    else:
        steps.append(("baseline", lambda: baseline_once(source, processing)))
    steps.append(ours("wav16", shaped=False))
    if checkout is not None:
        steps.append(ours("wav16", checkout, shaped=False))
    return steps


class _no_checkout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each client (median)")
    parser.add_argument("--processing-seconds", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the export")
    parser.add_argument("--official-client", type=Path, default=None, metavar="PATH")
    parser.add_argument("--before", default=None, metavar="REV", help="also run this checkout")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    figures = measure(
        args.runs, args.processing_seconds, args.official_client, args.seconds, args.before
    )
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, row in figures.items():
        if isinstance(row, dict) and "median_seconds" in row:
            print(f"{name:22} {row['median_seconds']:7.1f} s")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

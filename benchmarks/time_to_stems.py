"""Time to stems on a real link: mvsepd against a client like MVSEP's official example 3.

    python -m benchmarks.time_to_stems [--runs 3] [--processing-seconds 60] [--json]
                                       [--official-client PATH/mvsep_client.py]

The emulator is shaped like a producer's link (20 Mbit/s up, 100 Mbit/s down, 40 ms before
every answer, per account over all its connections) and takes 60 s to process a job, free
plan. The clock starts when a 5-minute 24-bit/48 kHz stereo export is complete (renamed into
the hot folder, as a DAW's bounce finishes) and stops when every stem of it is in place:

- mvsepd (a daemon watching the folder: stability window, FLAC upload, polls, downloads,
  conform to 48 kHz 24-bit, manifest), stems downloaded 4 at once and one at a time;
- a baseline that behaves like ZFTurbo/MVSep-API-Examples ``python_example3/mvsep_client.py``:
  the whole file posted with requests ``files=``, a status request every 20 s, the stems
  downloaded one after another with ``iter_content(8192)``. ``--official-client`` also runs
  that very file once (copied, its base URL pointed at the emulator, nothing else changed).
  Its ``timeout=30`` is a socket timeout for the upload too; the written-out baseline gives
  its upload an hour instead (one of its runs with 30 s failed with a send timeout here), and
  the real client is stopped after ``processing + 240`` s should its upload never complete.

Both ask for the same model and output format (WAV 16-bit, the example's default). The test
signal is ``benchmarks.music`` (what it is is printed). Each figure is the median of
``--runs`` runs; a benchmark prints figures, nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from benchmarks.harness import daemon_process
from benchmarks.music import render
from mvsepd.emulator import EmulatorServer, EmulatorSettings

UPLOAD_RATE = 20_000_000 / 8  # 20 Mbit/s in bytes per second
DOWNLOAD_RATE = 100_000_000 / 8
LATENCY_MS = 40.0
SEP_TYPE = 20  # Demucs4 HT: vocals, drums, bass, other (MVSEP adds an instrumental)
WAV16 = 1
STATUS_EVERY = 20.0  # the example's retry_interval
OFFICIAL_BASE = "https://mvsep.com/api"


def _settings(processing_seconds: float) -> EmulatorSettings:
    return EmulatorSettings(
        publish_seconds=0.0,
        queue_seconds=0.0,
        processing_seconds=processing_seconds,
        upload_rate=UPLOAD_RATE,
        download_rate=DOWNLOAD_RATE,
        latency_ms=LATENCY_MS,
    )


def _export(source: Path, folder: Path) -> float:
    """Drop the export into ``folder`` as a DAW's finished bounce; return that moment."""
    staging = folder.parent / f".{source.name}.bouncing"
    staging.write_bytes(source.read_bytes())
    final = folder / source.name
    os.replace(staging, final)
    return time.monotonic()


def mvsepd_once(
    source: Path, processing_seconds: float, *, parallel: int, output_format: str
) -> dict[str, Any]:
    """Seconds from a complete export to its stems in place, and bytes MVSEP received."""
    with EmulatorServer(_settings(processing_seconds)) as server:
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
daemon:
  parallel_downloads: {parallel}
"""
            with daemon_process(config, token, workdir=work) as daemon:
                daemon.wait_for("READY=1")
                time.sleep(2)  # the account and catalog checks are not part of the wait
                started = _export(source, hot)
                manifest = work / "Music" / "Bounces stems" / source.stem / "manifest.json"
                while not manifest.exists():
                    time.sleep(0.02)
                    if daemon.process.poll() is not None:
                        raise RuntimeError("the daemon stopped; see its log in " + str(work))
                seconds = time.monotonic() - started
            return _record(server, seconds)


def _record(server: EmulatorServer, seconds: float) -> dict[str, Any]:
    (job,) = server.state.jobs()
    stem_bytes = sum(target.path.stat().st_size for target in job.files if target.path.exists())
    return {
        "seconds": seconds,
        "bytes_received": job.input_size,
        "files": len(job.files),
        "stem_bytes": stem_bytes,
    }


def baseline_once(source: Path, processing_seconds: float) -> dict[str, Any]:
    """The example-3 behaviour, written out here: post, poll every 20 s, fetch one by one."""
    with EmulatorServer(_settings(processing_seconds)) as server:
        token = server.add_account(plan="free").token
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory)
            api = f"{server.url}/api"
            started = time.monotonic()
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
            seconds = time.monotonic() - started
            return _record(server, seconds)


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
            started = time.monotonic()
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
            seconds = time.monotonic() - started
            stems = list(out.iterdir()) if out.is_dir() else []
            jobs = server.state.jobs()
            failure = None
            if not jobs or not stems:
                lines = [line for line in output.splitlines() if "rror" in line]
                failure = (lines[-1] if lines else output[-300:]).strip()
            return {
                "seconds": seconds,
                "bytes_received": jobs[0].input_size if jobs else 0,
                "files": len(stems),
                "failure": failure,
            }


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


def measure(
    runs: int, processing_seconds: float, official: Path | None = None, seconds: float = 300.0
) -> dict[str, Any]:
    """Every figure of the module docstring."""
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
            "link": {"up": UPLOAD_RATE, "down": DOWNLOAD_RATE, "latency_ms": LATENCY_MS},
            "wav24_bytes": wav24.stat().st_size,
            "wav16_bytes": wav16.stat().st_size,
            "sent24_bytes": bytes_sent(wav24),
            "sent16_bytes": bytes_sent(wav16),
        }
        rows: dict[str, list[dict[str, Any]]] = {}
        steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("mvsepd", lambda: mvsepd_once(wav24, processing_seconds, parallel=4,
                                           output_format="wav16")),
            ("mvsepd_serial", lambda: mvsepd_once(wav24, processing_seconds, parallel=1,
                                                  output_format="wav16")),
            ("mvsepd_flac", lambda: mvsepd_once(wav24, processing_seconds, parallel=4,
                                                output_format="flac16")),
            ("baseline", lambda: baseline_once(wav24, processing_seconds)),
        ]  # fmt: skip
        for _ in range(runs):
            for name, step in steps:
                rows.setdefault(name, []).append(step())
                print(f"  {name}: {rows[name][-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
        if official is not None:
            # Once: it behaves as the baseline, and a failed upload would cost it 50 s a try.
            rows["official"] = [official_once(official, wav24, processing_seconds)]
        for name, results in rows.items():
            figures[name] = {
                "median_seconds": statistics.median(row["seconds"] for row in results),
                "all_seconds": [round(row["seconds"], 2) for row in results],
                "bytes_received": results[0]["bytes_received"],
                "files": results[0]["files"],
                "failures": [row["failure"] for row in results if row.get("failure")],
                "stem_bytes": results[0].get("stem_bytes"),
            }
        figures["wav16_stem_bytes"] = figures["baseline"]["stem_bytes"]
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each client (median)")
    parser.add_argument("--processing-seconds", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the export")
    parser.add_argument("--official-client", type=Path, default=None, metavar="PATH")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    figures = measure(args.runs, args.processing_seconds, args.official_client, args.seconds)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    base = figures["baseline"]["median_seconds"]
    for name in ("mvsepd", "mvsepd_serial", "mvsepd_flac", "baseline", "official"):
        if name in figures:
            row = figures[name]
            print(f"{name:14} {row['median_seconds']:7.1f} s  {row['median_seconds'] / base:.2f}x")


if __name__ == "__main__":
    main()

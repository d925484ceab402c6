"""Upload memory benchmark: peak RSS and throughput of a 1 GiB WAV upload to the emulator.

Owns the measurement behind the requirement "mvsepd's upload stays within 40 MiB of its idle
RSS". It uploads one large WAV to a local emulator three ways, each in a fresh process:

- ``mvsepd``: ``MvsepClient.create_separation`` (a streamed multipart body);
- ``requests``: plain ``requests.post(..., files={"audiofile": open(...)}, data={...})`` as
  MVSEP's official examples do, which builds the whole multipart body in memory;
- ``curl``: ``curl -F audiofile=@FILE -F api_token=... -F sep_type=... -F output_format=1``.

Each process reports its peak RSS after imports and set-up ("idle"), its peak RSS after the
upload, and the seconds from the start of the request to the create answer (the emulator's own
work on the upload, an MD5 of the file, is inside that time for every tool alike). Peak RSS is
``VmHWM`` from ``/proc/<pid>/status``, not ``getrusage().ru_maxrss``: Linux carries the high-water
mark of the process that forked across ``exec``, so a child started from a 60 MiB Python reports
at least 60 MiB there even if it never uses it. curl's ``VmHWM`` is read by polling
``/proc/<curl pid>/status`` from a small wrapper process until curl exits (curl has no idle
figure). Elsewhere than Linux ``ru_maxrss`` is the fallback. The emulator runs in its own
process (``python -m mvsepd.emulator``) so that its memory never counts; its queue wait is set
very long and every job is deleted after its create, so no rendering competes with the uploads.
The WAV is written to a temporary folder in blocks, never held in memory.

    python -m benchmarks.upload_memory [--size-mib 1024] [--sep-type 48] [--json]
                                       [--workdir DIR] [--tools mvsepd,requests,curl]

It prints a table (tool, idle RSS, peak RSS, peak - idle, seconds, MiB/s) and exits 1 with a
message when mvsepd's peak - idle exceeds 40 MiB. A benchmark prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.processes import MIB, ROOT, Emulator, emulator_process, write_noise_wav

#: The requirement: mvsepd's upload may grow its process by at most this much over idle.
LIMIT_MIB = 40.0
TOOLS = ("mvsepd", "requests", "curl")
#: MelBand Roformer; the job never runs (see the module docstring), so the model is moot.
DEFAULT_SEP_TYPE = 48


@dataclass(frozen=True)
class Measurement:
    """One upload as its own process measured it."""

    tool: str
    idle_mib: float | None
    peak_mib: float
    seconds: float
    size_mib: float
    separation_hash: str

    @property
    def growth_mib(self) -> float | None:
        """Peak minus idle RSS; None when idle is unknown (curl is measured from outside)."""
        return None if self.idle_mib is None else self.peak_mib - self.idle_mib

    @property
    def mib_per_second(self) -> float:
        return self.size_mib / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["growth_mib"] = self.growth_mib
        row["mib_per_second"] = self.mib_per_second
        return row


# -- the WAV ---------------------------------------------------------------------------------


# -- the emulator ----------------------------------------------------------------------------


def delete_job(emulator: Emulator, separation_hash: str) -> None:
    """Delete a benchmark job (a waiting job is refunded and its 1 GiB input copy removed)."""
    from mvsepd.api import MvsepClient

    with MvsepClient(emulator.token, server=emulator.url) as client:
        client.delete_separation(separation_hash)


# -- the measured processes ------------------------------------------------------------------


def run_child(tool: str, emulator: Emulator, wav: Path, sep_type: int) -> Measurement:
    """Upload ``wav`` with ``tool`` in a fresh Python process and return what it measured."""
    command = [sys.executable, "-m", "benchmarks.upload_memory", "--child", tool]
    command += ["--url", emulator.url, "--file", str(wav), "--sep-type", str(sep_type)]
    # The token goes through the environment, not the command line other users can read.
    environment = {**os.environ, "MVSEPD_BENCHMARK_TOKEN": emulator.token}
    finished = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    if finished.returncode != 0:
        log = wav.parent / "emulator.log"
        emulator_says = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(
            f"{tool} upload failed (exit {finished.returncode}): {finished.stderr.strip()[-2000:]}"
            f"\nemulator log: {emulator_says or '(empty)'}"
        )
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    return Measurement(
        tool=tool,
        idle_mib=report["idle_kib"] / 1024 if report["idle_kib"] is not None else None,
        peak_mib=report["peak_kib"] / 1024,
        seconds=report["seconds"],
        size_mib=wav.stat().st_size / MIB,
        separation_hash=report["hash"],
    )


def _peak_rss_kib(pid: int | str = "self") -> int | None:
    """Peak resident memory of a process so far (``VmHWM``), in KiB; None if unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _own_peak_kib() -> int:
    """This process's peak RSS in KiB (``ru_maxrss`` where there is no /proc; bytes on macOS)."""
    peak = _peak_rss_kib()
    if peak is not None:
        return peak
    maximum = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maximum // 1024 if sys.platform == "darwin" else maximum)


def child_main(tool: str, url: str, wav: Path, sep_type: int) -> int:
    """In the fresh process: import, measure idle, upload once, report one JSON line."""
    token = os.environ["MVSEPD_BENCHMARK_TOKEN"]
    idle: int | None
    if tool == "mvsepd":
        separation_hash, idle, seconds = _upload_with_mvsepd(url, token, wav, sep_type)
        peak = _own_peak_kib()
    elif tool == "requests":
        separation_hash, idle, seconds = _upload_with_requests(url, token, wav, sep_type)
        peak = _own_peak_kib()
    else:
        separation_hash, peak, seconds = _upload_with_curl(url, token, wav, sep_type)
        idle = None
    report = {"idle_kib": idle, "peak_kib": peak, "seconds": seconds, "hash": separation_hash}
    print(json.dumps(report))
    return 0


def _upload_with_mvsepd(url: str, token: str, wav: Path, sep_type: int) -> tuple[str, int, float]:
    from mvsepd.api import MvsepClient

    with MvsepClient(token, server=url) as client:
        idle = _own_peak_kib()
        started = time.monotonic()
        created = client.create_separation(wav, sep_type=sep_type, output_format=1)
        return created.hash, idle, time.monotonic() - started


def _upload_with_requests(url: str, token: str, wav: Path, sep_type: int) -> tuple[str, int, float]:
    import requests

    idle = _own_peak_kib()
    started = time.monotonic()
    with wav.open("rb") as audio:
        answer = requests.post(
            f"{url}/api/separation/create",
            files={"audiofile": audio},
            data={"api_token": token, "sep_type": str(sep_type), "output_format": "1"},
            timeout=(10, 600),
        )
    seconds = time.monotonic() - started
    answer.raise_for_status()
    return _created_hash(answer.text), idle, seconds


def _upload_with_curl(url: str, token: str, wav: Path, sep_type: int) -> tuple[str, int, float]:
    curl = shutil.which("curl")
    if curl is None:
        raise RuntimeError("curl is not installed")
    command = [curl, "--silent", "--show-error", "--fail", "-F", f"audiofile=@{wav}"]
    command += ["-F", f"api_token={token}", "-F", f"sep_type={sep_type}", "-F", "output_format=1"]
    command += [f"{url}/api/separation/create"]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        # Only once the child runs curl's own image: before exec it is a copy of this process.
        if _is_running(process.pid, "curl"):
            peak = max(peak, _peak_rss_kib(process.pid) or 0)
        time.sleep(0.02)
    seconds = time.monotonic() - started
    output, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"curl failed (exit {process.returncode}): {errors.decode()[-500:]}")
    return _created_hash(output.decode()), peak, seconds


def _is_running(pid: int, program: str) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == program
    except OSError:
        return False


def _created_hash(body: str) -> str:
    payload = json.loads(body)
    if not (isinstance(payload, dict) and isinstance(payload.get("data"), dict)):
        raise RuntimeError(f"unexpected create answer: {body[:300]!r}")
    return str(payload["data"]["hash"])


# -- the parent ------------------------------------------------------------------------------


def measure(
    size_mib: int, sep_type: int, tools: Sequence[str], workdir: Path | None
) -> list[Measurement]:
    """Write the WAV, start the emulator, run each tool once; return the measurements."""
    with tempfile.TemporaryDirectory(prefix="mvsepd-upload-bench-", dir=workdir) as scratch:
        folder = Path(scratch)
        wav = folder / "Benchmark Upload.wav"
        say(f"writing a {size_mib} MiB WAV to {wav} ...")
        write_noise_wav(wav, size_mib * MIB)
        storage = folder / "emulator"
        storage.mkdir()
        results = []
        with emulator_process(storage) as emulator:
            say(f"emulator at {emulator.url} (its own process; its memory is not counted)")
            for tool in tools:
                say(f"uploading with {tool} ...")
                measurement = run_child(tool, emulator, wav, sep_type)
                delete_job(emulator, measurement.separation_hash)
                results.append(measurement)
        return results


def table(results: Sequence[Measurement]) -> str:
    """Return the figures as an aligned text table."""

    def mib(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    lines = [
        f"{'tool':<9}{'idle RSS MiB':>14}{'peak RSS MiB':>14}{'peak - idle':>13}"
        f"{'seconds':>9}{'MiB/s':>8}",
        "-" * 67,
    ]
    for result in results:
        lines.append(
            f"{result.tool:<9}{mib(result.idle_mib):>14}{mib(result.peak_mib):>14}"
            f"{mib(result.growth_mib):>13}{result.seconds:>9.1f}{result.mib_per_second:>8.0f}"
        )
    return "\n".join(lines)


def verdict(results: Sequence[Measurement]) -> tuple[bool, str]:
    """Return (ok, sentence) for the 40 MiB requirement on mvsepd's own upload."""
    own = next((result for result in results if result.tool == "mvsepd"), None)
    if own is None or own.growth_mib is None:
        return True, "mvsepd was not measured"
    ok = own.growth_mib <= LIMIT_MIB
    return ok, (
        f"{'OK' if ok else 'FAIL'}: mvsepd's upload grew its process by {own.growth_mib:.1f} MiB "
        f"over its idle RSS; the requirement is at most {LIMIT_MIB:.0f} MiB"
    )


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.upload_memory",
        description="Peak RSS and throughput of a large upload: mvsepd, plain requests, curl.",
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="WAV size (default 1024)")
    parser.add_argument("--sep-type", type=int, default=DEFAULT_SEP_TYPE)
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help=f"comma-separated subset of {', '.join(TOOLS)} (default: all)",
    )
    parser.add_argument("--workdir", type=Path, help="where the WAV goes (default: system temp)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    # The measured processes start the same module with --child.
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, args.url, args.file, args.sep_type)
    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or not tools:
        parser.error(f"--tools: unknown {', '.join(unknown) or 'empty list'}")
    if args.size_mib < 1:
        parser.error("--size-mib must be at least 1")
    results = measure(args.size_mib, args.sep_type, tools, args.workdir)
    ok, sentence = verdict(results)
    if args.json:
        rows = [result.as_dict() for result in results]
        report = {"size_mib": args.size_mib, "limit_mib": LIMIT_MIB, "ok": ok, "verdict": sentence}
        print(json.dumps({**report, "results": rows}, indent=2))
        if not ok:
            say(sentence)  # plainly, even when stdout goes to a report script
    else:
        print(table(results))
        print()
        print(sentence)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

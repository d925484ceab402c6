"""Conform figures: throughput and memory of bringing a stem to its source's format, beside
ffmpeg's soxr resampler doing the same conversion; and, per MVSEP output format, the lag and
null of the placed stems after a real run through the emulator.

    python -m benchmarks.conform_speed [--minutes 10] [--json]

Each timed conversion runs in a fresh process (peak resident memory from ``VmHWM``, growth over
the process's resident memory just before the conversion, with numpy, soundfile and soxr
already loaded). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy
import soundfile

ROOT = Path(__file__).resolve().parents[1]
FORMATS = {"mp3": 0, "wav16": 1, "flac16": 2, "m4a": 3, "wav32": 4, "flac24": 5}
SOURCE_RATE, STEM_RATE = 48000, 44100


def _band_limited(frames: int, rate: int, seed: int) -> numpy.ndarray:
    """Stereo noise below 18 kHz with dynamics (a slow swell), faded in and out."""
    generator = numpy.random.default_rng(seed)
    spectrum = numpy.fft.rfft(generator.standard_normal((frames, 2)), axis=0)
    spectrum[numpy.fft.rfftfreq(frames, 1 / rate) >= 18_000] = 0
    signal = numpy.fft.irfft(spectrum, n=frames, axis=0)
    swell = 0.55 + 0.45 * numpy.sin(2 * numpy.pi * 0.25 * numpy.arange(frames) / rate)
    signal *= swell[:, None]
    fade = rate // 100
    ramp = 0.5 - 0.5 * numpy.cos(numpy.pi * numpy.arange(fade) / fade)
    signal[:fade] *= ramp[:, None]
    signal[-fade:] *= ramp[::-1, None]
    return numpy.asarray(0.5 * signal / numpy.max(numpy.abs(signal)))


def _write_long(path: Path, minutes: float, rate: int, subtype: str) -> None:
    block = _band_limited(rate * 10, rate, seed=1)
    with soundfile.SoundFile(str(path), "w", rate, 2, subtype) as handle:
        for _ in range(round(minutes * 6)):
            handle.write(block)


def _write_stem(source: Path, path: Path) -> None:
    """What MVSEP returns for ``source``: the audio at 44.1 kHz (soxr HQ, like librosa) in
    32-bit float, here half of it (a stem)."""
    import soxr

    with (
        soundfile.SoundFile(str(source)) as reader,
        soundfile.SoundFile(str(path), "w", STEM_RATE, 2, "FLOAT") as writer,
    ):
        stream = soxr.ResampleStream(SOURCE_RATE, STEM_RATE, 2, "float64", "HQ")
        while True:
            block = reader.read(65536, dtype="float64", always_2d=True)
            last = len(block) < 65536
            writer.write(stream.resample_chunk(block, last=last) * 0.5)
            if last:
                return


_CHILD = """
import json, os, sys, time
from pathlib import Path
from mvsepd.audio import StemFile, StemFormat, conform, describe
import numpy, soundfile, soxr

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
source, stem, out, with_source = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
described = describe(Path(source))
before = rss("VmRSS:")
started = time.monotonic()
conform(described, Path(source) if with_source else None,
        [StemFile("Vocals", Path(stem), Path(out), "stem.wav")], StemFormat(),
        source_name="source.wav", origin="benchmark")
seconds = time.monotonic() - started
print(json.dumps({"seconds": seconds, "growth_mib": rss("VmHWM:") - before}))
"""


def _mvsepd(source: Path, stem: Path, out: Path, *, with_source: bool) -> dict[str, float]:
    flag = "1" if with_source else "0"
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(source), str(stem), str(out), flag],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def _ffmpeg(stem: Path, out: Path, precision: int | None) -> float:
    option = "aresample=resampler=soxr" + (f":precision={precision}" if precision else "")
    started = time.monotonic()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(stem), "-af", option, "-ar",
         str(SOURCE_RATE), "-c:a", "pcm_s24le", str(out)],
        check=True,
    )  # fmt: skip
    return time.monotonic() - started


def throughput(minutes: float = 10.0, repeats: int = 3) -> dict[str, Any]:
    """A ``minutes``-long 44.1 kHz stereo float stem to 48 kHz 24-bit, mvsepd vs ffmpeg."""
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        source, stem = work / "source.wav", work / "stem.wav"
        _write_long(source, minutes, SOURCE_RATE, "PCM_24")
        _write_stem(source, stem)
        runs: dict[str, list[float]] = {"plain": [], "checked": [], "ffmpeg": [], "ffmpeg28": []}
        growth: dict[str, list[float]] = {"plain": [], "checked": []}
        have_ffmpeg = shutil.which("ffmpeg") is not None
        for _ in range(repeats):
            for kind, with_source in (("plain", False), ("checked", True)):
                figures = _mvsepd(source, stem, work / "out.wav", with_source=with_source)
                runs[kind].append(figures["seconds"])
                growth[kind].append(figures["growth_mib"])
            if have_ffmpeg:
                runs["ffmpeg"].append(_ffmpeg(stem, work / "ffmpeg.wav", None))
                runs["ffmpeg28"].append(_ffmpeg(stem, work / "ffmpeg28.wav", 28))
    median = {kind: statistics.median(values) if values else None for kind, values in runs.items()}
    return {
        "minutes": minutes,
        "repeats": repeats,
        "stem_mib": round(minutes * 60 * STEM_RATE * 2 * 4 / 2**20),
        "mvsepd_seconds": median["plain"],
        "mvsepd_checked_seconds": median["checked"],
        "mvsepd_growth_mib": max(growth["plain"]),
        "mvsepd_checked_growth_mib": max(growth["checked"]),
        "ffmpeg_seconds": median["ffmpeg"],
        "ffmpeg_vhq_seconds": median["ffmpeg28"],
    }


def alignment(seconds: float = 20.0) -> list[dict[str, Any]]:
    """Lag and null of placed stems for each MVSEP output format, emulator in MVSEP-like mode."""
    from mvsepd.config.file import parse_config
    from mvsepd.emulator import EmulatorServer, EmulatorSettings
    from mvsepd.engine import EngineSettings
    from mvsepd.models import JobState, Secret
    from mvsepd.paths import AppPaths
    from mvsepd.process.daemon import Daemon

    settings = EmulatorSettings(
        publish_seconds=0.0, queue_seconds=0, processing_seconds=0.1, rate_limit=False
    )
    rows = []
    with tempfile.TemporaryDirectory() as directory, EmulatorServer(settings) as server:
        work = Path(directory)
        account = server.add_account(plan="premium", credits=100_000)
        presets = "\n".join(
            f"  {name}: {{sep_type: 48, output_format: {name}}}" for name in FORMATS
        )
        folders = "\n".join(
            f'  - {{path: "{work / name}", preset: {name}, existing_files: process, '
            "stability_seconds: 0.2}"
            for name in FORMATS
        )
        config = parse_config(
            f'account: {{server: "{server.url}"}}\npresets:\n{presets}\nfolders:\n{folders}\n'
            "daemon: {poll_first_seconds: 0.1, poll_max_seconds: 0.3}\n",
            "benchmark",
        )
        paths = AppPaths(*(work / name for name in ("config", "state", "cache", "log", "run")))
        frames = int(seconds * SOURCE_RATE)
        data = _band_limited(frames, SOURCE_RATE, seed=2)
        for name in FORMATS:
            (work / name).mkdir()
        daemon = Daemon(
            config, Secret(account.token), paths, settings=EngineSettings(tick_seconds=0.05)
        )
        daemon.start()
        import threading

        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        try:
            for name in FORMATS:
                staging = work / f".{name}.wav"
                soundfile.write(str(staging), data, SOURCE_RATE, subtype="PCM_24")
                staging.rename(work / name / "take.wav")
            deadline = time.monotonic() + 300
            while daemon.store.count_by_state().get(JobState.DONE, 0) < len(FORMATS):
                if time.monotonic() > deadline:
                    raise RuntimeError("the alignment run did not finish")
                time.sleep(0.1)
        finally:
            daemon.stop_event.set()
            thread.join(timeout=10)
            daemon.stop()
        original, _ = soundfile.read(str(work / "mp3" / "take.wav"), always_2d=True)
        for name in FORMATS:
            manifest = json.loads(
                (work / f"{name} stems" / "take" / "manifest.json").read_text(encoding="utf-8")
            )
            total = sum(
                soundfile.read(item["path"], always_2d=True)[0] for item in manifest["outputs"]
            )
            rows.append(
                {
                    "format": name,
                    "lag_samples": _lag(total, original),
                    "null_db": round(_null(total, original), 1),
                    "manifest_null_db": manifest["conform"]["null_db"],
                    "lag_removed": manifest["conform"]["stems"][0]["written"]["lag_removed"],
                }
            )
    return rows


def _lag(total: numpy.ndarray, source: numpy.ndarray, max_lag: int = 8192) -> int:
    left, right = total.mean(axis=1), source.mean(axis=1)
    size = 1 << math.ceil(math.log2(len(left) + len(right)))
    product = numpy.fft.rfft(left, size) * numpy.conj(numpy.fft.rfft(right, size))
    correlation = numpy.fft.irfft(product, size)
    values = numpy.concatenate([correlation[-max_lag:], correlation[: max_lag + 1]])
    return int(numpy.argmax(values)) - max_lag


def _null(total: numpy.ndarray, source: numpy.ndarray) -> float:
    error = source - total
    return float(10 * numpy.log10(numpy.sum(error * error) / numpy.sum(source * source)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    figures = {"throughput": throughput(arguments.minutes), "alignment": alignment()}
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Download throughput of a large stem: mvsepd's resumable, size-capped download vs ``curl``.

A premium account separates a long WAV at the emulator (its own process, so its work never
competes in-process); the largest stem is then fetched three times by
``MvsepClient.download_result`` and three times by ``curl -o``; the best of each is reported.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.processes import emulator_process, write_noise_wav
from mvsepd.api import MvsepClient
from mvsepd.models import RemoteStatus

MIB = 1024 * 1024


def download_speed(size_mib: int = 256, repeats: int = 3) -> dict[str, Any]:
    """Return MiB/s of the best of ``repeats`` downloads of a ~``size_mib`` stem, both ways."""
    with tempfile.TemporaryDirectory(prefix="mvsepd-download-bench-") as directory:
        folder = Path(directory)
        source = folder / "long mix.wav"
        write_noise_wav(source, size_mib * MIB)
        storage = folder / "emulator"
        storage.mkdir()
        with emulator_process(storage, queue_seconds=0) as emulator:
            with MvsepClient(emulator.token, emulator.url) as client:
                created = client.create_separation(source, sep_type=48, output_format=1)
                deadline = time.monotonic() + 900
                while True:
                    status = client.get_separation(created.hash)
                    if status.status is RemoteStatus.DONE:
                        break
                    if status.status.finished or time.monotonic() > deadline:
                        raise RuntimeError(f"the separation ended as {status.raw_status}")
                    time.sleep(1)
                stem = status.files[0]
                mvsepd_seconds = []
                for attempt in range(repeats):
                    target = folder / f"mvsepd-{attempt}.wav"
                    started = time.monotonic()
                    client.download_result(stem, target, max_bytes=4 * size_mib * MIB)
                    mvsepd_seconds.append(time.monotonic() - started)
                    size = target.stat().st_size
                    target.unlink()
            curl_seconds = []
            curl = shutil.which("curl")
            for attempt in range(repeats if curl else 0):
                target = folder / f"curl-{attempt}.wav"
                started = time.monotonic()
                subprocess.run([curl or "curl", "-s", "-o", str(target), stem.url], check=True)
                curl_seconds.append(time.monotonic() - started)
                target.unlink()
    megabytes = size / MIB
    return {
        "stem_mib": megabytes,
        "mvsepd_mib_per_second": megabytes / min(mvsepd_seconds),
        "curl_mib_per_second": megabytes / min(curl_seconds) if curl_seconds else None,
        "repeats": repeats,
    }


if __name__ == "__main__":
    print(download_speed(int(sys.argv[1]) if len(sys.argv) > 1 else 256))

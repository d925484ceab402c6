"""Helpers of the live-emulator API tests: small audio files, settling jobs, seeing the wire.

Everything here is real HTTP on 127.0.0.1: the emulator's Werkzeug server and requests' own
``HTTPAdapter``. ``RecordingAdapter`` only notes what went over the wire (a Range header, a 206),
it never answers in the server's place.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import soundfile
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from mvsepd.api import MvsepClient
from mvsepd.emulator import EmulatorServer
from mvsepd.models import SeparationStatus

#: Small and quick: 22.05 kHz keeps the emulator's rendering well under a second.
SAMPLERATE = 22050


def write_audio(path: Path, seconds: float = 1.0, *, seed: int = 7) -> Path:
    """Write ``seconds`` of 16-bit stereo noise and tones at ``SAMPLERATE``; return the path."""
    frames = int(seconds * SAMPLERATE)
    times = numpy.arange(frames) / SAMPLERATE
    generator = numpy.random.default_rng(seed)
    tones = numpy.stack(
        [numpy.sin(2 * numpy.pi * 220 * times), numpy.sin(2 * numpy.pi * 3000 * times)], axis=1
    )
    data = 0.3 * tones + generator.uniform(-0.2, 0.2, size=(frames, 2))
    soundfile.write(str(path), data, SAMPLERATE, subtype="PCM_16")
    return path


def write_zip(path: Path) -> Path:
    """Write a Quality Checker archive holding two small stem files; return the path."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("song_vocals.wav", b"RIFF" + bytes(range(64)))
        archive.writestr("song_instrum.wav", b"RIFF" + bytes(range(64, 128)))
    return path


def settle(server: EmulatorServer) -> None:
    """Let rendering finish (real time), then apply every transition due on the server's clock."""
    assert server.state.wait_until_idle(timeout=20.0), "the emulator kept rendering"
    server.tick()


def finished(server: EmulatorServer, client: MvsepClient, separation_hash: str) -> SeparationStatus:
    """Settle the server and return the job's status as the client reads it."""
    settle(server)
    return client.get_separation(separation_hash)


class ProgressLog(list[tuple[int, int]]):
    """A progress callback that keeps every ``(done, total)`` report."""

    def __call__(self, done: int, total: int) -> None:
        self.append((done, total))


@dataclass(frozen=True)
class Exchange:
    """One request as it went over the wire, and the status that came back."""

    method: str
    path: str
    headers: dict[str, str]
    status: int


class RecordingAdapter(HTTPAdapter):
    """requests' real HTTP adapter that also keeps a list of the exchanges it carried."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.exchanges: list[Exchange] = []

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        response = super().send(request, *args, **kwargs)
        path = (request.path_url or "").split("?", 1)[0]
        self.exchanges.append(
            Exchange(str(request.method), path, dict(request.headers), response.status_code)
        )
        return response

"""Small helpers for the emulator tests: audio files, creates, polling, reading stems."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import requests
import soundfile

from mvsepd.emulator import EmulatorServer

SAMPLERATE = 44100


def write_audio(
    path: Path,
    seconds: float = 1.0,
    *,
    samplerate: int = SAMPLERATE,
    channels: int = 2,
    subtype: str = "PCM_16",
    amplitude: float = 0.45,
) -> Path:
    """A mix of tones and noise at ``amplitude`` peak (well below full scale)."""
    frames = int(seconds * samplerate)
    t = np.arange(frames) / samplerate
    rng = np.random.default_rng(7)
    left = 0.4 * np.sin(2 * np.pi * 110 * t) + 0.3 * np.sin(2 * np.pi * 880 * t)
    right = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 5000 * t)
    noise = rng.uniform(-0.3, 0.3, size=(frames, 2))
    data = np.stack([left, right], axis=1) + noise
    data = amplitude * data / np.max(np.abs(data))
    if channels == 1:
        data = data[:, :1]
    soundfile.write(str(path), data, samplerate, subtype=subtype)
    return path


def api(server: EmulatorServer, path: str) -> str:
    return f"{server.url}/api/{path.lstrip('/')}"


def create(
    server: EmulatorServer,
    token: str,
    audio: Path | None,
    *,
    sep_type: str = "48",
    output_format: str = "1",
    **fields: str,
) -> requests.Response:
    """POST separation/create as the official examples do (multipart, text parts)."""
    parts: dict[str, Any] = {
        "api_token": (None, token),
        "sep_type": (None, sep_type),
        "output_format": (None, output_format),
    }
    for key, value in fields.items():
        parts[key] = (None, value)
    if audio is not None:
        with audio.open("rb") as handle:
            parts["audiofile"] = (audio.name, handle.read())
    return requests.post(api(server, "separation/create"), files=parts, timeout=30)


def get(server: EmulatorServer, separation_hash: str, **params: str) -> dict[str, Any]:
    answer = requests.get(
        api(server, "separation/get"), params={"hash": separation_hash, **params}, timeout=30
    )
    body: dict[str, Any] = answer.json()
    return body


def wait_status(
    server: EmulatorServer, separation_hash: str, *statuses: str, timeout: float = 15.0
) -> dict[str, Any]:
    """Poll get until the status is one of ``statuses`` (real time; rendering is threaded)."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        # Wait for rendering first, so that polling stays far below the rate limit.
        server.state.wait_until_idle(timeout=max(0.0, deadline - time.monotonic()))
        server.tick()
        body = get(server, separation_hash)
        if body.get("status") in statuses:
            return body
        time.sleep(0.05)
    raise AssertionError(f"status never became {statuses}; last answer {body}")


def download(url: str) -> bytes:
    answer = requests.get(url.replace("\\/", "/"), timeout=30)
    answer.raise_for_status()
    return answer.content


def stem_key(url: str) -> str:
    """The stem key at the end of a result URL: ``..._mt_4_vocals.wav`` → ``vocals``."""
    name = url.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0].split("_mt_", 1)[1].split("_", 1)[1]

"""Takes for the page's listening tests: a source whose stems are known (silent first half, then
a tone per stem at its own frequency, so each stem of the emulator's band split carries one),
dropped into a fan-out folder (two presets) of a daemon serving its page."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from mvsepd.models import JobRecord, JobState
from tests.integration.support import Setup, wait_until
from tests.page.support import PAGE_DAEMON, PageSetup

RATE = 48000
SECONDS = 4.0
#: One tone per band of the emulator's split: bass (30-250 Hz), vocals (the mid channel,
#: 300-3400 Hz), drums (2500-9000 Hz), and what is left (other).
TONES = {"bass": 110.0, "vocals": 880.0, "drums": 5000.0, "other": 12000.0}

FAN_OUT_CONFIG = """
account:
  server: "{server}"
presets:
  vocals: {{sep_type: 48, output_format: wav16}}
  four: {{sep_type: 20, output_format: wav16}}
{chains}folders:
  - path: "{hot}"
    preset: [vocals, four]
    existing_files: process
    stability_seconds: 0.3
{more_folders}limits:
  max_concurrent_jobs: null
daemon:
  {daemon}
"""


def fan_out_config(setup: Setup, *, chains: str = "", more_folders: str = "") -> str:
    """A fan-out folder (presets vocals and four) at ``setup.hot``, with ``chains`` (a
    ``chains:`` section) and ``more_folders`` (folder items) when given."""
    return FAN_OUT_CONFIG.format(
        server=setup.server.url,
        hot=setup.hot,
        daemon=PAGE_DAEMON,
        chains=chains,
        more_folders=more_folders,
    )


def tone_signal(seconds: float = SECONDS, rate: int = RATE) -> np.ndarray:
    """Stereo: silence for the first half, then every tone of ``TONES`` (in both channels)."""
    frames = int(seconds * rate)
    time = np.arange(frames) / rate
    mono = sum(0.15 * np.sin(2 * np.pi * frequency * time) for frequency in TONES.values())
    mono = np.asarray(mono)
    mono[: frames // 2] = 0.0
    return np.stack([mono, mono], axis=1)


def write_source(folder: Path, name: str = "Take one.wav", seconds: float = SECONDS) -> Path:
    """The test signal as a 16-bit WAV, renamed into place whole."""
    path = folder / name
    temporary = folder / f".{name}.writing"
    soundfile.write(str(temporary), tone_signal(seconds), RATE, subtype="PCM_16", format="WAV")
    os.replace(temporary, path)
    return path


@dataclass
class Take:
    """A take whose jobs are all done: its id (its first job's) and its jobs."""

    id: int
    jobs: list[JobRecord]


def wait_for_take(page: PageSetup, count: int, timeout: float = 60) -> Take:
    """Once ``count`` jobs of the page's daemon are done (none failed), the take they make."""

    def settled() -> list[JobRecord] | None:
        jobs = page.daemon.store.jobs()
        if len(jobs) < count or any(not job.state.terminal for job in jobs):
            return None
        return jobs

    jobs = wait_until(settled, timeout, message=f"{count} jobs to finish")
    problems = [
        (job.id, job.state.value, job.reason) for job in jobs if job.state is not JobState.DONE
    ]
    assert not problems, problems
    jobs = sorted(jobs, key=lambda job: job.id)
    return Take(jobs[0].id, jobs)

"""Hostile audio: files that are empty, lie in their headers, are absurd, huge, or change.

Each row drops its file into a hot folder watched by a real daemon (emulator over HTTP, watchdog,
SQLite) and names the words the user must see for it in ``mvsepd status`` and the log.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

import pytest

from mvsepd.models import JobState
from tests.hostile.front import HostileFront, Trap
from tests.hostile.support import Case, Harness, ids, run_case
from tests.hostile.wavs import riff_wav, write_sparse_wav
from tests.integration.support import Setup, wait_until, wav_bytes, write_wav


def _fails_with_its_reason(name: str, data: bytes) -> Callable[[Harness], str]:
    def scenario(harness: Harness) -> str:
        harness.drop(name, data)
        return harness.shown_reason(harness.job(name))

    return scenario


def _reported_incomplete(name: str, data: bytes) -> Callable[[Harness], str]:
    # Unfinished as far as its content tells: reported (and watched on), never uploaded.
    def scenario(harness: Harness) -> str:
        harness.drop(name, data)
        summary = harness.reported_incomplete(name)
        assert summary.startswith(f"incomplete: {name} ("), summary
        return summary

    return scenario


def _header_without_data() -> bytes:
    format_chunk = riff_wav(frames=0)[12:36]  # "fmt " with its 16 bytes, and nothing after
    return b"RIFF" + struct.pack("<I", 4 + len(format_chunk)) + b"WAVE" + format_chunk


def _six_hours(harness: Harness) -> str:
    # An honest header for 6 hours of 8 kHz mono 8-bit audio: 173 MB, over the free plan's
    # 100 MB, written sparse (only the header takes disk space).
    path = harness.hot / "six hours.wav"
    write_sparse_wav(path, seconds=6 * 3600, sample_rate=8000)
    harness.ledger.original(path)
    job = harness.job("six hours.wav")
    # Accepted and priced first: the estimate is what the status view shows.
    assert job.duration_seconds == 6 * 3600
    assert job.credits_estimate is not None and job.credits_estimate > 0
    assert harness.setup.server.state.create_count(harness.setup.token) == 0
    return harness.shown_reason(job)


def _changes_during_upload(harness: Harness) -> str:
    # The create's answer is held back, so the file can change while MVSEP has it.
    harness.setup.server.faults.set(
        "slow", count=1, endpoints=["/api/separation/create"], delay_seconds=1.0
    )
    path = harness.hot / "changing.wav"
    write_wav(path, 0.3, seed=1)
    harness.ledger.forget_original(path)
    harness.job("changing.wav", (JobState.UPLOADING,))
    write_wav(path, 0.3, seed=2)
    harness.ledger.original(path)
    first = harness.job("changing.wav")
    harness.job("changing.wav", (JobState.DONE,))
    return harness.shown_reason(first)


STEMS = ("Bass", "Drums", "Instrumental", "Other", "Vocals")


def _same_audio_twice(harness: Harness) -> str:
    data = wav_bytes(0.2, seed=5)
    harness.drop("take.wav", data)
    harness.job("take.wav", (JobState.DONE,))
    harness.drop("take copy.wav", data)
    setup = harness.setup
    assert harness.judged("take copy.wav").verdict == "duplicate"
    # A duplicate is no job of its own, and not paid again; it gets the first result's stems.
    wait_until(lambda: "stems_copied" in harness.log.text(), 10, message="the copies")
    assert setup.server.state.create_count(setup.token) == 1
    copies = sorted(path.name for path in (setup.outputs / "take copy").iterdir())
    assert copies == sorted([f"take copy - {stem}.wav" for stem in STEMS] + ["manifest.json"])
    return harness.log.text()


def _same_name_new_audio(harness: Harness) -> str:
    path = harness.hot / "mix.wav"
    write_wav(path, 0.2, seed=1)
    harness.ledger.forget_original(path)
    first = harness.job("mix.wav", (JobState.DONE,))
    time.sleep(0.05)  # a new mtime, as a re-export has
    write_wav(path, 0.2, seed=2)
    harness.ledger.original(path)
    wait_until(lambda: len(harness.store().jobs([JobState.DONE])) == 2, 30, message="the re-export")
    setup = harness.setup
    assert setup.server.state.create_count(setup.token) == 2
    # The first version's stems are kept; the second's sit beside them.
    return " ".join(path.name for path in harness.stems_of(first))


AUDIO: list[Case] = [
    Case(
        "empty",
        "a .wav file of 0 bytes",
        " s, the file is empty)",
        _reported_incomplete("empty.wav", b""),
        logged="the file is empty",
    ),
    Case(
        "text-named-wav",
        "a text file named .wav",
        "not an audio file mvsepd can read",
        _fails_with_its_reason("notes.wav", b"these are lyrics, not audio\n" * 40),
    ),
    Case(
        "truncated",
        "a WAV cut off after 20,000 of its bytes",
        " s, the WAV header says 88244 bytes, the file has 20000)",
        _reported_incomplete("cut.wav", wav_bytes(1.0)[:20_000]),
        logged="the WAV header says 88244 bytes, the file has 20000",
    ),
    Case(
        "header-lies-about-size",
        "a WAV whose data chunk claims 1 MB more than the file holds",
        " s, the WAV audio data runs past the end of the file)",
        _reported_incomplete("liar.wav", riff_wav(data_size=1_000_000 + 2205 * 4)),
        logged="the WAV audio data runs past the end of the file",
    ),
    Case(
        "zero-channels",
        "a WAV whose header says 0 channels",
        "the file has no audio channels",
        _fails_with_its_reason("silent.wav", riff_wav(channels=0)),
    ),
    Case(
        "absurd-sample-rate",
        "a WAV at 4,000,000,000 Hz",
        "implausible sample rate 4000000000 Hz",
        _fails_with_its_reason("fast.wav", riff_wav(sample_rate=4_000_000_000)),
    ),
    Case(
        "no-audio-data",
        "a WAV with a header and no data chunk",
        "the WAV file has no audio data chunk",
        _fails_with_its_reason("hollow.wav", _header_without_data()),
    ),
    Case(
        "six-hours",
        "an honest 6-hour WAV (8 kHz mono 8-bit, 173 MB) on the free plan, sent as it is",
        # Refused for its length before anything is encoded or sent (the free plan takes 10
        # minutes, the premium plan 100: no plan takes it, so no premium advice either).
        "six hours.wav is 360.0 min long; the free plan takes up to 10 min: shorten or split it",
        _six_hours,
        config={"folder": "upload_encoding: original"},
    ),
    Case(
        "changes-after-upload-started",
        "a WAV rewritten while its upload is in flight",
        "the file changed while it was being uploaded",
        _changes_during_upload,
        # Premium: the first job may still run at MVSEP while the new version is uploaded.
        plan="premium",
    ),
    Case(
        "same-content-two-names",
        "the same audio saved under a second name",
        "same audio with the same preset: not submitted again; its stems are placed here too",
        _same_audio_twice,
    ),
    Case(
        "same-name-new-content",
        "a re-export with new audio under the same name",
        "mix - Vocals (2).wav",
        _same_name_new_audio,
    ),
]


@pytest.mark.parametrize("case", AUDIO, ids=ids(AUDIO))
def test_hostile_audio(case: Case, setup: Setup, front: HostileFront, trap: Trap) -> None:
    run_case(case, setup, front, trap)

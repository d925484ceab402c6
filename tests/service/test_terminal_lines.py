"""The daemon's log on a terminal: one line in words per event that matters, local time, no
event names, secrets masked (``logwords`` through ``logsetup.configure``)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from mvsepd.process import logsetup
from mvsepd.process.logwords import WordsRenderer, sentence


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[io.StringIO]:
    """The console handler writing into a buffer, as ``mvsepd run`` sets it up."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "80")
    stream = io.StringIO()
    logsetup.configure(level="info", json_lines=False, stream=stream)
    yield stream
    logsetup.configure(level="warning", json_lines=False, timestamps=False)


def test_the_events_that_matter_in_words(terminal: io.StringIO, tmp_path: Path) -> None:
    log = structlog.get_logger("mvsepd.engine")
    home = tmp_path / "home"
    log.info("job_created", job=3, file="Take 3.wav", preset="vocals")
    log.info("upload_started", job=3, file="Take 3.wav", bytes=13_002_342, encoding="flac")
    log.info(
        "upload_started",
        job=6,
        file="Take 6.wav",
        bytes=None,
        source_bytes=27_262_976,
        encoding="flac",
    )
    log.info("stems_publishing", job=6, file="Take 6.wav", published=0, listed=0)
    log.info("stems_publishing", job=6, file="Take 6.wav", published=2, listed=4)
    log.error(
        "config_refused",
        file="/home/me/.config/mvsepd/config.yaml",
        problems=[
            "line 14: folders[0].preset: no preset named 'fuor'; did you mean 'four'?",
            "line 20: limits.daily_credit_budget: not a number",
        ],
        note="the configuration in force stays; fix the file and save it again",
    )
    log.info(
        "config_applied",
        file="/home/me/.config/mvsepd/config.yaml",
        added=["/music/New"],
        removed=[],
        changed=[],
        replaced_jobs=[],
        at_next_start=None,
        refusal_lifted=True,
    )
    log.info("job_ready", job=3, credits=1, duration=2.0, reserved=None)  # developers only
    log.info("catalog_fetched", algorithms=117)  # developers only
    log.info("job_submitted", job=3, file="Take 3.wav", server="https://mvsep.com")
    log.info("stems_ready", job=3, file="Take 3.wav", folder=str(home / "Music/Take 3"))
    log.warning("job_failed", job=4, file="noise.wav", reason="MVSEP could not process it")
    log.info("already_known", job=3, file="Copy.wav", note="same audio: not submitted again")
    log.warning("something_new_went_wrong", job=5)
    logging.getLogger("mvsepd.intake").warning(
        f"file rejected path='{home}/Music/bad.wav' reason='it is not audio'"
    )
    lines = terminal.getvalue().splitlines()
    assert all(re.match(r"\d\d:\d\d:\d\d  ", line) for line in lines), lines
    assert [line[10:] for line in lines] == [
        "Take 3.wav: new file, preset vocals",
        "Take 3.wav: uploading to MVSEP (12.4 MB as FLAC)",
        "Take 6.wav: uploading to MVSEP (26.0 MB file, streamed as FLAC)",
        "Take 6.wav: separated at MVSEP; waiting for it to publish the stems",
        "Take 6.wav: separated at MVSEP; waiting for it to publish the stems (2 of 4 ready)",
        "error: config.yaml: refused: line 14: folders[0].preset: no preset named 'fuor'; did you "
        "mean 'four'? (and 1 more: mvsepd status); the configuration in force stays until it is "
        "fixed",
        "config.yaml: applied (1 folder added); the earlier refusal is lifted",
        "Take 3.wav: sent; waiting in MVSEP's queue",
        "Take 3.wav: stems ready in ~/Music/Take 3",
        "warning: noise.wav: failed: MVSEP could not process it",
        "Copy.wav: same audio: not submitted again",
        "warning: job 5: something new went wrong",
        "warning: bad.wav: file rejected (it is not audio)",
    ]


def test_secrets_are_masked_in_words_too(terminal: io.StringIO) -> None:
    logsetup.add_secret("SECRETTOKEN123456")
    structlog.get_logger("mvsepd.engine").warning(
        "account_check_failed", error="/app/user?api_token=SECRETTOKEN123456 refused"
    )
    text = terminal.getvalue()
    assert "SECRETTOKEN123456" not in text
    assert "the account could not be checked" in text


def test_debug_shows_every_event_still_in_words() -> None:
    fields = {"event": "job_ready", "level": "debug", "job": 3, "credits": 1}
    assert sentence(fields) is None
    assert sentence(fields, verbose=True) == "job 3: job ready"


def test_a_long_line_goes_on_under_its_words_on_a_narrow_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    fields = {
        "event": "preset_needs_premium",
        "level": "warning",
        "timestamp": "2026-12-07T10:00:00Z",
        "preset": "ensemble",
        "problem": "the model 'Ensemble (vocals, instrum)' is for premium accounts only",
    }
    lines = WordsRenderer(wrap=True)(None, "warning", fields).splitlines()
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines), lines
    assert all(line.startswith(" " * 10) and line[10] != " " for line in lines[1:]), lines
    # Broken between words only: joined again, the words are the line a wide window shows.
    wide = WordsRenderer(wrap=False)(None, "warning", fields)
    assert " ".join(" ".join(lines).split()) == " ".join(wide.split())

"""What a producer's terminal shows, at 80 columns: ``mvsepd run`` says each event that matters
in words, in local time, with no event names and no JSON (``tests/statusapi/test_terminal.py``:
``jobs`` and ``status``). A real subprocess on a real pseudo-terminal, the emulator over HTTP
on 127.0.0.1."""

from __future__ import annotations

import datetime
import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.cli.terminal import ROOT, Terminal
from tests.integration.support import write_wav

#: The names of the events mvsepd logs (``log.info("job_submitted", ...)``), from its source.
EVENT_NAMES = sorted(
    {
        name
        for path in (ROOT / "mvsepd").rglob("*.py")
        if "emulator" not in path.parts
        for name in re.findall(
            r"""(?:log|logger|crash_log)\.(?:debug|info|warning|error|critical)\(\s*"([a-z]+(?:_[a-z]+)+)\"""",
            path.read_text(encoding="utf-8"),
        )
        + re.findall(r'event="([a-z]+(?:_[a-z]+)+)"', path.read_text(encoding="utf-8"))
    }
)
#: Half an hour east of UTC at any date: the local time cannot pass for UTC.
ZONE = "MVS-05:30"
OFFSET = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    settings = EmulatorSettings(queue_seconds=1.0, processing_seconds=0.5, rate_limit=False)
    with EmulatorServer(settings) as server:
        yield server


def test_the_event_names_are_known() -> None:
    # The check below is only as good as this list.
    assert {"job_submitted", "stems_ready", "daemon_ready", "upload_started"} <= set(EVENT_NAMES)
    assert len(EVENT_NAMES) > 50


def test_run_on_a_terminal_says_what_happens_in_words(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    account = emulator.add_account()
    hot = tmp_path / "Music" / "Album sessions 2026" / "Vocal bounces"
    hot.mkdir(parents=True)
    config = tmp_path / "config.yaml"
    config.write_text(
        f'account: {{server: "{emulator.url}"}}\n'
        "presets:\n  vocals: {sep_type: 48, output_format: wav16}\n"
        f'folders:\n  - {{path: "{hot}", preset: vocals, stability_seconds: 0.5}}\n'
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TZ": ZONE,
        "MVSEP_API_TOKEN": account.token,
        **{f"MVSEPD_{name}_DIR": str(tmp_path / name.lower()) for name in ("STATE", "CACHE")},
        "MVSEPD_CONFIG_DIR": str(tmp_path / "config"),
        "MVSEPD_LOG_DIR": str(tmp_path / "log"),
        "MVSEPD_RUNTIME_DIR": str(tmp_path / "run"),
    }
    terminal = Terminal(["run", "--config", str(config)], columns=80, env=env)
    try:
        terminal.wait_for(lambda text: "ready: watching 1 hot folder" in text, 30, "start")
        started = datetime.datetime.now(OFFSET)
        write_wav(hot / "Take 3.wav", 2.0)
        terminal.wait_for(lambda text: "Take 3.wav: stems ready in" in text, 60, "stems")
        terminal.process.send_signal(signal.SIGINT)
        terminal.wait_for(lambda text: "stopped" in text.splitlines()[-1], 30, "the stop")
    finally:
        status = terminal.finish()
    assert status == 0, terminal.text()
    lines = terminal.lines()
    shown = "\n".join(lines)
    # One line in words per event that matters, each after the local time; a line longer than
    # the terminal goes on under its words (broken between words, never inside one).
    events: list[str] = []
    for line in lines:
        if line.startswith(" " * 10) and events:
            events[-1] += " " + line.strip()
        else:
            events.append(line)
    said = [event[10:] for event in events]
    assert all(re.match(r"\d\d:\d\d:\d\d  \S", event) for event in events), shown
    assert "Take 3.wav: new file, preset vocals" in said
    # The FLAC is sent while it is encoded: the file's size is what is known then.
    uploading = r"Take 3\.wav: uploading to MVSEP \(0\.\d MB file, streamed as FLAC\)"
    assert any(re.fullmatch(uploading, line) for line in said), shown
    assert "Take 3.wav: sent; waiting in MVSEP's queue" in said
    assert "Take 3.wav: separated at MVSEP; downloading 2 stems" in said
    # The folder fits the 80 columns: ~ for the home folder, the middle folders elided.
    assert "Take 3.wav: stems ready in ~/…/Vocal bounces stems/Take 3" in said, shown
    assert all(len(line) <= 80 for line in lines), shown
    assert said[-2:] == ["stopping; every job is saved and goes on at the next start", "stopped"]
    # Local time: the zone is half an hour off UTC, so UTC would be seen.
    shown_at = datetime.time.fromisoformat(events[-1][:8])
    seconds = shown_at.hour * 3600 + shown_at.minute * 60 + shown_at.second
    local = started.hour * 3600 + started.minute * 60 + started.second
    assert min((seconds - local) % 86400, (local - seconds) % 86400) < 120, (shown_at, started)
    # No event names, no JSON.
    for name in EVENT_NAMES:
        assert not re.search(rf"\b{name}\b", shown), f"{name!r} on the terminal:\n{shown}"
    for line in lines:
        assert not line.lstrip().startswith("{"), line
    assert "level" not in shown and "timestamp" not in shown
    # The stems are there, and the instrumental is named for what it is.
    stems = tmp_path / "Music" / "Album sessions 2026" / "Vocal bounces stems" / "Take 3"
    names = sorted(path.name for path in stems.iterdir())
    assert names == ["Take 3 - Instrumental.wav", "Take 3 - Vocals.wav", "manifest.json"]
    manifest = json.loads((stems / "manifest.json").read_text(encoding="utf-8"))
    assert {(o["label"], o["mvsep_label"]) for o in manifest["outputs"]} == {
        ("Vocals", "Vocals"),
        ("Instrumental", "Other"),
    }

"""Files that arrive and files that stay unfinished: named in ``mvsepd status`` with how long they
have waited; a truncated or empty file is reported incomplete, with the reason, after the
folder's ``incomplete_after_seconds`` (2 s here), still reported after a restart, and taken as
usual once it is complete. Nothing is uploaded for it meanwhile.

Real parts: the emulator over HTTP, the daemon with its watchdog observer, SQLite, the status
API over HTTP and the CLI talking to it.
"""

from __future__ import annotations

import time
from typing import Any

from mvsepd.client.control import ControlClient
from tests.integration.support import Cli, Setup, running_daemon, wait_until, wav_bytes, write_wav

WINDOW = 2.0
CUT = wav_bytes(1.0)[:20_000]
CUT_REASON = "the WAV header says 88244 bytes, the file has 20000"


def config(setup: Setup) -> str:
    return setup.config_text() + f"defaults:\n  incomplete_after_seconds: {WINDOW:g}\n"


def arrivals(setup: Setup) -> dict[str, dict[str, Any]]:
    picture = ControlClient.discover(setup.paths).status()
    return {item["relative_path"]: item for item in picture["arrivals"]}


def reported(setup: Setup) -> dict[str, dict[str, Any]]:
    found = arrivals(setup)
    if all(item["state"] == "incomplete" for item in found.values()) and len(found) == 2:
        return found
    return {}


def test_a_truncated_and_an_empty_wav_are_named_reported_and_still_reported_after_a_restart(
    setup: Setup, cli: Cli
) -> None:
    with running_daemon(setup, config(setup)):
        (setup.hot / "cut.wav").write_bytes(CUT)
        (setup.hot / "empty.wav").write_bytes(b"")
        written_at = time.time()
        # While waiting: named, with how long they have waited, not yet called incomplete.
        waiting = wait_until(
            lambda: len(arrivals(setup)) == 2 and arrivals(setup), 5, message="both named"
        )
        assert {name: item["state"] for name, item in waiting.items()} == {
            "cut.wav": "arriving",
            "empty.wav": "arriving",
        }
        assert all(0 <= item["waiting_seconds"] < WINDOW for item in waiting.values())
        code, out = cli("status")
        assert code == 0
        assert "2 files arriving (waiting until fully written): cut.wav (" in out
        # After the window: incomplete, with the reason.
        found = wait_until(lambda: reported(setup), 10, message="the incomplete report")
        assert time.time() - written_at >= WINDOW
        assert (found["cut.wav"]["reason"], found["empty.wav"]["reason"]) == (
            CUT_REASON,
            "the file is empty",
        )
        assert found["cut.wav"]["summary"].startswith("incomplete: cut.wav (")
        assert found["cut.wav"]["summary"].endswith(f" s, {CUT_REASON})")
        code, out = cli("status")
        lines = out.splitlines()
        (cut_line,) = [line for line in lines if line.startswith("incomplete: cut.wav (")]
        assert cut_line.endswith(f" s, {CUT_REASON})")
        (empty_line,) = [line for line in lines if line.startswith("incomplete: empty.wav (")]
        assert empty_line.endswith(" s, the file is empty)")
    time.sleep(1.0)  # stopped a while: the report must not start again from the restart
    with running_daemon(setup, config(setup)) as daemon:
        started_at = time.time()
        found = wait_until(lambda: reported(setup), 10, message="the report after the restart")
        # Re-derived from the files as they stand: counted from their last change, before the
        # restart (reported at the first look, not a whole window after the start).
        for item in found.values():
            assert item["waiting_seconds"] >= started_at - written_at
        assert found["cut.wav"]["reason"] == CUT_REASON
        # The export is finished after all: taken as usual, and its report goes.
        write_wav(setup.hot / "cut.wav", 1.0)
        wait_until(lambda: daemon.done(1), 30, message="the finished export")
        assert list(arrivals(setup)) == ["empty.wav"]
    assert setup.server.state.create_count() == 1
    assert (setup.hot / "empty.wav").read_bytes() == b""

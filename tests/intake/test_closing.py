"""Real watchers, real time: a file whose writer closed it is taken after the short window
(``stability_after_close``) where the watcher reports closes (inotify), but never while its
writer, having reopened it to patch the header, still has it open or still writes; a polled
folder, where no close is reported, keeps the whole window."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from tests.intake.helpers import MakeIntake, collect, count, spec

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="only Linux's inotify reports that a writer closed a file",
)

WINDOW = 4.0
AFTER_CLOSE = 1.0  # the default: a writer reopens within 500 ms


def _bounce(path: Path, header: bytes, body: bytes) -> float:
    """Write a whole file and close it, as a DAW's bounce ends; return when it was closed."""
    with path.open("wb") as handle:
        handle.write(header)
        handle.write(body)
    return time.monotonic()


def _patch(path: Path, header: bytes, *, hold: float) -> float:
    """Open the file again, keep it open ``hold`` seconds, rewrite its header, close it; return
    when it was closed."""
    with path.open("r+b") as handle:
        time.sleep(hold)
        handle.seek(0)
        handle.write(header)
    return time.monotonic()


def test_a_closed_file_is_taken_after_the_short_window(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    intake = make_intake(
        [spec(tmp_path, stability_seconds=WINDOW, stability_after_close=AFTER_CLOSE)]
    )
    intake.start()
    closed = _bounce(tmp_path / "bounce.wav", b"HEADER--", b"\x01" * 200_000)
    results = collect(intake, until=count(1), timeout=WINDOW + 5)
    taken = time.monotonic()
    assert [ready.path.name for ready in results] == ["bounce.wav"]
    assert AFTER_CLOSE <= taken - closed < WINDOW - 1.0, taken - closed


@pytest.mark.parametrize("hold", [0.0, 1.5], ids=["patched-at-once", "held-open-then-patched"])
def test_a_writer_that_reopens_to_patch_the_header_is_taken_only_with_the_final_header(
    tmp_path: Path, make_intake: MakeIntake, hold: float
) -> None:
    intake = make_intake(
        [spec(tmp_path, stability_seconds=WINDOW, stability_after_close=AFTER_CLOSE)]
    )
    intake.start()
    path = tmp_path / "pro tools bounce.wav"
    finished: list[float] = []

    def writer() -> None:
        _bounce(path, b"PROVISNL", b"\x02" * 200_000)
        time.sleep(0.4)  # reopened within 500 ms, as a DAW patching its BWF/iXML header does
        finished.append(_patch(path, b"FINALHDR", hold=hold))

    thread = threading.Thread(target=writer)
    thread.start()
    results = collect(intake, until=count(1), timeout=WINDOW * 3, settle=AFTER_CLOSE * 3)
    thread.join()
    assert len(results) == 1, results
    (ready,) = results
    # Taken after the final close, as the file is in the end (its header patched).
    assert finished, "the writer did not finish"
    assert path.read_bytes()[:8] == b"FINALHDR"
    status = path.stat()
    assert (ready.stat.size, ready.stat.mtime_ns) == (status.st_size, status.st_mtime_ns)


def test_a_polled_folder_reports_no_close_and_keeps_the_whole_window(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    intake = make_intake(
        [
            spec(
                tmp_path,
                stability_seconds=2.0,
                stability_after_close=AFTER_CLOSE,
                mode="poll",
                poll_interval=1.0,
            )
        ]
    )
    intake.start()
    closed = _bounce(tmp_path / "share bounce.wav", b"HEADER--", b"\x03" * 100_000)
    results = collect(intake, until=count(1), timeout=10)
    assert len(results) == 1
    assert time.monotonic() - closed >= 2.0

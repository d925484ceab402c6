"""Hostile files and folders: names, links, permissions, folders that vanish or send no events.

Each row presents its input to a real daemon (in this process, or in its own process without
root's override of file permissions where permissions are the point) and names the words the
user must see: a stem name when the file must simply work, a reason when it cannot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mvsepd.models import JobState
from tests.hostile.front import HostileFront, Trap
from tests.hostile.support import Case, Harness, ids, run_case
from tests.integration.support import Setup, wait_until, wav_bytes

#: A name that reads "Hitsong.wav" in an editor but hides a right-to-left override (U+202E).
RTL_NAME = "مرحبا \u202eevaw.Hitsong.wav"
LONG_NAME = "x" * 251 + ".wav"  # 255 bytes, the most a Linux file name can have


def _stems_named(name: str) -> Callable[[Harness], str]:
    """The file is processed; what is shown is the names of its stems."""

    def scenario(harness: Harness) -> str:
        harness.drop(name, wav_bytes(0.2, seed=11))
        job = harness.job(name, (JobState.DONE,))
        stems = harness.stems_of(job)
        assert len(stems) == 6  # five stems and the manifest
        for stem in stems:
            assert len(stem.name.encode("utf-8")) <= 255
            assert harness.setup.outputs in stem.parents
            assert not any(character in stem.name for character in "\n\r\t\u202e\u202c")
        return " | ".join(stem.name for stem in stems)

    return scenario


def _long_name_exported_again(harness: Harness) -> str:
    path = harness.hot / LONG_NAME
    path.write_bytes(wav_bytes(0.2, seed=18))
    harness.ledger.forget_original(path)
    first = harness.job(LONG_NAME, (JobState.DONE,))
    path.write_bytes(wav_bytes(0.2, seed=19))  # new audio, same 255-byte name
    harness.ledger.original(path)
    wait_until(lambda: len(harness.store().jobs([JobState.DONE])) == 2, 30, message="the re-export")
    stems = harness.stems_of(first)
    assert len(stems) == 12  # two versions of five stems and of the manifest
    assert all(len(stem.name.encode("utf-8")) <= 255 for stem in stems)
    return " | ".join(stem.name for stem in stems)


def _read_only_folder(harness: Harness) -> str:
    path = harness.drop("locked in.wav", wav_bytes(0.2, seed=12))
    path.chmod(0o444)
    harness.hot.chmod(0o555)
    harness.ledger.original(path)
    job = harness.job("locked in.wav", (JobState.DONE,))
    harness.hot.chmod(0o755)  # the good file after it is dropped by the test, not by a user
    return " | ".join(stem.name for stem in harness.stems_of(job))


def _unreadable_file(harness: Harness) -> str:
    path = harness.drop("private.wav", wav_bytes(0.2, seed=13))
    path.chmod(0o000)
    harness.ledger.original(path)
    # Without its bytes there is no job (a job is its content's hash): the log says why.
    wait_until(
        lambda: "private.wav" in harness.log.text() and "Permission denied" in harness.log.text(),
        15,
        message="the refusal in the log",
    )
    assert harness.jobs() == []
    return harness.log.text()


def _folder_removed(harness: Harness) -> str:
    before = harness.drop("before.wav", wav_bytes(0.2, seed=14))
    harness.job("before.wav", (JobState.DONE,))
    harness.ledger.forget_original(before)  # the user deletes it with its folder
    harness.ledger.allow(harness.hot)
    shutil.rmtree(harness.hot)
    health = wait_until(
        lambda: (lambda folder: folder if folder["watch"] == "missing" else None)(
            harness.folder_health()
        ),
        15,
        message="the folder to be reported missing",
    )
    harness.hot.mkdir()
    # Back again: watched and processed as before (the good file of every row proves it).
    wait_until(lambda: harness.folder_health()["watch"] != "missing", 15, message="it back")
    return f"{health['watch']}: {health['detail']}"


def _symlink_loop(harness: Harness) -> str:
    first, second = harness.hot / "loop a.wav", harness.hot / "loop b.wav"
    first.symlink_to(second.name)
    second.symlink_to(first.name)
    (harness.hot / "again").symlink_to(".", target_is_directory=True)  # a directory loop
    for path in (first, second, harness.hot / "again"):
        harness.ledger.placed(path)
    wait_until(lambda: "leads nowhere" in harness.log.text(), 15, message="the loop in the log")
    assert harness.jobs() == []
    return harness.log.text()


def _symlink_out(harness: Harness) -> str:
    elsewhere = harness.setup.tmp / "Elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "secret.wav"
    target.write_bytes(wav_bytes(0.2, seed=15))
    harness.ledger.allow(elsewhere)
    harness.ledger.original(target)
    (harness.hot / "shortcut.wav").symlink_to(target)
    harness.ledger.placed(harness.hot / "shortcut.wav")
    wait_until(lambda: "leads outside" in harness.log.text(), 15, message="the link in the log")
    assert harness.jobs() == []
    return harness.log.text()


def _hard_links(harness: Harness) -> str:
    first = harness.drop("bounce.wav", wav_bytes(0.2, seed=16))
    harness.job("bounce.wav", (JobState.DONE,))
    os.link(first, harness.hot / "bounce link.wav")
    harness.ledger.original(harness.hot / "bounce link.wav")

    assert harness.judged("bounce link.wav").verdict == "duplicate"
    setup = harness.setup
    wait_until(lambda: "stems_copied" in harness.log.text(), 10, message="the copies")
    assert setup.server.state.create_count(setup.token) == 1
    return harness.log.text()


def _polled_folder(harness: Harness) -> str:
    health = harness.folder_health()
    assert (health["watch"], health["detail"]) == ("polling", "polling every 1 s")
    harness.drop("over the network.wav", wav_bytes(0.2, seed=17))
    job = harness.job("over the network.wav", (JobState.DONE,))
    return " | ".join(stem.name for stem in harness.stems_of(job))


def _named_pipe(harness: Harness) -> str:
    pipe = harness.hot / "stream.wav"
    os.mkfifo(pipe)
    harness.ledger.placed(pipe)
    # Opening a pipe for reading blocks until someone writes: it must never be opened.
    wait_until(lambda: "not a regular file" in harness.log.text(), 15, message="the log line")
    assert harness.jobs() == []
    return harness.log.text()


FILES: list[Case] = [
    Case(
        "unicode-name",
        "a name with accents, a snowman and an em dash",
        "Ünïcödé ☃ — mix - Vocals.wav",
        _stems_named("Ünïcödé ☃ — mix.wav"),
    ),
    Case(
        "rtl-name",
        "an Arabic name hiding a right-to-left override (U+202E)",
        "مرحبا _evaw.Hitsong - Vocals.wav",
        _stems_named(RTL_NAME),
    ),
    Case(
        "newline-in-name",
        "a name with a line break in it",
        "first line_second line - Vocals.wav",
        _stems_named("first line\nsecond line.wav"),
    ),
    Case(
        "255-byte-name",
        "a name of 255 bytes, the most the file system allows",
        " - Vocals.wav",
        _stems_named(LONG_NAME),
    ),
    Case(
        "255-byte-name-exported-again",
        "new audio saved again under a 255-byte name (the stems' names are taken)",
        " - Vocals (2).wav",
        _long_name_exported_again,
    ),
    Case(
        "read-only-folder",
        "a read-only hot folder holding a read-only file (mvsepd never writes there)",
        "locked in - Vocals.wav",
        _read_only_folder,
        own_process=True,
    ),
    Case(
        "unreadable-file",
        "a file mvsepd is not allowed to read",
        "Permission denied",
        _unreadable_file,
        own_process=True,
    ),
    Case(
        "folder-removed-while-watched",
        "the hot folder deleted while the daemon watches it, then made again",
        "missing: the folder does not exist; waiting for it to return",
        _folder_removed,
        logged="hot folder missing; waiting for it",
    ),
    Case(
        "symlink-loop",
        "two links pointing at each other, and a link from a sub-folder to its parent",
        "a symlink that leads nowhere (its target is missing, or links loop)",
        _symlink_loop,
        config={"folder": "recursive: true"},
    ),
    Case(
        "symlink-out-of-folder",
        "a link to a WAV in another folder",
        "a symlink that leads outside the hot folder",
        _symlink_out,
    ),
    Case(
        "hard-links",
        "a second hard link to a file already processed",
        "same audio with the same preset: not submitted again; its stems are placed here too",
        _hard_links,
    ),
    Case(
        "polled-folder-without-events",
        "a network-share-like folder watched by polling (no file-system events)",
        "over the network - Vocals.wav",
        _polled_folder,
        config={"folder": "watch: poll\n    poll_interval: 1"},
    ),
    Case(
        "named-pipe",
        "a named pipe called stream.wav (reading it would block for ever)",
        "not a regular file (a pipe, socket or device)",
        _named_pipe,
    ),
]


@pytest.mark.parametrize("case", FILES, ids=ids(FILES))
def test_hostile_files(case: Case, setup: Setup, front: HostileFront, trap: Trap) -> None:
    run_case(case, setup, front, trap)


def test_the_long_name_is_the_longest_the_file_system_allows(tmp_path: Path) -> None:
    # The 255-byte name is exactly at the limit: one byte more and the OS itself refuses it.
    assert len(LONG_NAME.encode("utf-8")) == 255
    with pytest.raises(OSError, match="too long"):
        (tmp_path / ("x" + LONG_NAME)).write_bytes(b"")

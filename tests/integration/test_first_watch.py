"""A hot folder's first watch: recorded when mvsepd first watches the folder, also when the folder
appears while the daemon runs, so that no export is skipped in silence; files that really were
there before are listed in ``mvsepd status`` and taken by ``mvsepd rescan --include-existing``.

Real parts: the emulator over HTTP, the daemon with its watchdog observer, SQLite, the status
API over HTTP and the CLI talking to it.
"""

from __future__ import annotations

from typing import Any

from mvsepd.client.control import ControlClient
from mvsepd.models import JobState
from tests.integration.support import (
    Cli,
    Setup,
    running_daemon,
    wait_until,
    wav_bytes,
    write_wav,
)


def skip_config(setup: Setup) -> str:
    """The test configuration with the default policy for files already there: skip."""
    return setup.config_text().replace("existing_files: process", "existing_files: skip")


def folder_status(setup: Setup) -> dict[str, Any]:
    (folder,) = ControlClient.discover(setup.paths).status(every_name=True)["folders"]
    return dict(folder)


def done_files(daemon: Any) -> list[str]:
    return sorted(job.source_name for job in daemon.store.jobs([JobState.DONE]))


def test_a_folder_created_while_the_daemon_runs_takes_exports_made_while_it_was_stopped(
    setup: Setup,
) -> None:
    setup.hot = setup.hot.parent / "Made later"
    config = skip_config(setup)
    with running_daemon(setup, config) as daemon:
        assert folder_status(setup)["watch"] == "missing"
        # Created (in a DAW's save dialog, say) and a bounce saved into it at once, before
        # mvsepd has even noticed the folder: a new file, not one that was there before.
        setup.hot.mkdir()
        write_wav(setup.hot / "saved with the folder.wav", 0.2, seed=1)
        wait_until(lambda: daemon.done(1), 30, message="the bounce saved with the folder")
        assert daemon.store.folder_first_watched(str(setup.hot)) is not None
    write_wav(setup.hot / "exported while stopped.wav", 0.2, seed=2)
    with running_daemon(setup, config) as daemon:
        wait_until(lambda: daemon.done(2), 30, message="the export made while stopped")
        assert done_files(daemon) == ["exported while stopped.wav", "saved with the folder.wav"]
        assert folder_status(setup)["skipped_existing"] is None
    assert setup.server.state.create_count() == 2


def test_files_there_before_the_first_watch_are_listed_and_taken_on_request(
    setup: Setup, cli: Cli
) -> None:
    for number in (1, 2):
        write_wav(setup.hot / f"old take {number}.wav", 0.2, seed=number)
    copy = wav_bytes(0.2, seed=3)
    (setup.hot / "old copy.wav").write_bytes(copy)
    config = skip_config(setup)
    with running_daemon(setup, config) as daemon:
        # The same audio as "old copy.wav", exported after the first watch: processed.
        write_wav(setup.hot / "new.wav", 0.2, seed=3)
        wait_until(lambda: daemon.done(1), 30, message="the new export")
        skipped = folder_status(setup)["skipped_existing"]
        command = f"mvsepd rescan --include-existing {setup.hot}"
        assert skipped == {
            "count": 3,
            "files": ["old copy.wav", "old take 1.wav", "old take 2.wav"],
            "message": "3 files were there before this folder was watched: process them with "
            f"`{command}`",
            "command": command,
        }
        code, out = cli("status")
        assert code == 0
        assert "3 files were there before this folder was watched: process them with" in out
        assert "(old copy.wav, old take 1.wav, old take 2.wav)" in out
        code, out = cli("rescan", "--help")
        assert code == 0 and "--include-existing" in out and "before mvsepd first" in out
        assert done_files(daemon) == ["new.wav"]
        code, out = cli("rescan", "--include-existing", str(setup.hot))
        assert code == 0, out
        assert "3 files that were there before it was watched, taken now" in out
        wait_until(lambda: daemon.done(3), 30, message="the files taken on request")

        def copy_verdict() -> str | None:
            record = daemon.store.source(str(setup.hot), "old copy.wav")
            return None if record is None or record.verdict == "checking" else record.verdict

        assert wait_until(copy_verdict, 10, message="the copy") == "duplicate"
        assert done_files(daemon) == ["new.wav", "old take 1.wav", "old take 2.wav"]
        assert folder_status(setup)["skipped_existing"] is None
    # "old copy.wav" was the audio already paid for with "new.wav": not sent again.
    assert setup.server.state.create_count() == 3
    assert (setup.outputs / "old copy").is_dir()
    with running_daemon(setup, config):
        pass
    assert setup.server.state.create_count() == 3

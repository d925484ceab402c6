"""The configuration changed while the daemon runs: applied without a restart when it passes,
refused (and said, with the line) when it does not, the configuration in force kept.

Real parts: the emulator over HTTP, the daemon with its watchdog observers (the hot folders and
the configuration file itself), SQLite, the status API and the CLI; a daemon in its own process
for SIGHUP.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from mvsepd.client.control import ControlClient
from mvsepd.config.file import write_private_file
from mvsepd.emulator import EmulatorSettings
from mvsepd.errors import DaemonUnreachableError, InvalidTokenError
from mvsepd.models import JobState, Secret
from tests.integration.support import (
    Cli,
    Setup,
    running_daemon,
    start_daemon_process,
    stop_process,
    wait_until,
    write_wav,
)


def signed_in(setup: Setup) -> None:
    """The token where ``mvsepd login`` leaves it: a configuration read again finds it there."""
    write_private_file(setup.paths.token_file, setup.token + "\n")


def config_state(setup: Setup) -> dict[str, Any]:
    return dict(ControlClient.discover(setup.paths).status()["config"])


def second_folder(path: Path, preset: str = "four") -> str:
    return f"""  - path: "{path}"
    preset: {preset}
    existing_files: process
    stability_seconds: 0.3"""


def save(path: Path, text: str) -> None:
    """Save as an editor does: a new file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def test_a_folder_added_to_the_file_is_watched_and_a_removed_one_let_go_without_a_restart(
    setup: Setup,
) -> None:
    signed_in(setup)
    added = setup.hot.parent / "Drums"
    added.mkdir()
    config = setup.write_config()
    with running_daemon(setup, config_file=config) as daemon:
        save(config, setup.config_text(extra_folders=second_folder(added)))
        wait_until(
            lambda: added in daemon.daemon.context.folders, 10, message="the new folder watched"
        )
        write_wav(added / "drum bus.wav", 0.2, seed=1)
        wait_until(lambda: daemon.done(1), 30, message="the file in the added folder")

        # Only the added folder left in the file: the first one is let go.
        save(
            config,
            setup.config_text().replace(f'path: "{setup.hot}"', f'path: "{added}"'),
        )
        wait_until(
            lambda: setup.hot not in daemon.daemon.context.folders, 10, message="the folder gone"
        )
        write_wav(setup.hot / "after removal.wav", 0.2, seed=2)
        write_wav(added / "still watched.wav", 0.2, seed=3)
        wait_until(lambda: daemon.done(2), 30, message="the file in the folder still watched")
        names = sorted(job.source_name for job in daemon.store.jobs())
        assert names == ["drum bus.wav", "still watched.wav"]
        state = config_state(setup)
        assert state["in_force"] is True and state["refused"] == []
    assert setup.server.state.create_count() == 2


@pytest.mark.parametrize(
    "emulator_settings",
    # A job MVSEP holds long enough for the next file to wait for its slot.
    [EmulatorSettings(publish_seconds=0.3, queue_seconds=0.0, processing_seconds=2.0)],
)
def test_a_preset_changed_while_a_file_waits_reaches_it_and_leaves_the_sent_one_alone(
    setup: Setup,
) -> None:
    signed_in(setup)
    config = setup.write_config(setup.config_text(limits="max_concurrent_jobs: 1"))
    with running_daemon(setup, config_file=config) as daemon:
        write_wav(setup.hot / "sent first.wav", 0.2, seed=1)
        wait_until(
            lambda: setup.server.state.create_count() == 1, 30, message="the first file sent"
        )
        write_wav(setup.hot / "waiting.wav", 0.2, seed=2)
        wait_until(
            lambda: daemon.store.jobs([JobState.WAITING_SLOT]), 30, message="the second waiting"
        )
        save(
            config,
            setup.config_text(limits="max_concurrent_jobs: 1", preset="sep_type: 48"),
        )
        wait_until(lambda: daemon.done(2), 60, message="both files separated")
        jobs = {job.id: job for job in daemon.store.jobs()}
        done = {job.source_name: job for job in jobs.values() if job.state is JobState.DONE}
        (replaced,) = [job for job in jobs.values() if job.state is JobState.CANCELLED]
        assert replaced.source_name == "waiting.wav"
        assert "the preset 'four' changed" in (replaced.reason or "")
        assert replaced.separation_hash is None  # it never reached MVSEP
    # What MVSEP received: the first file as it was sent, the waiting one with the new preset,
    # and nothing twice.
    sent = sorted(setup.server.state.jobs(), key=lambda job: job.created_at)
    assert [job.sep_type for job in sent] == [20, 48]
    assert [job.hash for job in sent] == [
        done["sent first.wav"].separation_hash,
        done["waiting.wav"].separation_hash,
    ]


def test_a_change_that_does_not_pass_is_refused_with_its_line_and_the_old_one_stays(
    setup: Setup, cli: Cli
) -> None:
    signed_in(setup)
    config = setup.write_config()
    good = config.read_text(encoding="utf-8")
    with running_daemon(setup, config_file=config) as daemon:
        # A typo in a key and a folder that is not a folder's path: both said, by line.
        bad = good.replace("stability_seconds:", "stabilty_seconds:").replace(
            "max_concurrent_jobs: null", "max_concurrent_jobs: many"
        )
        save(config, bad)
        state = wait_until(
            lambda: (found := config_state(setup))["in_force"] is False and found,
            10,
            message="the refusal",
        )
        lines = bad.splitlines()
        refused = {problem["line"]: problem["text"] for problem in state["refused"]}
        typo_line = next(n for n, line in enumerate(lines, 1) if "stabilty_seconds" in line)
        limit_line = next(n for n, line in enumerate(lines, 1) if "many" in line)
        assert set(refused) == {typo_line, limit_line}
        assert "stability_seconds" in refused[typo_line]  # did you mean
        assert state["path"] == str(config)

        code, out = cli("status")
        assert code == 0
        assert f"line {typo_line}" in out and "stabilty_seconds" in out
        assert "in force" in out

        # The configuration in force still works.
        write_wav(setup.hot / "still processed.wav", 0.2, seed=1)
        wait_until(lambda: daemon.done(1), 30, message="a file under the old configuration")

        save(config, good)  # back to what is in force
        wait_until(lambda: config_state(setup)["in_force"], 10, message="the refusal lifted")
        assert config_state(setup)["refused"] == []


def test_the_page_saves_through_the_daemon_which_checks_before_it_writes(setup: Setup) -> None:
    signed_in(setup)
    config = setup.write_config()
    good = config.read_text(encoding="utf-8")
    added = setup.hot.parent / "Bass"
    added.mkdir()
    with running_daemon(setup, config_file=config) as daemon:
        live = daemon.daemon.live_config
        assert live is not None

        outcome = live.save(good.replace("preset: four", "preset: fuor"))
        assert not outcome.applied
        (problem,) = outcome.problems
        assert problem.line == good.splitlines().index("    preset: four") + 1
        assert "fuor" in problem.text and "four" in problem.text
        assert config.read_text(encoding="utf-8") == good  # nothing written

        text = setup.config_text(extra_folders=second_folder(added))
        outcome = live.save(text)
        assert outcome.applied and outcome.problems == ()
        assert config.read_text(encoding="utf-8") == text
        assert live.state().text == text
        assert added in daemon.daemon.context.folders
        write_wav(added / "bass.wav", 0.2, seed=4)
        wait_until(lambda: daemon.done(1), 30, message="the file in the folder the page added")


def test_signing_in_checks_the_token_with_mvsep_before_it_keeps_it(setup: Setup) -> None:
    config = setup.write_config(setup.config_text(account=f'token_file: "{setup.tmp / "token"}"'))
    write_private_file(setup.tmp / "token", setup.token + "\n")
    other = setup.server.add_account(plan="premium")
    with running_daemon(setup, config_file=config) as daemon:
        live = daemon.daemon.live_config
        assert live is not None
        with pytest.raises(InvalidTokenError):
            live.sign_in(Secret("not-a-token-mvsep-knows"))
        assert (setup.tmp / "token").read_text(encoding="utf-8").strip() == setup.token

        live.sign_in(Secret(other.token))
        assert (setup.tmp / "token").read_text(encoding="utf-8").strip() == other.token
        write_wav(setup.hot / "on the new account.wav", 0.2, seed=5)
        wait_until(lambda: daemon.done(1), 30, message="a file sent with the new token")
    assert setup.server.state.create_count(other.token) == 1
    assert setup.server.state.create_count(setup.token) == 0


def log_events(setup: Setup) -> list[dict[str, Any]]:
    lines = (setup.tmp / "daemon.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def events_named(setup: Setup, name: str) -> list[dict[str, Any]]:
    return [event for event in log_events(setup) if event.get("event") == name]


def answers(setup: Setup) -> bool:
    try:
        ControlClient.discover(setup.paths).status()
    except DaemonUnreachableError:
        return False
    return True


def test_sighup_reads_the_file_again_and_a_refusal_is_said_once(setup: Setup) -> None:
    signed_in(setup)
    config = setup.write_config()
    good = config.read_text(encoding="utf-8")
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: answers(setup), 30, message="the daemon's start")
        bad = good.replace("preset: four", "preset: [four")
        save(config, bad)
        wait_until(lambda: events_named(setup, "config_refused"), 10, message="the refusal")
        # Saved again unchanged, and asked by SIGHUP: the same refusal is not said again.
        save(config, bad)
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: events_named(setup, "reload_requested"), 10, message="SIGHUP seen")
        assert process.poll() is None  # SIGHUP reloads; it does not end the daemon
        assert len(events_named(setup, "config_refused")) == 1

        # A change made while a watch could miss it (a network drive): SIGHUP applies it.
        fixed = good.replace("stability_seconds: 0.3", "stability_seconds: 0.4")
        save(config, fixed)
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: events_named(setup, "config_applied"), 10, message="applied")
        assert config_state(setup)["in_force"] is True
        write_wav(setup.hot / "after reload.wav", 0.2, seed=6)
        wait_until(
            lambda: any(job.state is JobState.DONE for job in setup.jobs()),
            30,
            message="a file after the reload",
        )
    finally:
        assert stop_process(process) == 0

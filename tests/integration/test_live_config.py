"""The configuration changed while the daemon runs: applied without a restart when it passes,
refused (and said, with the line) when it does not, the configuration in force kept.

Real parts: the emulator over HTTP, the daemon with its watchdog observers (the hot folders and
the configuration file itself), SQLite, the status API and the CLI; a daemon in its own process
for SIGHUP.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from mvsepd.client.control import ControlClient
from mvsepd.config.file import write_private_file
from mvsepd.emulator import EmulatorSettings
from mvsepd.errors import DaemonUnreachableError, InvalidTokenError
from mvsepd.models import DeliveryState, JobState, Secret
from tests.integration.support import (
    FAST_DAEMON,
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


def test_a_folder_added_while_the_daemon_runs_skips_the_files_it_held_when_added(
    setup: Setup, cli: Cli
) -> None:
    # A daemon that has run a while; a folder of bounces made meanwhile is then added with
    # existing_files: skip: those bounces were there before mvsepd watched it (none is paid),
    # a bounce exported after it was added is taken.
    signed_in(setup)
    archive = setup.hot.parent / "Archive"
    config = setup.write_config()
    with running_daemon(setup, config_file=config) as daemon:
        archive.mkdir()
        for index in range(3):
            write_wav(archive / f"old bounce {index}.wav", 0.2, seed=20 + index)
        time.sleep(0.05)  # the added moment is after the bounces' modification times
        skipping = second_folder(archive).replace("existing_files: process", "existing_files: skip")
        save(config, setup.config_text(extra_folders=skipping))
        wait_until(
            lambda: daemon.store.folder_first_watched(str(archive)) is not None,
            10,
            message="the added folder's first watch",
        )
        count, names = daemon.store.skipped_files(str(archive), limit=None)
        assert (count, sorted(names)) == (3, [f"old bounce {index}.wav" for index in range(3)])
        write_wav(archive / "new bounce.wav", 0.2, seed=30)
        wait_until(lambda: daemon.done(1), 30, message="the bounce exported after the add")
        assert [job.source_name for job in daemon.store.jobs()] == ["new bounce.wav"]
        code, shown = cli("status")
        assert code == 0 and "3 files were there before this folder was watched" in shown, shown
    assert setup.server.state.create_count() == 1


def two_folders(setup: Setup, other: Path, *, presets: str, first: str, second: str) -> str:
    """Two hot folders (the test's and ``other``), one upload at a time, the given presets."""
    return f"""
account:
  server: "{setup.server.url}"
presets:
{presets}
folders:
  - {{path: "{setup.hot}", preset: {first}, existing_files: process, stability_seconds: 0.3}}
  - {{path: "{other}", preset: {second}, existing_files: process, stability_seconds: 0.3}}
limits:
  max_concurrent_jobs: 1
daemon:
  {FAST_DAEMON}
"""


SLOW = pytest.mark.parametrize(
    "emulator_settings",
    # A job MVSEP holds long enough for the next files to wait for their slot.
    [
        EmulatorSettings(
            publish_seconds=0.3, queue_seconds=0.0, processing_seconds=4.0, rate_limit=False
        )
    ],
)

FOUR = "  four: {sep_type: 20, output_format: wav16}"
FOUR_B = "  four_b: {sep_type: 20, output_format: wav16}"
VOCALS = "  four: {sep_type: 48, output_format: wav16}"
RENAMED = "  vox: {sep_type: 20, output_format: wav16}"


@SLOW
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # The preset changed: the waiting file goes with the new one.
        ([(VOCALS + "\n" + FOUR_B, "four", "four_b")], {"A": 48, "B": 20}),
        # Renamed, the same settings: the waiting file still goes, with those settings.
        ([(RENAMED + "\n" + FOUR_B, "vox", "four_b")], {"A": 20, "B": 20}),
        # Changed and changed back before it was sent: it goes as it was, once.
        (
            [(VOCALS + "\n" + FOUR_B, "four", "four_b"), (FOUR + "\n" + FOUR_B, "four", "four_b")],
            {"A": 20, "B": 20},
        ),
    ],
    ids=["changed", "renamed", "changed-back"],
)
def test_a_preset_changed_while_files_wait_reaches_them_and_leaves_the_sent_one_alone(
    setup: Setup, changes: list[tuple[str, str, str]], expected: dict[str, int]
) -> None:
    """The same audio waits in two folders whose presets are alike (one job, two places);
    the first folder's preset changes. The file in flight keeps what it was sent with, each
    waiting file goes with what its folder asks for now, nothing is lost or sent twice."""
    signed_in(setup)
    other = setup.hot.parent / "Other"
    other.mkdir()
    config = setup.write_config(
        two_folders(setup, other, presets=FOUR + "\n" + FOUR_B, first="four", second="four_b")
    )
    with running_daemon(setup, config_file=config) as daemon:
        write_wav(setup.hot / "sent first.wav", 0.2, seed=1)
        wait_until(
            lambda: setup.server.state.create_count() == 1, 30, message="the first file sent"
        )
        write_wav(setup.hot / "waiting A.wav", 0.2, seed=2)
        write_wav(other / "waiting B.wav", 0.2, seed=2)  # the same audio
        wait_until(
            lambda: (
                len(daemon.store.deliveries(states=[DeliveryState.WAITING])) == 3
                and daemon.store.jobs([JobState.WAITING_SLOT])
            ),
            30,
            message="the second file waiting in both folders",
        )
        for presets, first, second in changes:
            text = two_folders(setup, other, presets=presets, first=first, second=second)
            save(config, text)
            wait_until(
                functools.partial(lambda text: live_text(daemon) == text, text),
                10,
                message="the change applied",
            )
        wait_until(lambda: all_placed(daemon, 3), 60, message="every file's stems placed")
        jobs = daemon.store.jobs()
        assert all(job.state is JobState.DONE for job in jobs), [
            (job.source_name, job.state, job.reason) for job in jobs
        ]
        by_folder = {
            "A" if Path(delivery.folder_path) == setup.hot else "B": job
            for job in jobs
            for delivery in daemon.store.deliveries(job.id)
            if delivery.source_path.endswith("waiting A.wav")
            or delivery.source_path.endswith("waiting B.wav")
        }
    sent = {job.hash: job.sep_type for job in setup.server.state.jobs()}
    assert {name: sent[str(job.separation_hash)] for name, job in by_folder.items()} == expected
    # One create for the file in flight, one for each distinct (audio, settings) waiting.
    assert setup.server.state.create_count() == 1 + len(set(expected.values()))


def live_text(daemon: Any) -> str:
    live = daemon.daemon.live_config
    assert live is not None
    return str(live.state().text)


def all_placed(daemon: Any, deliveries: int) -> bool:
    found = daemon.store.deliveries(states=[DeliveryState.DONE])
    return len(found) >= deliveries and not daemon.store.deliveries(states=[DeliveryState.WAITING])


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


def test_sighup_reads_a_file_the_watch_cannot_see_and_a_refusal_is_said_once(
    setup: Setup,
) -> None:
    """The configuration is a link to a file elsewhere (dotfiles kept in one folder): a change
    of that file is not seen by the watch on the link's folder, and SIGHUP reads it."""
    signed_in(setup)
    kept = setup.tmp / "dotfiles"
    kept.mkdir()
    target = kept / "mvsepd.yaml"
    target.write_text(setup.config_text(), encoding="utf-8")
    good = target.read_text(encoding="utf-8")
    config = setup.tmp / "config.yaml"
    config.symlink_to(target)
    process = start_daemon_process(setup, config)

    def hang_up_and_hear(count: int) -> str:
        process.send_signal(signal.SIGHUP)
        done = wait_until(
            lambda: len(found := events_named(setup, "reload_done")) == count and found,
            10,
            message=f"reload {count} done",
        )
        return str(done[-1]["outcome"])

    try:
        wait_until(lambda: answers(setup), 30, message="the daemon's start")
        bad = good.replace("preset: four", "preset: fuor")
        target.write_text(bad, encoding="utf-8")
        time.sleep(1.5)  # a watch that saw it would have refused it by now (0.3 s)
        assert events_named(setup, "config_refused") == []
        assert config_state(setup)["in_force"] is True

        assert hang_up_and_hear(1) == "refused"
        assert process.poll() is None  # SIGHUP reloads; it does not end the daemon
        assert hang_up_and_hear(2) == "refused_already"
        (refusal,) = events_named(setup, "config_refused")  # said once
        assert any("fuor" in problem for problem in refusal["problems"])
        assert config_state(setup)["in_force"] is False

        target.write_text(good.replace("stability_seconds: 0.3", "stability_seconds: 0.4"))
        assert hang_up_and_hear(3) == "applied"
        assert config_state(setup)["in_force"] is True
        write_wav(setup.hot / "after reload.wav", 0.2, seed=6)
        wait_until(
            lambda: any(job.state is JobState.DONE for job in setup.jobs()),
            30,
            message="a file after the reload",
        )
    finally:
        assert stop_process(process) == 0


@SLOW
def test_a_fan_out_keeps_its_unchanged_preset_s_job_and_replaces_the_changed_one(
    setup: Setup,
) -> None:
    signed_in(setup)
    other = setup.hot.parent / "Other"
    other.mkdir()
    vocals = "  vocals: {sep_type: 48, output_format: wav16}"
    dereverb = '  vocals: {sep_type: 22, options: {add_opt1: "9", add_opt2: "Use as is"}}'

    def text(second: str) -> str:
        return two_folders(
            setup, other, presets=f"{FOUR}\n{second}", first="[four, vocals]", second="four"
        )

    config = setup.write_config(text(vocals))
    with running_daemon(setup, config_file=config) as daemon:
        write_wav(other / "sent first.wav", 0.2, seed=1)
        wait_until(
            lambda: setup.server.state.create_count() == 1, 30, message="the first file sent"
        )
        write_wav(setup.hot / "waiting.wav", 0.2, seed=2)
        wait_until(
            lambda: len(daemon.store.jobs([JobState.WAITING_SLOT])) == 2,
            30,
            message="both presets' jobs waiting",
        )
        before = {job.preset_name: job.id for job in daemon.store.jobs([JobState.WAITING_SLOT])}
        save(config, text(dereverb))
        wait_until(lambda: daemon.done(3), 60, message="every job done")
        after = {
            job.preset_name: job for job in daemon.store.jobs() if job.source_name == "waiting.wav"
        }
    assert after["four"].id == before["four"]  # untouched
    assert after["vocals"].id > before["vocals"] and after["vocals"].sep_type == 22
    assert sorted(job.sep_type for job in setup.server.state.jobs()) == [20, 20, 22]


def test_a_folder_paused_at_run_time_takes_nothing_until_it_is_resumed(setup: Setup) -> None:
    signed_in(setup)

    def text(folder: str = "") -> str:
        # Files there before a folder's first watch are skipped: the resumed folder must not
        # count what came while it was paused among them.
        return setup.config_text(folder=folder).replace(
            "existing_files: process", "existing_files: skip"
        )

    config = setup.write_config(text())
    with running_daemon(setup, config_file=config) as daemon:
        save(config, text("paused: true"))
        wait_until(
            lambda: not any(health.path == setup.hot for health in daemon.daemon.intake.health()),
            10,
            message="the folder let go",
        )
        write_wav(setup.hot / "while paused.wav", 0.2, seed=9)
        time.sleep(1.5)  # a watched folder would have taken it by now (stability 0.3 s)
        assert daemon.store.jobs() == []
        assert setup.hot in daemon.daemon.context.folders  # still configured, shown paused

        save(config, text())
        # Resumed: watched again, and what came meanwhile is taken (not skipped as "there
        # before the first watch": this folder was watched before).
        wait_until(lambda: daemon.done(1), 30, message="the file dropped while paused")
        assert [job.source_name for job in daemon.store.jobs()] == ["while paused.wav"]

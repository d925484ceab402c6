"""``mvsepd service install|uninstall|status`` on Linux (systemd user unit): files land in the
user's unit folder, the tool commands are the right ones, bad input changes nothing, uninstall
removes only what install wrote. Commands are recorded, never run."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from mvsepd.process.instancelock import InstanceLock
from mvsepd.service import CommandResult, Host
from tests.service.support import (
    MVSEPD_SCRIPT,
    RecordingRunner,
    invoke,
    make_host,
    setting,
    tree,
    unit_settings,
    write_config,
)

Capture = pytest.CaptureFixture[str]


def user(*words: str) -> tuple[str, ...]:
    """A ``systemctl --user`` command line."""
    return ("systemctl", "--user", *words)


NOT_KNOWN = CommandResult(1, "", "No files found for mvsepd.service.")


@pytest.fixture
def runner() -> RecordingRunner:
    return RecordingRunner(answers={user("cat"): NOT_KNOWN})


@pytest.fixture
def host(tmp_path: Path, runner: RecordingRunner) -> Host:
    return make_host(tmp_path, runner)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "settings")


def unit_path(host: Host) -> Path:
    return host.home / ".config" / "systemd" / "user" / "mvsepd.service"


def install(capsys: Capture, host: Host, config: Path, *extra: str) -> tuple[int, str, str]:
    return invoke(capsys, ["service", "install", "--config", str(config), *extra], host)


def test_install_writes_the_unit_records_it_and_starts_it(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    status, out, err = install(capsys, host, config)
    assert status == 0, err
    unit = unit_path(host)
    exec_start = setting(unit_settings(unit.read_text("utf-8")), "Service", "ExecStart")
    assert exec_start.startswith(f"{MVSEPD_SCRIPT} run --config ")
    assert str(config) in exec_start
    assert runner.calls == [
        user("cat", "mvsepd.service"),
        user("daemon-reload"),
        user("enable", "--now", "mvsepd.service"),
    ]
    manifest = json.loads((host.manifest_dir / "user.json").read_text("utf-8"))
    assert manifest["file"] == str(unit)
    assert manifest["name"] == "mvsepd.service"
    assert f"wrote {unit}" in out
    assert "ran: systemctl --user enable --now mvsepd.service" in out
    assert "journalctl --user -u mvsepd" in out
    assert "loginctl enable-linger alice" in out


def test_installing_twice_the_same_is_a_no_op(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    assert install(capsys, host, config)[0] == 0
    runner.calls.clear()
    status, out, _err = install(capsys, host, config)
    assert status == 0
    assert "already installed, identical" in out
    assert runner.calls == []


def test_installing_twice_with_other_settings_refuses(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path, tmp_path: Path
) -> None:
    assert install(capsys, host, config)[0] == 0
    before = tree(tmp_path)
    runner.calls.clear()
    other = write_config(tmp_path / "other")
    status, _out, err = install(capsys, host, other)
    assert status == 1
    assert "already installed with other settings" in err
    assert "mvsepd service uninstall" in err
    assert runner.calls == []
    assert {name: data for name, data in tree(tmp_path).items() if "other" not in name} == before


def test_a_unit_install_did_not_write_is_left_alone(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    unit = unit_path(host)
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/bin/true\n", encoding="utf-8")
    status, _out, err = install(capsys, host, config)
    assert status == 1
    assert "did not write it" in err
    assert unit.read_text("utf-8") == "[Service]\nExecStart=/bin/true\n"
    assert runner.calls == []


def test_a_unit_systemd_already_knows_is_not_shadowed(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    runner.answers[user("cat")] = CommandResult(0, "# /usr/lib/systemd/user/mvsepd.service")
    status, _out, err = install(capsys, host, config)
    assert status == 1
    assert "already knows mvsepd.service" in err
    assert not unit_path(host).exists()
    assert runner.calls == [user("cat", "mvsepd.service")]


def test_without_systemctl_nothing_changes(
    capsys: Capture, tmp_path: Path, runner: RecordingRunner, config: Path
) -> None:
    host = make_host(tmp_path, runner, tools=False)
    before = tree(tmp_path)
    status, _out, err = install(capsys, host, config)
    assert status == 1
    assert "systemctl is not on PATH" in err
    assert "nothing was changed" in err
    assert tree(tmp_path) == before
    assert runner.calls == []


def test_an_invalid_config_is_refused_with_every_problem(
    capsys: Capture, host: Host, runner: RecordingRunner, tmp_path: Path
) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("account: {server: 3}\nfolders: []\nbogus: 1\n", encoding="utf-8")
    before = tree(tmp_path)
    status, _out, err = install(capsys, host, config)
    assert status == 78
    assert "account.server" in err
    assert "bogus: unknown key" in err
    assert tree(tmp_path) == before
    assert runner.calls == []


def test_a_token_only_in_this_shell_is_refused(
    capsys: Capture, tmp_path: Path, runner: RecordingRunner
) -> None:
    config = write_config(tmp_path / "settings", token=False)
    token_line = f'  token_file: "{config.parent / "token"}"\n'
    text = config.read_text("utf-8").replace(token_line, "  token_env: MVSEP_API_TOKEN\n")
    config.write_text(text, encoding="utf-8")
    host = make_host(tmp_path, runner)
    host = replace(host, environ={**host.environ, "MVSEP_API_TOKEN": "abcdefgh"})
    status, _out, err = install(capsys, host, config)
    assert status == 78
    assert "$MVSEP_API_TOKEN in this shell" in err
    assert "mvsepd login" in err
    assert not unit_path(host).exists()


def test_a_running_daemon_is_not_doubled(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    lock = InstanceLock(host.paths.lock_file)
    lock.acquire()
    try:
        before = host.paths.lock_file.read_bytes()
        status, _out, err = install(capsys, host, config)
        assert host.paths.lock_file.read_bytes() == before
    finally:
        lock.release()
    assert status == 1
    assert f"daemon (pid {os.getpid()}) already runs" in err
    assert not unit_path(host).exists()
    assert runner.calls == []


def test_a_failing_start_is_undone(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    runner.answers[user("enable")] = CommandResult(
        1, "", "Failed to connect to bus: No medium found"
    )
    status, _out, err = install(capsys, host, config)
    assert status == 1
    assert "Failed to connect to bus" in err
    assert "everything was undone" in err
    assert not unit_path(host).exists()
    assert not (host.manifest_dir / "user.json").exists()
    assert runner.calls[-2:] == [
        user("disable", "--now", "mvsepd.service"),
        user("daemon-reload"),
    ]


def test_uninstall_removes_only_what_install_wrote(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path, tmp_path: Path
) -> None:
    assert install(capsys, host, config)[0] == 0
    neighbour = unit_path(host).with_name("other.service")
    neighbour.write_text("[Service]\nExecStart=/bin/true\n", encoding="utf-8")
    runner.answers[user("cat")] = CommandResult(0)
    runner.calls.clear()
    before = tree(tmp_path)
    status, out, err = invoke(capsys, ["service", "uninstall"], host)
    assert status == 0, err
    assert runner.calls == [
        user("cat", "mvsepd.service"),
        user("disable", "--now", "mvsepd.service"),
        user("daemon-reload"),
    ]
    after = tree(tmp_path)
    removed = set(before) - set(after)
    assert removed == {
        str(unit_path(host).relative_to(tmp_path)),
        str((host.manifest_dir / "user.json").relative_to(tmp_path)),
    }
    assert all(after[name] == before[name] for name in after)
    assert f"removed {unit_path(host)}" in out
    assert "config, token, jobs and logs are kept" in out


def test_uninstall_of_nothing_is_a_no_op(
    capsys: Capture, host: Host, runner: RecordingRunner, tmp_path: Path
) -> None:
    unit = unit_path(host)
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/bin/true\n", encoding="utf-8")
    before = tree(tmp_path)
    status, out, _err = invoke(capsys, ["service", "uninstall"], host)
    assert status == 0
    assert "nothing to uninstall" in out
    assert "not written by it; left alone" in out
    assert tree(tmp_path) == before
    assert runner.calls == []


def test_uninstall_keeps_a_unit_edited_since_install(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    assert install(capsys, host, config)[0] == 0
    unit = unit_path(host)
    edited = unit.read_text("utf-8") + "# my note\n"
    unit.write_text(edited, encoding="utf-8")
    runner.answers[user("cat")] = CommandResult(0)
    status, _out, err = invoke(capsys, ["service", "uninstall"], host)
    assert status == 0
    assert unit.read_text("utf-8") == edited
    assert "changed since install" in err


def test_uninstall_that_cannot_stop_the_service_removes_nothing(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path, tmp_path: Path
) -> None:
    assert install(capsys, host, config)[0] == 0
    runner.answers[user("cat")] = CommandResult(0)
    runner.answers[user("disable")] = CommandResult(1, "", "Failed to connect to bus")
    before = tree(tmp_path)
    status, _out, err = invoke(capsys, ["service", "uninstall"], host)
    assert status == 1
    assert "nothing was removed" in err
    assert tree(tmp_path) == before


def test_status_says_whether_it_runs(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path
) -> None:
    runner.answers[user("status")] = CommandResult(4, "", "Unit mvsepd.service not found.")
    status, out, _err = invoke(capsys, ["service", "status"], host)
    assert status == 3
    assert "not installed" in out
    assert "mvsepd.service: not running" in out
    assert install(capsys, host, config)[0] == 0
    runner.answers[user("status")] = CommandResult(0, "Active: active (running)\nREADY")
    status, out, _err = invoke(capsys, ["service", "status"], host)
    assert status == 0
    assert "mvsepd.service: running" in out
    assert "Active: active (running)" in out
    runner.answers[user("status")] = CommandResult(3, "Active: failed (Result: exit-code)")
    status, out, _err = invoke(capsys, ["service", "status"], host)
    assert status == 3
    assert "mvsepd.service: not running" in out


def test_dry_run_prints_the_unit_and_changes_nothing(
    capsys: Capture, host: Host, runner: RecordingRunner, config: Path, tmp_path: Path
) -> None:
    before = tree(tmp_path)
    status, out, err = install(capsys, host, config, "--dry-run")
    assert status == 0, err
    assert out.startswith("# mvsepd: hot folders for MVSEP")
    assert "[Service]" in out
    assert "would run: systemctl --user enable --now mvsepd.service" in err
    assert tree(tmp_path) == before
    assert runner.calls == []


def test_every_service_command_has_help(capsys: Capture, host: Host) -> None:
    for command in ([], ["install"], ["uninstall"], ["status"]):
        status, out, _err = invoke(capsys, ["service", *command, "--help"], host)
        assert status == 0
        assert "Usage: mvsepd service" in out
    status, _out, err = invoke(capsys, ["service", "install", "--run-as", "bob"], host)
    assert status == 2
    assert "--run-as only applies with --system" in err

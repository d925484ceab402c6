"""Install on the other targets with recorded commands: the Linux system template (root, named
user), the macOS LaunchAgent, the Windows logon task; ``--system`` where it is not offered; and
the real ``mvsepd service install --dry-run`` printing a unit systemd accepts."""

from __future__ import annotations

import os
import plistlib
import pwd
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from pathlib import Path

import pytest

from mvsepd.service import CommandResult
from mvsepd.service.taskxml import TASK_NAMESPACE
from tests.service.support import (
    MVSEPD_SCRIPT,
    RecordingRunner,
    invoke,
    make_host,
    setting,
    systemd_analyze,
    tree,
    unit_settings,
    verify_unit,
    write_config,
)

Capture = pytest.CaptureFixture[str]
ME = pwd.getpwuid(os.getuid()).pw_name


def test_system_template_is_installed_for_a_named_user(capsys: Capture, tmp_path: Path) -> None:
    runner = RecordingRunner(answers={("systemctl", "cat"): CommandResult(1)})
    host = make_host(tmp_path, runner, is_root=True, user="root")
    config = write_config(tmp_path / "settings")
    arguments = ["service", "install", "--system", "--run-as", ME, "--config", str(config)]
    status, out, err = invoke(capsys, arguments, host)
    assert status == 0, err
    unit = host.system_unit_dir / "mvsepd@.service"
    sections = unit_settings(unit.read_text("utf-8"))
    assert setting(sections, "Service", "User") == "%i"
    assert f"--config {config}" in setting(sections, "Service", "ExecStart")
    assert runner.calls == [
        ("systemctl", "cat", "mvsepd@.service"),
        ("systemctl", "daemon-reload"),
        ("systemctl", "enable", "--now", f"mvsepd@{ME}.service"),
    ]
    assert f"journalctl -u mvsepd@{ME}" in out
    verify_unit(unit, user=False, runtime_dir=tmp_path / "runtime")

    # One instance per install: another user's instance is refused, not silently skipped.
    someone_else = next(entry.pw_name for entry in pwd.getpwall() if entry.pw_name != ME)
    other = ["service", "install", "--system", "--run-as", someone_else, "--config", str(config)]
    status, _out, err = invoke(capsys, other, host)
    assert status == 1
    assert "already installed with other settings" in err

    runner.calls.clear()
    runner.answers[("systemctl", "cat")] = CommandResult(0)
    status, out, err = invoke(capsys, ["service", "uninstall", "--system"], host)
    assert status == 0, err
    assert not unit.exists()
    assert ("systemctl", "disable", "--now", f"mvsepd@{ME}.service") in runner.calls


def test_system_install_needs_root(capsys: Capture, tmp_path: Path) -> None:
    runner = RecordingRunner()
    host = make_host(tmp_path, runner, is_root=False, user=ME)
    config = write_config(tmp_path / "settings")
    before = tree(tmp_path)
    status, _out, err = invoke(
        capsys, ["service", "install", "--system", "--config", str(config)], host
    )
    assert status == 1
    assert "needs root" in err
    assert "sudo " in err
    assert tree(tmp_path) == before
    assert runner.calls == []


def test_system_install_for_an_unknown_user_refuses(capsys: Capture, tmp_path: Path) -> None:
    host = make_host(tmp_path, RecordingRunner(), is_root=True, user="root")
    status, _out, err = invoke(
        capsys, ["service", "install", "--system", "--run-as", "no-such-user-here"], host
    )
    assert status == 1
    assert "no user named 'no-such-user-here'" in err


@pytest.mark.parametrize(
    ("platform", "why"), [("darwin", "LaunchDaemon"), ("windows", "Session 0")]
)
def test_system_is_not_offered_on_macos_and_windows(
    capsys: Capture, tmp_path: Path, platform: str, why: str
) -> None:
    runner = RecordingRunner()
    host = make_host(tmp_path, runner, platform=platform)
    status, _out, err = invoke(capsys, ["service", "install", "--system"], host)
    assert status == 1
    assert "--system is not offered" in err
    assert why in err
    assert runner.calls == []


def test_launch_agent_install_and_uninstall(capsys: Capture, tmp_path: Path) -> None:
    runner = RecordingRunner(answers={("launchctl", "print"): CommandResult(113)})
    host = make_host(tmp_path, runner, platform="darwin")
    config = write_config(tmp_path / "settings")
    status, out, err = invoke(capsys, ["service", "install", "--config", str(config)], host)
    assert status == 0, err
    plist_file = host.home / "Library" / "LaunchAgents" / "com.mvsepd.agent.plist"
    plist = plistlib.loads(plist_file.read_bytes())
    assert plist["ProgramArguments"] == [
        str(MVSEPD_SCRIPT),
        "run",
        "--config",
        str(config),
        "--json-logs",
    ]
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["StandardErrorPath"] == str(host.paths.log_dir / "agent.log")
    assert host.paths.log_dir.is_dir()  # launchd does not create the log folder
    assert runner.calls == [
        ("launchctl", "print", "gui/501/com.mvsepd.agent"),
        ("launchctl", "enable", "gui/501/com.mvsepd.agent"),
        ("launchctl", "bootstrap", "gui/501", str(plist_file)),
    ]
    assert "Full Disk Access" in out
    assert f"the program to allow: {os.path.realpath(sys.executable)}" in out

    runner.calls.clear()
    runner.answers[("launchctl", "bootout")] = CommandResult(113, "", "Boot-out failed: 113")
    status, out, err = invoke(capsys, ["service", "uninstall"], host)
    assert status == 0, err
    assert not plist_file.exists()
    assert ("launchctl", "bootout", "gui/501/com.mvsepd.agent") in runner.calls


def test_logon_task_install_and_uninstall(capsys: Capture, tmp_path: Path) -> None:
    runner = RecordingRunner(answers={("schtasks", "/Query"): CommandResult(1)})
    host = make_host(tmp_path, runner, platform="windows")
    config = write_config(tmp_path / "settings")
    status, out, err = invoke(capsys, ["service", "install", "--config", str(config)], host)
    assert status == 0, err
    xml_file = host.manifest_dir / "mvsepd-task.xml"
    task = ElementTree.fromstring(xml_file.read_bytes())  # noqa: S314 (our own file)
    namespace = {"t": TASK_NAMESPACE}
    assert task.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=namespace) == (
        "DESKTOP\\alice"
    )
    assert task.findtext("t:Principals/t:Principal/t:RunLevel", namespaces=namespace) == (
        "LeastPrivilege"
    )
    arguments = task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=namespace) or ""
    assert "--log-file" in arguments  # a task's stdout and stderr go nowhere
    assert runner.calls == [
        ("schtasks", "/Query", "/TN", "mvsepd"),
        ("schtasks", "/Create", "/TN", "mvsepd", "/XML", str(xml_file)),
        ("schtasks", "/Run", "/TN", "mvsepd"),
    ]
    assert str(host.paths.log_file) in out

    runner.calls.clear()
    runner.answers[("schtasks", "/Query")] = CommandResult(0)
    runner.answers[("schtasks", "/End")] = CommandResult(1, "", "ERROR: not running")
    status, _out, err = invoke(capsys, ["service", "uninstall"], host)
    assert status == 0, err
    assert ("schtasks", "/Delete", "/TN", "mvsepd", "/F") in runner.calls
    assert not xml_file.exists()


def test_real_dry_run_prints_a_unit_systemd_accepts(tmp_path: Path) -> None:
    systemd_analyze()
    config = write_config(tmp_path / "settings")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MVSEPD_")}
    environment.update(
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        MVSEPD_STATE_DIR=str(tmp_path / "state"),
        MVSEPD_CONFIG_DIR=str(tmp_path / "config"),
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mvsepd",
            "service",
            "install",
            "--dry-run",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    if shutil.which("systemctl") is not None:
        assert completed.returncode == 0, completed.stderr
    assert "would run: systemctl --user enable --now mvsepd.service" in completed.stderr
    unit = tmp_path / "mvsepd.service"
    unit.write_text(completed.stdout, encoding="utf-8")
    verify_unit(unit, user=True, runtime_dir=tmp_path / "runtime")
    assert not (tmp_path / "xdg-config").exists()
    assert not (tmp_path / "state").exists()


def test_a_user_service_under_sudo_is_refused(capsys: Capture, tmp_path: Path) -> None:
    runner = RecordingRunner()
    host = make_host(tmp_path, runner, is_root=True, user="root")
    host = replace(host, environ={**host.environ, "SUDO_USER": "alice"})
    config = write_config(tmp_path / "settings")
    before = tree(tmp_path)
    status, _out, err = invoke(capsys, ["service", "install", "--config", str(config)], host)
    assert status == 1
    assert "without sudo" in err
    assert tree(tmp_path) == before
    assert runner.calls == []

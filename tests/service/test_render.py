"""The generated service files: systemd accepts the units, plistlib and an XML parser read the
LaunchAgent and the logon task, and each says what a user relies on (paths, restarts, logs)."""

from __future__ import annotations

import plistlib
import shlex
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from mvsepd.service import ServiceSpec, UnitText, current_program, launchd, systemd, taskxml
from mvsepd.service.reference import reference_files
from tests.service.support import MVSEPD_SCRIPT, setting, unit_settings, verify_unit

REPOSITORY = Path(__file__).resolve().parents[2]
TASK = f"{{{taskxml.TASK_NAMESPACE}}}"


def spec(config: str = "/home/alice/.config/mvsepd/config.yaml") -> ServiceSpec:
    return ServiceSpec(program=(str(MVSEPD_SCRIPT),), config=config)


def test_user_unit_is_accepted_by_systemd(tmp_path: Path) -> None:
    unit = tmp_path / systemd.USER_UNIT_NAME
    unit.write_text(systemd.user_unit(spec()), encoding="utf-8")
    verify_unit(unit, user=True, runtime_dir=tmp_path / "runtime")


def test_user_unit_restarts_on_failure_but_not_for_a_broken_config() -> None:
    sections = unit_settings(systemd.user_unit(spec()))
    assert setting(sections, "Service", "Type") == "notify"
    assert setting(sections, "Service", "NotifyAccess") == "main"
    assert setting(sections, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert setting(sections, "Service", "WatchdogSec") == "60"
    assert setting(sections, "Service", "Restart") == "on-failure"
    assert setting(sections, "Service", "RestartSec") == "5"
    assert setting(sections, "Service", "RestartPreventExitStatus").split() == ["78", "75"]
    assert setting(sections, "Service", "TimeoutStopSec") == "20"
    assert setting(sections, "Unit", "StartLimitIntervalSec") == "300"
    assert setting(sections, "Unit", "StartLimitBurst") == "5"
    assert setting(sections, "Service", "Environment") == "PYTHONUNBUFFERED=1"
    assert setting(sections, "Install", "WantedBy") == "default.target"
    assert setting(sections, "Service", "ExecStart") == (
        f"{MVSEPD_SCRIPT} run --config /home/alice/.config/mvsepd/config.yaml --json-logs"
    )


def test_hardening_keeps_every_folder_writable() -> None:
    for text in (systemd.user_unit(spec()), systemd.system_template(spec())):
        service = dict(unit_settings(text)["Service"])
        assert service["NoNewPrivileges"] == "yes"
        for confining in ("ProtectSystem", "ProtectHome", "PrivateTmp", "ReadWritePaths"):
            assert confining not in service
            assert f"#{confining}=" in text  # offered, commented, with the reason above it


def test_system_template_is_accepted_as_template_and_instance(tmp_path: Path) -> None:
    template = tmp_path / systemd.SYSTEM_TEMPLATE_NAME
    template.write_text(
        systemd.system_template(spec(systemd.SYSTEM_DEFAULT_CONFIG)), encoding="utf-8"
    )
    verify_unit(template, user=False, runtime_dir=tmp_path / "runtime")
    instance = tmp_path / "mvsepd@alice.service"
    instance.symlink_to(template.name)
    verify_unit(instance, user=False, runtime_dir=tmp_path / "runtime")


def test_system_template_runs_as_the_instance_user() -> None:
    sections = unit_settings(systemd.system_template(spec(systemd.SYSTEM_DEFAULT_CONFIG)))
    assert setting(sections, "Service", "User") == "%i"
    assert setting(sections, "Service", "Type") == "notify"
    assert setting(sections, "Service", "RestartPreventExitStatus").split() == ["78", "75"]
    assert setting(sections, "Install", "WantedBy") == "multi-user.target"
    # %h would be root's home in a system unit; ${HOME} is the instance user's.
    assert "--config ${HOME}/.config/mvsepd/config.yaml" in setting(
        sections, "Service", "ExecStart"
    )


def test_odd_paths_are_quoted_and_escaped(tmp_path: Path) -> None:
    config = str(tmp_path / 'My "Music" 100%' / "$HOME" / "config.yaml")
    text = systemd.user_unit(spec(config))
    exec_start = setting(unit_settings(text), "Service", "ExecStart")
    words = shlex.split(exec_start)  # systemd's quoting is a superset of this for these words
    assert words[3].replace("%%", "%").replace("$$", "$") == config
    unit = tmp_path / systemd.USER_UNIT_NAME
    unit.write_text(text, encoding="utf-8")
    verify_unit(unit, user=True, runtime_dir=tmp_path / "runtime")


def test_exec_words() -> None:
    assert systemd.exec_word("/usr/bin/mvsepd") == "/usr/bin/mvsepd"
    assert systemd.exec_word("/a b/c") == '"/a b/c"'
    assert systemd.exec_word("/100%/$x") == "/100%%/$$x"
    assert systemd.exec_word(UnitText("%h/$x")) == "%h/$x"
    with pytest.raises(ValueError, match="control character"):
        systemd.exec_word("/a\nb")


def test_launch_agent_round_trips_through_plistlib() -> None:
    macos = ServiceSpec(
        program=("/opt/venv/bin/mvsepd",),
        config="/Users/alice/Library/Application Support/mvsepd/config.yaml",
    )
    data = launchd.plist_bytes(
        launchd.agent_plist(macos, log_path="/Users/alice/Library/Logs/mvsepd/agent.log")
    )
    plist = plistlib.loads(data)
    assert plist["Label"] == "com.mvsepd.agent"
    assert plist["ProgramArguments"] == [
        "/opt/venv/bin/mvsepd",
        "run",
        "--config",
        "/Users/alice/Library/Application Support/mvsepd/config.yaml",
        "--json-logs",
    ]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert isinstance(plist["ThrottleInterval"], int) and plist["ThrottleInterval"] >= 10
    assert plist["StandardOutPath"] == "/Users/alice/Library/Logs/mvsepd/agent.log"
    assert plist["StandardErrorPath"] == plist["StandardOutPath"]
    assert plist["EnvironmentVariables"] == {"PYTHONUNBUFFERED": "1"}
    assert b"Full Disk Access" in data


def test_logon_task_runs_as_the_user_without_admin_and_comes_back() -> None:
    windows = ServiceSpec(
        program=("C:\\Program Files\\Python312\\pythonw.exe", "-m", "mvsepd"),
        config="C:\\Users\\alice\\AppData\\Local\\mvsepd\\config.yaml",
        log_file=True,
    )
    data = taskxml.task_xml(windows, user_id="DESKTOP\\alice")
    assert data.startswith(b"\xff\xfe")  # UTF-16 with its byte order mark, as schtasks reads
    task = ElementTree.fromstring(data)  # noqa: S314 (XML we just generated)
    assert task.tag == f"{TASK}Task"

    def text(path: str) -> str | None:
        element = task.find(path.replace("t:", TASK))
        assert element is not None, path
        return element.text

    assert text("t:Triggers/t:LogonTrigger/t:UserId") == "DESKTOP\\alice"
    assert text("t:Triggers/t:LogonTrigger/t:Repetition/t:Interval") == "PT5M"
    assert text("t:Principals/t:Principal/t:UserId") == "DESKTOP\\alice"
    assert text("t:Principals/t:Principal/t:LogonType") == "InteractiveToken"
    assert text("t:Principals/t:Principal/t:RunLevel") == "LeastPrivilege"
    assert text("t:Settings/t:RestartOnFailure/t:Interval") == "PT1M"
    assert int(text("t:Settings/t:RestartOnFailure/t:Count") or 0) >= 1
    assert text("t:Settings/t:MultipleInstancesPolicy") == "IgnoreNew"
    assert text("t:Settings/t:ExecutionTimeLimit") == "PT0S"
    assert text("t:Settings/t:DisallowStartIfOnBatteries") == "false"
    assert text("t:Actions/t:Exec/t:Command") == "C:\\Program Files\\Python312\\pythonw.exe"
    assert text("t:Actions/t:Exec/t:Arguments") == (
        "-m mvsepd run --config C:\\Users\\alice\\AppData\\Local\\mvsepd\\config.yaml "
        "--log-file --json-logs"
    )


def test_reference_files_are_what_the_renderers_produce() -> None:
    """service/ in the source tree cannot drift from what `mvsepd service install` writes."""
    for name, content in reference_files().items():
        checked_in = REPOSITORY / "service" / name
        assert checked_in.read_bytes() == content, (
            f"service/{name} differs from the renderer: run "
            "`python -m mvsepd.service.reference service`"
        )


def test_reference_units_are_accepted_by_systemd(tmp_path: Path) -> None:
    # The placeholder /usr/local/bin/mvsepd need not exist here: point it at a real program.
    for name in (systemd.USER_UNIT_NAME, systemd.SYSTEM_TEMPLATE_NAME):
        text = reference_files()[name].decode("utf-8")
        unit = tmp_path / name
        unit.write_text(text.replace("/usr/local/bin/mvsepd", str(MVSEPD_SCRIPT)), "utf-8")
        verify_unit(unit, user=name == systemd.USER_UNIT_NAME, runtime_dir=tmp_path / "run")


def test_current_program_prefers_the_script_next_to_the_interpreter(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("")
    assert current_program("linux", str(python)) == (str(python), "-m", "mvsepd")
    script = bin_dir / "mvsepd"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert current_program("linux", str(python)) == (str(script),)
    scripts = tmp_path / "Scripts"
    scripts.mkdir()
    (scripts / "pythonw.exe").write_text("")
    windows_python = str(scripts / "python.exe")
    assert current_program("windows", windows_python) == (
        str(scripts / "pythonw.exe"),
        "-m",
        "mvsepd",
    )

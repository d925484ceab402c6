"""Per platform: which file a service is, where it goes, and which tool commands manage it.

``build_plan`` turns a ``Host`` and the user's choices into a ``Plan``: the rendered file, its
target path, and fixed argument lists for the platform tool (``systemctl``, ``launchctl``,
``schtasks``) to register, start, stop, query and remove it. Nothing here runs anything.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mvsepd.errors import ServiceError
from mvsepd.service import launchd, systemd, taskxml
from mvsepd.service.host import CommandResult, Host
from mvsepd.service.spec import ServiceSpec

SYSTEM_NOT_OFFERED = {
    "darwin": (
        "--system is not offered on macOS: a LaunchDaemon runs outside your login session, "
        "without your Full Disk Access grants, the network volumes you mount or a menu bar; "
        "the LaunchAgent `mvsepd service install` writes runs as you at login (for a headless "
        "Mac, turn on automatic login)"
    ),
    "windows": (
        "--system is not offered on Windows: a Windows service runs in Session 0, without your "
        "mapped network drives, your desktop (so no tray icon) or your environment; the logon "
        "task `mvsepd service install` registers runs as you, in your session, without admin "
        "rights"
    ),
}


@dataclass(frozen=True)
class Step:
    """One run of the platform tool; ``accept`` lists the exit statuses that mean success."""

    argv: tuple[str, ...]
    accept: frozenset[int] = frozenset({0})
    required: bool = True

    def succeeded(self, result: CommandResult) -> bool:
        """True when ``result`` means the step did what it should."""
        return result.returncode in self.accept


@dataclass(frozen=True)
class Plan:
    """Everything one service installation consists of, decided before anything changes."""

    platform: str
    scope: str
    tool: str
    name: str
    file: Path
    content: bytes
    config: Path
    token_file: Path
    install: tuple[Step, ...]
    stop: tuple[Step, ...]
    after_remove: tuple[Step, ...]
    status: Step
    probe: Step | None
    is_running: Callable[[CommandResult], bool | None]
    log_hint: str
    notes: tuple[str, ...] = ()
    directories: tuple[Path, ...] = ()
    needs_root: bool = False
    local_daemon: bool = True
    #: Text shown for the file with --dry-run (the Windows file itself is UTF-16).
    preview: str = field(default="")

    def command_text(self, argv: tuple[str, ...]) -> str:
        """A command as the user would type it on this platform."""
        if self.platform == "windows":
            return subprocess.list2cmdline(argv)
        return shlex.join(argv)


def build_plan(
    host: Host, *, system: bool, config: Path | None = None, run_as: str | None = None
) -> Plan:
    """The plan for this host. Raise ServiceError where no service is offered."""
    if host.platform == "linux":
        if system:
            return _systemd_system(host, config, run_as)
        return _systemd_user(host, config)
    if system and host.platform in SYSTEM_NOT_OFFERED:
        raise ServiceError(SYSTEM_NOT_OFFERED[host.platform])
    if host.platform == "darwin":
        return _launchd(host, config)
    if host.platform == "windows":
        return _task_scheduler(host, config)
    raise ServiceError(
        f"installing a service is not offered on {host.platform}; start `mvsepd run` from "
        "your session's autostart or init system instead"
    )


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path.expanduser()))


def _systemd_running(result: CommandResult) -> bool | None:
    # systemctl status: 0 active, 3 not active, 4 no such unit.
    return {0: True, 3: False, 4: False}.get(result.returncode)


def _systemd_user(host: Host, config: Path | None) -> Plan:
    sudo_user = host.environ.get("SUDO_USER", "")
    if host.is_root and sudo_user not in ("", "root"):
        raise ServiceError(
            f"this runs under sudo, so the user service would be root's, not {sudo_user}'s: "
            "run `mvsepd service install` without sudo (or add --system for a system unit)"
        )
    config_path = _absolute(config or host.paths.config_file)
    spec = ServiceSpec(program=host.program, config=str(config_path))
    text = systemd.user_unit(spec)
    unit = systemd.USER_UNIT_NAME
    user = ("systemctl", "--user")
    return Plan(
        platform="linux",
        scope="user",
        tool="systemctl",
        name=unit,
        file=host.user_unit_dir / unit,
        content=text.encode("utf-8"),
        preview=text,
        config=config_path,
        token_file=host.paths.token_file,
        install=(
            Step((*user, "daemon-reload")),
            Step((*user, "enable", "--now", unit)),
        ),
        stop=(Step((*user, "disable", "--now", unit)),),
        after_remove=(Step((*user, "daemon-reload"), required=False),),
        status=Step((*user, "status", unit, "--no-pager", "--lines=10"), frozenset({0, 3})),
        probe=Step((*user, "cat", unit)),
        is_running=_systemd_running,
        log_hint="journalctl --user -u mvsepd -f",
        notes=("to start it at boot, before you log in: loginctl enable-linger " + host.user,),
    )


def _systemd_system(host: Host, config: Path | None, run_as: str | None) -> Plan:
    user = run_as or _invoking_user(host)
    home = _home_of(user)
    if config is None:
        config_path = home / ".config" / "mvsepd" / "config.yaml"
        in_unit: str = systemd.SYSTEM_DEFAULT_CONFIG
    else:
        config_path = _absolute(config)
        in_unit = str(config_path)
    spec = ServiceSpec(program=host.program, config=in_unit)
    text = systemd.system_template(spec)
    instance = f"mvsepd@{user}.service"
    notes = []
    if user == "root":
        notes.append(
            "it runs as root; a named user (--run-as NAME) is safer and keeps its state "
            "where that user's `mvsepd status` finds it"
        )
    return Plan(
        platform="linux",
        scope="system",
        tool="systemctl",
        name=instance,
        file=host.system_unit_dir / systemd.SYSTEM_TEMPLATE_NAME,
        content=text.encode("utf-8"),
        preview=text,
        config=config_path,
        token_file=home / ".config" / "mvsepd" / "token",
        install=(
            Step(("systemctl", "daemon-reload")),
            Step(("systemctl", "enable", "--now", instance)),
        ),
        stop=(Step(("systemctl", "disable", "--now", instance)),),
        after_remove=(Step(("systemctl", "daemon-reload"), required=False),),
        status=Step(
            ("systemctl", "status", instance, "--no-pager", "--lines=10"), frozenset({0, 3})
        ),
        probe=Step(("systemctl", "cat", systemd.SYSTEM_TEMPLATE_NAME)),
        is_running=_systemd_running,
        log_hint=f"journalctl -u mvsepd@{user} -f",
        notes=tuple(notes),
        needs_root=True,
        local_daemon=user == host.user,
    )


def _invoking_user(host: Host) -> str:
    # Under sudo, the service is for the person who typed the command, not for root.
    sudo_user = host.environ.get("SUDO_USER", "")
    if host.is_root and sudo_user and sudo_user != "root":
        return sudo_user
    return host.user


def _home_of(user: str) -> Path:
    import pwd  # POSIX only; this path is only taken on Linux

    try:
        return Path(pwd.getpwnam(user).pw_dir)
    except KeyError:
        raise ServiceError(f"there is no user named {user!r} on this machine") from None


def _launchd(host: Host, config: Path | None) -> Plan:
    config_path = _absolute(config or host.paths.config_file)
    spec = ServiceSpec(program=host.program, config=str(config_path))
    log_path = host.paths.log_dir / "agent.log"
    data = launchd.plist_bytes(launchd.agent_plist(spec, log_path=str(log_path)))
    file = host.launch_agents_dir / launchd.PLIST_NAME
    domain = f"gui/{host.uid}"
    target = f"{domain}/{launchd.LABEL}"
    # A script's shebang runs the interpreter: privacy grants must name the real binary.
    interpreter = os.path.realpath(host.interpreter or host.program[0])

    def running(result: CommandResult) -> bool | None:
        if result.returncode != 0:
            return False
        return "state = running" in result.stdout

    return Plan(
        platform="darwin",
        scope="user",
        tool="launchctl",
        name=launchd.LABEL,
        file=file,
        content=data,
        preview=data.decode("utf-8"),
        config=config_path,
        token_file=host.paths.token_file,
        install=(
            Step(("launchctl", "enable", target)),
            Step(("launchctl", "bootstrap", domain, str(file))),
        ),
        # 3 (no such process) and 113 (could not find service): it was not loaded.
        stop=(Step(("launchctl", "bootout", target), frozenset({0, 3, 113})),),
        after_remove=(),
        status=Step(("launchctl", "print", target), frozenset({0, 113})),
        probe=Step(("launchctl", "print", target)),
        is_running=running,
        log_hint=f"tail -f {shlex.quote(str(log_path))}",
        notes=(
            launchd.FULL_DISK_ACCESS_NOTE,
            f"the program to allow: {interpreter}",
        ),
        directories=(log_path.parent,),
    )


def _task_scheduler(host: Host, config: Path | None) -> Plan:
    config_path = _absolute(config or host.paths.config_file)
    spec = ServiceSpec(program=host.program, config=str(config_path), log_file=True)
    data = taskxml.task_xml(spec, user_id=host.windows_user_id)
    file = host.manifest_dir / "mvsepd-task.xml"
    name = taskxml.TASK_NAME
    notes = []
    if not Path(host.program[0]).name.lower().startswith("pythonw"):
        notes.append(
            f"{host.program[0]} opens a console window at logon (no pythonw.exe next to it)"
        )
    return Plan(
        platform="windows",
        scope="user",
        tool="schtasks",
        name=name,
        file=file,
        content=data,
        preview=taskxml.task_xml(spec, user_id=host.windows_user_id, encoding="UTF-8").decode(),
        config=config_path,
        token_file=host.paths.token_file,
        install=(
            Step(("schtasks", "/Create", "/TN", name, "/XML", str(file))),
            Step(("schtasks", "/Run", "/TN", name)),
        ),
        # /End answers an error when the task is not running; that is fine.
        stop=(
            Step(("schtasks", "/End", "/TN", name), required=False),
            Step(("schtasks", "/Delete", "/TN", name, "/F")),
        ),
        after_remove=(),
        status=Step(("schtasks", "/Query", "/TN", name, "/V", "/FO", "LIST"), frozenset({0, 1})),
        probe=Step(("schtasks", "/Query", "/TN", name)),
        # schtasks words its status in the system language: existence is all that is certain.
        is_running=lambda result: None if result.returncode == 0 else False,
        log_hint=str(host.paths.log_file),
        notes=tuple(notes),
    )

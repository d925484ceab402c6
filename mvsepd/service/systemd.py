"""systemd units for mvsepd: the user unit (desktops) and the system template (headless hosts).

Pure text renderers. Both units are ``Type=notify``: the daemon says READY=1 after its first
scan, pings WATCHDOG=1 from the engine loop at half of ``WatchdogSec`` (a hung engine is killed
and restarted) and says STOPPING=1 when it stops. Exit status 78 (broken configuration) and 75
(another daemon already runs) end the unit instead of a restart loop. Only hardening that keeps
every folder the user can reach readable and writable is switched on; the rest is written out,
commented, with the reason.
"""

from __future__ import annotations

from mvsepd.exits import ExitStatus
from mvsepd.service.spec import ServiceSpec, UnitText

USER_UNIT_NAME = "mvsepd.service"
SYSTEM_TEMPLATE_NAME = "mvsepd@.service"

#: Seconds without a WATCHDOG=1 ping before systemd kills and restarts the daemon.
WATCHDOG_SECONDS = 60
RESTART_SECONDS = 5
START_LIMIT_INTERVAL_SECONDS = 300
START_LIMIT_BURST = 5
#: The first scan of large or network folders happens before READY=1.
START_TIMEOUT_SECONDS = 300
#: The daemon stops within about ten seconds; past this systemd kills it (jobs still resume).
STOP_TIMEOUT_SECONDS = 20
#: Exit statuses after which a restart cannot help.
NO_RESTART_STATUSES = (int(ExitStatus.CONFIG), int(ExitStatus.ALREADY_RUNNING))


def exec_word(value: str) -> str:
    """Quote one word of an ``ExecStart=`` line.

    A literal value has ``%`` and ``$`` doubled (systemd would expand them); a ``UnitText`` keeps
    them. Words with spaces, quotes or backslashes are double-quoted with C-style escapes.
    """
    if any(ord(character) < 32 for character in value):
        raise ValueError(f"a control character cannot go into a systemd unit: {value!r}")
    text = str(value)
    if not isinstance(value, UnitText):
        text = text.replace("%", "%%").replace("$", "$$")
    if not text or any(character.isspace() or character in "\"'\\;" for character in text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def exec_line(spec: ServiceSpec) -> str:
    """The ``ExecStart=`` value for ``spec``."""
    return " ".join(exec_word(word) for word in spec.command())


def _environment_lines(spec: ServiceSpec) -> list[str]:
    # Environment= expands specifiers but not $VARIABLES: only % is doubled here.
    lines = []
    for name, value in spec.environment:
        assignment = f"{name}={value}"
        if any(ord(character) < 32 for character in assignment):
            raise ValueError(f"a control character cannot go into a systemd unit: {name}")
        assignment = assignment.replace("%", "%%")
        if any(character.isspace() or character in "\"'\\" for character in assignment):
            assignment = '"' + assignment.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"Environment={assignment}")
    return lines


def _service_section(spec: ServiceSpec, *, user: str | None) -> list[str]:
    no_restart = " ".join(str(status) for status in NO_RESTART_STATUSES)
    lines = [
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
    ]
    if user is not None:
        lines.append(f"User={user}")
    lines += [
        f"ExecStart={exec_line(spec)}",
        "# `systemctl reload`: the configuration read again and applied without a restart (a",
        "# change of the file is applied by itself; this is for a file a watch cannot see).",
        "ExecReload=/bin/kill -HUP $MAINPID",
        *_environment_lines(spec),
        "SyslogIdentifier=mvsepd",
        "# The daemon pings WATCHDOG=1 from its engine loop every WatchdogSec/2: a hung engine",
        "# stops the pings, and systemd kills and restarts it.",
        f"WatchdogSec={WATCHDOG_SECONDS}",
        "# READY=1 comes after the first scan of every hot folder (slow on large network shares).",
        f"TimeoutStartSec={START_TIMEOUT_SECONDS}",
        "# SIGTERM stops the daemon within about ten seconds, every job saved.",
        f"TimeoutStopSec={STOP_TIMEOUT_SECONDS}",
        "Restart=on-failure",
        f"RestartSec={RESTART_SECONDS}",
        "# 78: the configuration is broken (`mvsepd config check` lists why); 75: another mvsepd",
        "# already runs for this user. Restarting helps neither, so the unit stops with the reason",
        "# as its last journal line.",
        f"RestartPreventExitStatus={no_restart}",
        "",
        "# Hardening that leaves every folder the user can reach readable and writable.",
        "NoNewPrivileges=yes",
        "LockPersonality=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "SystemCallArchitectures=native",
    ]
    return lines


_COMMENTED_HARDENING = [
    "# Not switched on, because hot folders and their stem folders can be anywhere the user can",
    "# write (home, external drives, network shares). Enable them only together with",
    "# ReadWritePaths= listing every hot folder and the folder its stems go to:",
    "# ProtectSystem=strict makes the whole file system read-only except ReadWritePaths=.",
    "#ProtectSystem=strict",
    "# ProtectHome=read-only stops stems from being written next to hot folders in a home folder.",
    "#ProtectHome=read-only",
    '#ReadWritePaths=/srv/audio/Exports "/srv/audio/Exports stems"',
    "# PrivateTmp=yes hides hot folders under /tmp.",
    "#PrivateTmp=yes",
    "# MemoryDenyWriteExecute=yes can break the cffi/ctypes callbacks of audio libraries.",
    "#MemoryDenyWriteExecute=yes",
    "# UMask=0077 makes stems unreadable to others sharing the output folder.",
    "#UMask=0077",
]


def user_unit(spec: ServiceSpec) -> str:
    """The systemd user unit ``mvsepd.service`` (``~/.config/systemd/user``)."""
    lines = [
        "# mvsepd: hot folders for MVSEP, as a systemd user service (desktops: it runs as you,",
        "# sees your folders and drives, and starts when you log in).",
        "# `mvsepd service install` writes it to ~/.config/systemd/user/mvsepd.service and runs",
        "#   systemctl --user daemon-reload && systemctl --user enable --now mvsepd.service",
        "# Log: journalctl --user -u mvsepd -f    Status: systemctl --user status mvsepd",
        "# Start at boot, before you log in: loginctl enable-linger $USER",
        "",
        "[Unit]",
        "Description=mvsepd: MVSEP hot folders",
        f"StartLimitIntervalSec={START_LIMIT_INTERVAL_SECONDS}",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        *_service_section(spec, user=None),
        *_COMMENTED_HARDENING,
        "",
        "[Install]",
        "WantedBy=default.target",
    ]
    return "\n".join(lines) + "\n"


def system_template(spec: ServiceSpec) -> str:
    """The system unit template ``mvsepd@.service``: instance ``mvsepd@alice`` runs as alice."""
    lines = [
        "# mvsepd: hot folders for MVSEP, as a system service for headless hosts.",
        "# The instance name is the user it runs as: mvsepd@alice.service runs as alice, with",
        "# alice's configuration, token and state. On a desktop use the user unit instead.",
        "# `mvsepd service install --system` writes it to /etc/systemd/system/mvsepd@.service",
        "# and runs: systemctl daemon-reload && systemctl enable --now mvsepd@<user>.service",
        "# Log: journalctl -u mvsepd@<user> -f    Status: systemctl status mvsepd@<user>",
        "",
        "[Unit]",
        "Description=mvsepd: MVSEP hot folders for %i",
        "Wants=network-online.target",
        "After=network-online.target",
        f"StartLimitIntervalSec={START_LIMIT_INTERVAL_SECONDS}",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        *_service_section(spec, user="%i"),
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectHostname=yes",
        "RestrictNamespaces=yes",
        *_COMMENTED_HARDENING,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


#: The configuration the system template reads when none is given: the instance user's own.
SYSTEM_DEFAULT_CONFIG = UnitText("${HOME}/.config/mvsepd/config.yaml")
#: The same for the user unit (``%h`` is the user's home in a user unit).
USER_DEFAULT_CONFIG = UnitText("%h/.config/mvsepd/config.yaml")

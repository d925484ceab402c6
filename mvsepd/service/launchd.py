"""The macOS LaunchAgent for mvsepd: a property list for ``~/Library/LaunchAgents``.

Pure renderers: ``agent_plist`` builds the dictionary, ``plist_bytes`` the XML file (plistlib,
plus a comment with the Full Disk Access note, which plistlib ignores when reading). The agent
starts at login (``RunAtLoad``), is started again only after an unsuccessful exit
(``KeepAlive`` / ``SuccessfulExit`` false) and at most every ``ThrottleInterval`` seconds, and
launchd writes the daemon's stdout and stderr (JSON lines) to the log file.
"""

from __future__ import annotations

import plistlib
import textwrap
from typing import Any

from mvsepd.service.spec import ServiceSpec

LABEL = "com.mvsepd.agent"
PLIST_NAME = f"{LABEL}.plist"
#: launchd starts a job that exited non-zero again at most this often (a broken configuration
#: has no "do not restart" status here, so this bounds how often it tries).
THROTTLE_SECONDS = 30
#: Seconds between SIGTERM and SIGKILL when the agent is stopped; the daemon needs about ten.
EXIT_TIMEOUT_SECONDS = 20

FULL_DISK_ACCESS_NOTE = (
    "macOS privacy protection (TCC): an agent cannot read Desktop, Documents, Downloads, "
    "iCloud Drive, removable or network volumes until its program is allowed to. Add the "
    "Python interpreter that runs mvsepd (the real file, not a venv's symlink) in System "
    "Settings > Privacy & Security > Full Disk Access, then restart the agent."
)


def agent_plist(spec: ServiceSpec, *, log_path: str) -> dict[str, Any]:
    """The LaunchAgent's dictionary; stdout and stderr both go to ``log_path``."""
    return {
        "Label": LABEL,
        "ProgramArguments": list(spec.command()),
        "EnvironmentVariables": dict(spec.environment),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": THROTTLE_SECONDS,
        "ExitTimeOut": EXIT_TIMEOUT_SECONDS,
        "StandardOutPath": log_path,
        "StandardErrorPath": log_path,
    }


def plist_bytes(plist: dict[str, Any]) -> bytes:
    """The property list as an XML file, with a comment saying what it is and the TCC note."""
    document = plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=False)
    note = textwrap.fill(FULL_DISK_ACCESS_NOTE, 94, initial_indent="  ", subsequent_indent="  ")
    agents = "~/Library/LaunchAgents"
    comment = "\n".join(
        [
            "<!--",
            "  mvsepd: hot folders for MVSEP, as a launchd LaunchAgent (runs as you, at login).",
            f"  `mvsepd service install` writes it to {agents}/{PLIST_NAME} and runs",
            f"    launchctl bootstrap gui/$(id -u) {agents}/{PLIST_NAME}",
            f"  Log: the StandardErrorPath file.  Status: launchctl print gui/$(id -u)/{LABEL}",
            note,
            "-->",
            "",
        ]
    ).encode()
    marker = b"<plist "
    position = document.index(marker)
    return document[:position] + comment + document[position:]

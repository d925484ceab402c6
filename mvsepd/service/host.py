"""The machine a service is installed on: platform, user, directories, and how tools are run.

``Host.current()`` describes this machine. Everything the installer touches goes through it:
target directories, the program found on PATH (``which``), and the ``runner`` that executes a
platform tool (a fixed argument list, never a shell). Tests build a ``Host`` whose directories
are temporary and whose runner records commands instead of running them.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mvsepd.paths import AppPaths, app_paths
from mvsepd.service.spec import current_program

#: Seconds a platform tool may take (``systemctl enable --now`` waits for READY=1).
TOOL_TIMEOUT_SECONDS = 330.0


@dataclass(frozen=True)
class CommandResult:
    """What a platform tool answered."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    def output(self) -> str:
        """The tool's words, stderr first (where tools explain failures)."""
        return "\n".join(part.strip() for part in (self.stderr, self.stdout) if part.strip())


Runner = Callable[[Sequence[str]], CommandResult]


def run_tool(argv: Sequence[str]) -> CommandResult:
    """Run a platform tool with a fixed argument list (no shell) and capture its answer."""
    try:
        completed = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        return CommandResult(127, "", f"{argv[0]}: not found")
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{argv[0]}: no answer within {TOOL_TIMEOUT_SECONDS:.0f} s")
    return CommandResult(completed.returncode, completed.stdout, completed.stderr)


def platform_name(value: str | None = None) -> str:
    """``linux``, ``darwin``, ``windows``, or the raw ``sys.platform`` for anything else."""
    raw = value if value is not None else sys.platform
    if raw.startswith("linux"):
        return "linux"
    if raw == "darwin":
        return "darwin"
    if raw in ("win32", "cygwin"):
        return "windows"
    return raw


@dataclass(frozen=True)
class Host:
    """One user on one machine, as far as installing a service is concerned."""

    platform: str
    environ: Mapping[str, str]
    home: Path
    user: str
    uid: int | None
    is_root: bool
    paths: AppPaths
    program: tuple[str, ...]
    #: The Python interpreter behind ``program`` (macOS privacy grants name this binary).
    interpreter: str = ""
    runner: Runner = run_tool
    which: Callable[[str], str | None] = shutil.which
    system_unit_dir: Path = Path("/etc/systemd/system")

    @classmethod
    def current(cls, runner: Runner = run_tool) -> Host:
        """This machine, this user, this installation of mvsepd."""
        platform = platform_name()
        uid = os.getuid() if hasattr(os, "getuid") else None
        return cls(
            platform=platform,
            environ=dict(os.environ),
            home=Path.home(),
            user=getpass.getuser(),
            uid=uid,
            is_root=uid == 0,
            paths=app_paths(),
            program=current_program(platform),
            interpreter=os.path.abspath(sys.executable) if sys.executable else "",
            runner=runner,
        )

    @property
    def manifest_dir(self) -> Path:
        """Where install records what it wrote (the user's state folder)."""
        return self.paths.state_dir / "service"

    @property
    def user_unit_dir(self) -> Path:
        """``$XDG_CONFIG_HOME/systemd/user``, where the systemd user manager finds units."""
        base = self.environ.get("XDG_CONFIG_HOME") or str(self.home / ".config")
        return Path(base) / "systemd" / "user"

    @property
    def launch_agents_dir(self) -> Path:
        """``~/Library/LaunchAgents``."""
        return self.home / "Library" / "LaunchAgents"

    @property
    def windows_user_id(self) -> str:
        """``DOMAIN\\user`` as Task Scheduler names the user."""
        domain = self.environ.get("USERDOMAIN", "")
        return f"{domain}\\{self.user}" if domain else self.user

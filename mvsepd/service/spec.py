"""What a service definition is made of, independent of the platform that runs it.

``ServiceSpec`` holds the explicit inputs every renderer takes: how to start mvsepd (a script or
``python -m mvsepd``), the configuration file, the environment, the log files. ``UnitText`` marks
a value that a systemd unit must keep verbatim (``%h/...``, ``${HOME}/...``) instead of escaping
it as a literal path. ``current_program`` finds how the running installation is started.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

#: The environment every generated service sets: log lines reach journald/launchd at once.
DEFAULT_ENVIRONMENT: tuple[tuple[str, str], ...] = (("PYTHONUNBUFFERED", "1"),)


class UnitText(str):
    """Text a systemd unit keeps as written: specifiers (``%h``) and ``${VAR}`` stay live."""

    __slots__ = ()


@dataclass(frozen=True)
class ServiceSpec:
    """The inputs of one service definition.

    ``program`` is the command that starts mvsepd, absolute: ``("/usr/local/bin/mvsepd",)`` or
    ``("/usr/bin/python3", "-m", "mvsepd")``. ``config`` is the configuration file passed with
    ``--config``. ``log_file`` adds ``--log-file`` (the rotating file in the user log folder),
    for platforms whose service manager does not keep stdout/stderr.
    """

    program: tuple[str, ...]
    config: str
    environment: tuple[tuple[str, str], ...] = DEFAULT_ENVIRONMENT
    log_file: bool = False

    def __post_init__(self) -> None:
        if not self.program or not self.program[0]:
            raise ValueError("a service needs the program that starts mvsepd")

    def run_arguments(self) -> tuple[str, ...]:
        """The arguments after the program: ``run --config <file> [--log-file] --json-logs``."""
        arguments: list[str] = [*self.program[1:], "run", "--config", self.config]
        if self.log_file:
            arguments.append("--log-file")
        arguments.append("--json-logs")
        return tuple(arguments)

    def command(self) -> tuple[str, ...]:
        """The whole command line, program first."""
        return (self.program[0], *self.run_arguments())


def current_program(platform: str, executable: str | None = None) -> tuple[str, ...]:
    """Return how this installation of mvsepd is started, with absolute paths.

    The ``mvsepd`` script next to the interpreter when there is one (a venv, pipx, a system
    install); otherwise ``<interpreter> -m mvsepd``. On Windows ``pythonw.exe -m mvsepd``, so a
    task started at logon opens no console window. The interpreter path is made absolute but not
    resolved: resolving a venv's ``python`` symlink would leave the venv.
    """
    interpreter = executable if executable is not None else sys.executable
    if not interpreter:
        raise ValueError("the Python interpreter running mvsepd is unknown (sys.executable)")
    python = Path(os.path.abspath(interpreter))
    if platform == "windows":
        windowless = python.with_name("pythonw.exe")
        chosen = windowless if windowless.is_file() else python
        return (str(chosen), "-m", "mvsepd")
    script = python.with_name("mvsepd")
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    return (str(python), "-m", "mvsepd")

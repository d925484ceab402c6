"""Helpers of the service tests: a recording runner, hosts in temporary folders, the CLI,
``systemd-analyze verify``, and a service manager's notify socket."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mvsepd.cli import cli
from mvsepd.paths import AppPaths
from mvsepd.service import CommandResult, Host

#: A real executable (the venv's ``mvsepd`` script): verify checks ExecStart exists.
MVSEPD_SCRIPT = Path(sys.executable).with_name("mvsepd")

VALID_CONFIG = """
account:
  token_file: "{token_file}"
presets:
  vocals:
    sep_type: 48
    output_format: wav16
folders:
  - path: "{hot}"
    preset: vocals
"""


@dataclass
class RecordingRunner:
    """Records every tool command instead of running it; answers from a script.

    ``answers`` maps an argument-list prefix to the result; the longest matching prefix wins;
    anything else answers exit 0.
    """

    answers: dict[tuple[str, ...], CommandResult] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        command = tuple(argv)
        self.calls.append(command)
        matches = [prefix for prefix in self.answers if command[: len(prefix)] == prefix]
        if matches:
            return self.answers[max(matches, key=len)]
        return CommandResult(0)


def app_paths_in(base: Path) -> AppPaths:
    return AppPaths(
        config_dir=base / "config",
        state_dir=base / "state",
        cache_dir=base / "cache",
        log_dir=base / "log",
        runtime_dir=base / "run",
    )


def make_host(
    base: Path,
    runner: RecordingRunner,
    *,
    platform: str = "linux",
    is_root: bool = False,
    user: str = "alice",
    tools: bool = True,
) -> Host:
    """A host whose every directory is under ``base`` and whose tools are recorded."""
    home = base / "home"
    return Host(
        platform=platform,
        environ={"XDG_CONFIG_HOME": str(home / ".config"), "USERDOMAIN": "DESKTOP"},
        home=home,
        user=user,
        uid=0 if is_root else 501,
        is_root=is_root,
        paths=app_paths_in(base / "app"),
        program=(str(MVSEPD_SCRIPT),),
        interpreter=sys.executable,
        runner=runner,
        which=(lambda name: f"/usr/bin/{name}") if tools else (lambda name: None),
        system_unit_dir=base / "etc" / "systemd" / "system",
    )


def write_config(directory: Path, *, token: bool = True) -> Path:
    """A valid configuration (token in a file unless ``token`` is False) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    token_file = directory / "token"
    if token:
        token_file.write_text("abcdefghijklmnop\n", encoding="utf-8")
    hot = directory / "Hot folder"
    hot.mkdir(exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(VALID_CONFIG.format(token_file=token_file, hot=hot), encoding="utf-8")
    config.chmod(0o600)
    return config


def invoke(
    capsys: pytest.CaptureFixture[str], arguments: list[str], host: Host
) -> tuple[int, str, str]:
    """Run ``mvsepd <arguments>`` in-process with ``host``; return status, stdout, stderr."""
    capsys.readouterr()
    status = 0
    try:
        cli.main(args=arguments, prog_name="mvsepd", obj={"service_host": host})
    except SystemExit as exit_request:
        code = exit_request.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def tree(base: Path) -> dict[str, bytes]:
    """Every file under ``base`` with its content (to prove nothing changed)."""
    return {
        str(path.relative_to(base)): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip(
            "systemd-analyze is missing: install Debian's `systemd` package "
            "(scripts/test installs it) to verify the generated units"
        )
    return found


def verify_unit(unit: Path, *, user: bool, runtime_dir: Path) -> str:
    """Run ``systemd-analyze [--user] verify`` on ``unit``; fail on any complaint about it.

    ``verify`` exits 0 even for unknown keys, so every line that names the unit counts as a
    complaint too.
    """
    command = [systemd_analyze(), *(["--user"] if user else []), "verify", str(unit)]
    runtime_dir.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, XDG_RUNTIME_DIR=str(runtime_dir), SYSTEMD_LOG_COLOR="0")
    completed = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=60, check=False
    )
    words = (completed.stdout + completed.stderr).strip()
    assert completed.returncode == 0, f"systemd-analyze verify {unit.name}: {words}"
    complaints = [line for line in words.splitlines() if unit.name in line or str(unit) in line]
    assert not complaints, f"systemd-analyze verify {unit.name}: {words}"
    return words


def unit_settings(text: str) -> dict[str, list[tuple[str, str]]]:
    """Section -> (key, value) pairs of a unit file, comments dropped."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"setting outside a section: {line}"
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def setting(sections: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    values = [value for name, value in sections.get(section, []) if name == key]
    assert len(values) == 1, f"[{section}] {key}: {values}"
    return values[0]


@contextlib.contextmanager
def notify_receiver(timeout: float) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET, and its path; each receive
    waits at most ``timeout`` seconds."""
    # A short private folder: a Unix socket path must fit in about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="mvsepd-sd-") as directory:
        path = str(Path(directory) / "notify")
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.bind(path)
        receiver.settimeout(timeout)
        try:
            yield receiver, path
        finally:
            receiver.close()

"""Shared parts of the security checks: a recognisable token, running ``mvsepd`` commands, the
status API over raw HTTP, and a transcript of every text a run produced.

The token is recognisable on purpose (``SeCrEtToKeN`` and digits, 30 characters like MVSEP's):
grepping for it, and for its ``SeCrEtToKeN`` marker alone, finds the whole token and any
long piece of it.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.support import Setup

MARKER = "SeCrEtToKeN"


def recognisable_token(number: int) -> str:
    """A 30-character token made of the marker and digits (MVSEP tokens are 30 characters)."""
    token = f"{MARKER}{number:019d}"
    assert len(token) == 30
    return token


def mode(path: Path) -> int:
    """The permission bits of ``path`` (0o600, 0o700, ...)."""
    return stat.S_IMODE(os.stat(path).st_mode)


def mvsepd(
    setup: Setup, *arguments: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mvsepd ARGUMENTS`` with the test's directories and token."""
    return subprocess.run(
        [sys.executable, "-m", "mvsepd", *arguments],
        env=setup.environment(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Answer:
    """One answer of the status API."""

    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def status_request(
    host: str,
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Answer:
    """Send one request to the status API on ``host:port`` and return its answer."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, headers={"Content-Length": "0", **(headers or {})})
        response = connection.getresponse()
        return Answer(response.status, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


@dataclass
class Transcript:
    """Every text a run produced, by where it was seen (a log file, a command's output, ...)."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, source: str, text: str) -> None:
        self.texts[source] = self.texts.get(source, "") + text

    def add_files_below(self, root: Path, *, label: str) -> None:
        """Add every file below ``root`` (logs, stores, manifests: bytes read as text)."""
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                text = path.read_bytes().decode("utf-8", "replace")
                self.add(f"{label}: {path.relative_to(root)}", text)

    def showing(self, secret: str) -> list[str]:
        """The sources whose text holds ``secret``."""
        return sorted(source for source, text in self.texts.items() if secret in text)

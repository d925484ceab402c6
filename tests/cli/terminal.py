"""A real subprocess on a real pseudo-terminal of a given width: what a producer's terminal
shows, escape codes removed."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    """``python -m mvsepd ARGS`` with a terminal of ``columns`` for stdin, stdout and stderr."""

    def __init__(
        self, arguments: Sequence[str], *, columns: int = 80, env: dict[str, str] | None = None
    ) -> None:
        main, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        environment = {**(env if env is not None else os.environ), "COLUMNS": str(columns)}
        environment.pop("NO_COLOR", None)
        environment.setdefault("TERM", "xterm-256color")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mvsepd", *arguments],
            stdin=child,
            stdout=child,
            stderr=child,
            env=environment,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(child)
        self._main = main
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._main, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def text(self) -> str:
        """Everything shown so far, without escape codes, with plain newlines."""
        raw = b"".join(self._chunks).decode("utf-8", errors="replace")
        return _ESCAPES.sub("", raw).replace("\r\n", "\n").replace("\r", "\n")

    def type(self, text: str) -> None:
        """Type (or paste) ``text`` at the terminal."""
        os.write(self._main, text.encode("utf-8"))

    def screen(self) -> str:
        """What is left on the screen: lines written over (cursor up, erase line) are gone."""
        raw = b"".join(self._chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
        rows, row = [""], 0
        for piece in re.split(r"(\x1b\[[0-9;?]*[A-Za-z]|\n)", raw):
            if piece == "\n":
                row += 1
                if row == len(rows):
                    rows.append("")
            elif piece == "\x1b[1A":
                row = max(0, row - 1)
            elif piece == "\x1b[2K":
                rows[row] = ""
            elif not piece.startswith("\x1b"):
                rows[row] += piece.replace("\r", "")
        return "\n".join(rows)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.text().splitlines() if line.strip()]

    def wait_for(self, predicate: Callable[[str], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.text()):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(
            f"no {what} within {timeout:.0f} s; the terminal shows:\n{self.text()}"
        )

    def finish(self, timeout: float = 30) -> int:
        """Wait for the command to end (it is killed after ``timeout``); its exit status."""
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self._reader.join(timeout=5)
        os.close(self._main)
        return status


def show(arguments: Sequence[str], *, columns: int = 80, env: dict[str, str] | None = None) -> str:
    """Run a command that ends by itself on a terminal; what it showed."""
    terminal = Terminal(arguments, columns=columns, env=env)
    status = terminal.finish()
    assert status == 0, terminal.text()
    return terminal.text()

"""``FileLiveConfig``: a ``LiveConfig`` for the page's tests, until the daemon's own arrives.

Honest as far as it goes: a saved text is checked by ``mvsepd.config.file.inspect_config`` (the
file's own checks of ``mvsepd config check``: syntax, schema, the rules across keys, each
problem with its line), written atomically with its mode kept, and then it is the text in
force; the change feed is bumped, so an open page sees it. A file changed on disk into
something that does not pass is reported refused, the text in force staying. Signing in asks
MVSEP (the emulator) who the token belongs to and stores it 0600 where ``mvsepd login`` does.

What it does not do is the daemon's part: the engine is not reconfigured (a folder added is
not watched until the daemon's own ``LiveConfig`` does that).
"""

from __future__ import annotations

import threading
from pathlib import Path

from mvsepd.api import MvsepClient
from mvsepd.config.file import inspect_config, write_private_file
from mvsepd.config.write import write_text
from mvsepd.engine.feed import ChangeFeed
from mvsepd.errors import ConfigError, ConfigProblem
from mvsepd.models import Secret
from mvsepd.process.settings import ConfigState, SaveOutcome


class FileLiveConfig:
    """The configuration file at ``path`` (see the module)."""

    def __init__(self, path: Path, *, token_file: Path, server: str, feed: ChangeFeed) -> None:
        self.path = path
        self.token_file = token_file
        self.server = server
        self.feed = feed
        self._lock = threading.Lock()
        self._text = path.read_text(encoding="utf-8")
        self.saves = 0
        self.tokens: list[str] = []

    def state(self) -> ConfigState:
        on_disk = self.path.read_text(encoding="utf-8")
        with self._lock:
            if on_disk == self._text:
                return ConfigState(self.path, self._text)
            problems = _problems(on_disk, str(self.path))
            if not problems:
                self._text = on_disk
                return ConfigState(self.path, on_disk)
            return ConfigState(self.path, self._text, problems, 0.0)

    def save(self, text: str) -> SaveOutcome:
        problems = _problems(text, str(self.path))
        if problems:
            return SaveOutcome(False, problems)
        with self._lock:
            write_text(self.path, text)
            self._text = text
            self.saves += 1
        self.feed.bump()
        return SaveOutcome(True)

    def sign_in(self, token: Secret) -> None:
        with MvsepClient(token, self.server) as client:
            client.user()  # InvalidTokenError when MVSEP does not know it: nothing stored
        write_private_file(self.token_file, token.reveal() + "\n")
        self.tokens.append(token.reveal())
        self.feed.bump()


def _problems(text: str, source: str) -> tuple[ConfigProblem, ...]:
    try:
        return inspect_config(text, source).problems
    except ConfigError as error:
        return error.items

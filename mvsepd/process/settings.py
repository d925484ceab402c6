"""The daemon's configuration at run time, as the page and the status API see it: the file in
force, a change refused with its problems, saving a new text, signing in with a new token.

``LiveConfig`` is the seam between the daemon (which applies a configuration without a
restart) and the entry layer's page (which edits it): the page asks for the text in force,
changes it with ``mvsepd.config.write``'s round-trip edits (the user's comments and order kept),
and hands the new text to ``save``, which checks it exactly as ``mvsepd config check`` does,
writes it whole or not at all, and applies it at once; a text that does not pass is refused
with the same problems (line and key) and the configuration in force stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mvsepd.errors import ConfigProblem
from mvsepd.models import Secret


@dataclass(frozen=True)
class ConfigState:
    """The configuration as the daemon holds it."""

    #: The file it was read from.
    path: Path
    #: The text in force (what an edit starts from). Not in the repr: it may hold a token.
    text: str = field(repr=False)
    #: When the file on disk was changed into something that does not pass: its problems, and
    #: when that was seen (the text in force stays the last that passed). Empty when in force.
    refused: tuple[ConfigProblem, ...] = ()
    refused_at: float | None = None


@dataclass(frozen=True)
class SaveOutcome:
    """What saving a new configuration text did."""

    applied: bool
    #: Why it was refused: each problem with its line, as ``mvsepd config check`` says it.
    problems: tuple[ConfigProblem, ...] = field(default=())


class LiveConfig(Protocol):
    """The daemon's configuration, changed without a restart (see the module docstring)."""

    def state(self) -> ConfigState:
        """The file in force and any refused change of it."""
        ...

    def save(self, text: str) -> SaveOutcome:
        """Check ``text`` as ``config check`` does; if it passes, write the file atomically (its
        mode kept) and apply it now: folders added are watched, removed ones let go, changed
        ones take their new settings; a preset change applies to jobs not yet uploaded."""
        ...

    def sign_in(self, token: Secret) -> None:
        """Store an API token where ``mvsepd login`` stores it (mode 0600) and use it from now
        on. Raise InvalidTokenError when MVSEP refuses it (nothing is stored then)."""
        ...

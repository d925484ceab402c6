"""Saving a change of the configuration from the page: the text in force, edited in place
(``mvsepd.config.write.ConfigEdit``), handed to the daemon's ``LiveConfig``, which checks it as
``mvsepd config check`` does and applies it, or refuses it with the problems (line and key).

Nothing is saved over a file that was changed meanwhile (the form carries a fingerprint of
the text it was made from), nor while the file on disk is one the daemon refused (the user is
editing it; the page would overwrite that work).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mvsepd.errors import ConfigError, ConfigProblem
from mvsepd.page.host import PageHost

if TYPE_CHECKING:
    from mvsepd.config.write import ConfigEdit

#: Words for a daemon that cannot change its configuration while it runs.
NO_LIVE_CONFIG = (
    "this daemon cannot change its configuration while it runs: edit the file and restart mvsepd"
)


@dataclass(frozen=True)
class Saved:
    """What saving did: applied, or the problems that kept it from being saved."""

    applied: bool
    problems: tuple[ConfigProblem, ...] = ()
    #: What the edit returned (the index of a folder added).
    result: object = None


def fingerprint(text: str) -> str:
    """A short fingerprint of a configuration text (the form's "made from")."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def current_fingerprint(host: PageHost) -> str:
    state = host.config_state()
    return fingerprint(state.text) if state is not None else ""


def refusal(host: PageHost) -> tuple[ConfigProblem, ...]:
    """The problems of the file on disk when the daemon refused it (empty: it is in force)."""
    state = host.config_state()
    return state.refused if state is not None else ()


def save(host: PageHost, made_from: str | None, change: Callable[[ConfigEdit], object]) -> Saved:
    """Apply ``change`` to the configuration in force and save it (see the module)."""
    live = host.live_config
    if live is None:
        return Saved(False, (ConfigProblem(NO_LIVE_CONFIG),))
    state = live.state()
    if state.refused:
        return Saved(
            False,
            (
                ConfigProblem(
                    f"{state.path} was changed on disk into something mvsepd refused; fix it "
                    "there first (its problems are listed above), so that saving here does not "
                    "overwrite it"
                ),
            ),
        )
    if made_from and made_from != fingerprint(state.text):
        return Saved(
            False,
            (
                ConfigProblem(
                    f"{state.path} changed since this page was shown (saved from another "
                    "window, or edited); nothing was saved: check the values below and save "
                    "again"
                ),
            ),
        )
    # ruamel.yaml is loaded by the first save, not by a daemon that is only looked at.
    from mvsepd.config.write import ConfigEdit

    try:
        edit = ConfigEdit(state.text, str(state.path))
        result = change(edit)
        text = edit.text()
    except ConfigError as error:
        return Saved(False, error.items)
    outcome = live.save(text)
    return Saved(outcome.applied, tuple(outcome.problems), result)

"""What a user most likely meant, and long lists of choices kept short, for error messages.

Leaf layer (the standard library's difflib only). ``did_you_mean`` finds the closest of the
accepted names for a misspelt one (case, spaces and punctuation ignored); ``some_of`` shows a
few of many choices, the likely ones first, so that a model with sixty options never makes a
900-character message.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

#: How alike two names must be (difflib's ratio) to be offered as "did you mean".
CUTOFF = 0.6
#: A start that matches counts a little less than a whole name that matches.
PREFIX_WEIGHT = 0.95
#: Choices listed in a message before "and N more".
SHOWN = 6

_NOISE = re.compile(r"[\s_\-.()/,:]+")


def _key(text: str) -> str:
    return _NOISE.sub(" ", text.casefold()).strip()


def close_matches(given: str, choices: Iterable[str], *, limit: int = 2) -> list[str]:
    """Return up to ``limit`` of ``choices`` that look most like ``given``, best first.

    A choice is compared whole and by its start: a misspelt start of a long model name
    ("melband roformr") is close to "MelBand Roformer (vocals, instrumental)".
    """
    wanted = _key(given)
    if not wanted:
        return []
    scored: dict[str, float] = {}
    for choice in choices:
        key = _key(choice)
        matcher = difflib.SequenceMatcher(None, wanted, key)
        score = matcher.ratio()
        if len(key) > len(wanted):
            start = difflib.SequenceMatcher(None, wanted, key[: len(wanted)]).ratio()
            score = max(score, start * PREFIX_WEIGHT)
        if score >= CUTOFF and score > scored.get(choice, 0.0):
            scored[choice] = score
    return sorted(scored, key=lambda choice: -scored[choice])[:limit]


def did_you_mean(given: str, choices: Iterable[str], *, quote: bool = True) -> str:
    """Return ``"did you mean 'x'?"`` (or ``'x' or 'y'``) for a misspelt name; "" when nothing
    is close."""
    matches = close_matches(given, choices)
    if not matches:
        return ""
    shown = [repr(match) if quote else match for match in matches]
    return f"did you mean {' or '.join(shown)}?"


def some_of(choices: Sequence[str], *, first: Iterable[str] = (), limit: int = SHOWN) -> str:
    """Return ``choices`` joined by commas, at most ``limit`` of them (``first`` put in front)
    with "and N more" for the rest."""
    ordered = list(dict.fromkeys([*(c for c in first if c in choices), *choices]))
    if len(ordered) <= limit:
        return ", ".join(ordered)
    return f"{', '.join(ordered[:limit])} and {len(ordered) - limit} more"

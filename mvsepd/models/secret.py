"""``Secret``: a string that never shows itself in a repr, a str(), a log line or a traceback."""

from __future__ import annotations

import hashlib


class Secret:
    """Holds a credential (the MVSEP API token, the status API token).

    ``str()``, ``repr()`` and f-strings all print ``'***'``; only ``reveal()`` gives the value,
    and only code that puts it on the wire calls it. Equality compares values so that configs
    can be compared, and ``fingerprint`` gives a short non-reversible id for log lines.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself; call only where it goes onto the wire or into a 0600 file."""
        return self._value

    @property
    def fingerprint(self) -> str:
        """A short SHA-256 prefix that identifies the secret without disclosing it."""
        return hashlib.sha256(self._value.encode("utf-8")).hexdigest()[:8]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Pickling is for multiprocessing only; it keeps the value but not in any printable form.
        return (Secret, (self._value,))

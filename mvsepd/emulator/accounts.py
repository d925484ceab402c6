"""Accounts: tokens, plans, credits and the profile flags, kept consistent across endpoints.

An account is premium for queueing, concurrency, model access and upload size when
``premium_enabled`` is set and it either has the premium plan or holds credits (MVSEP sells
premium as credits; ``premium_enabled=0`` means "do not spend my credits", i.e. the free queue)
[DOC-zh2 wording, INF]. Credits are charged only when ``premium_enabled`` and credits > 0.
Registration skips the verification e-mail: a registered account can log in at once [INF].
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable

from mvsepd.emulator.naming import format_datetime, new_token

PLANS = ("free", "premium")


@dataclasses.dataclass
class Account:
    """Mutable account record; only ``AccountStore`` changes it, under its lock."""

    id: int
    name: str
    email: str
    password_digest: str
    token: str
    plan: str
    credits: int
    premium_enabled: bool
    long_filenames: bool
    created_at: float
    updated_at: float
    copy_metadata: bool = False
    revoked: bool = False

    def __repr__(self) -> str:
        return f"Account(id={self.id}, email={self.email!r}, plan={self.plan!r})"

    @property
    def is_premium(self) -> bool:
        return self.premium_enabled and (self.plan == "premium" or self.credits > 0)

    @property
    def pays(self) -> bool:
        return self.premium_enabled and self.credits > 0

    def snapshot(self) -> AccountInfo:
        return AccountInfo(
            token=self.token,
            name=self.name,
            email=self.email,
            plan=self.plan,
            credits=self.credits,
            premium_enabled=self.premium_enabled,
            long_filenames=self.long_filenames,
            is_premium=self.is_premium,
            revoked=self.revoked,
        )

    def profile(self, current_queue: int | None = None) -> dict[str, object]:
        """The ``data`` object of login [REC] and user (plus ``current_queue``) [DOC-zh2]."""
        data: dict[str, object] = {
            "name": self.name,
            "email": self.email,
            "api_token": self.token,
            "created_at": format_datetime(self.created_at),
            "updated_at": format_datetime(self.updated_at),
            "premium_minutes": self.credits,
            "premium_enabled": int(self.premium_enabled),
            "long_filenames_enabled": int(self.long_filenames),
        }
        if current_queue is not None:
            data["current_queue"] = current_queue
            data["copy_metadata"] = int(self.copy_metadata)
        return data


@dataclasses.dataclass(frozen=True)
class AccountInfo:
    """A read-only copy of an account, handed to Python callers."""

    token: str
    name: str
    email: str
    plan: str
    credits: int
    premium_enabled: bool
    long_filenames: bool
    is_premium: bool
    revoked: bool


class AccountStore:
    """All accounts, by token and by e-mail. Thread-safe."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.lock = threading.RLock()
        self._by_token: dict[str, Account] = {}
        self._by_email: dict[str, Account] = {}
        self._next_id = 1

    def add(
        self,
        *,
        token: str | None = None,
        plan: str = "free",
        credits: int = 0,
        email: str | None = None,
        password: str | None = None,
        premium_enabled: bool | None = None,
        name: str | None = None,
    ) -> Account:
        """Create an account; ``premium_enabled`` defaults to True for premium, else False."""
        if plan not in PLANS:
            raise ValueError(f"plan must be one of {PLANS}, not {plan!r}")
        if credits < 0:
            raise ValueError("credits must not be negative")
        with self.lock:
            token = token or new_token()
            if token in self._by_token:
                raise ValueError("an account with this token already exists")
            account_id = self._next_id
            email = (email or f"user{account_id}@emulator.invalid").strip()
            if email.lower() in self._by_email:
                raise ValueError("an account with this e-mail already exists")
            now = self._clock()
            account = Account(
                id=account_id,
                name=name or f"user{account_id}",
                email=email,
                password_digest=_digest(password or token),
                token=token,
                plan=plan,
                credits=int(credits),
                premium_enabled=(plan == "premium") if premium_enabled is None else premium_enabled,
                long_filenames=False,
                created_at=now,
                updated_at=now,
            )
            self._next_id += 1
            self._by_token[token] = account
            self._by_email[email.lower()] = account
            return account

    def by_token(self, token: str | None) -> Account | None:
        """The account of a valid (known, not revoked) token."""
        if not token:
            return None
        with self.lock:
            account = self._by_token.get(token)
            return None if account is None or account.revoked else account

    def login(self, email: str, password: str) -> Account | None:
        with self.lock:
            account = self._by_email.get(email.strip().lower())
            if account is None or account.revoked or account.password_digest != _digest(password):
                return None
            return account

    def email_taken(self, email: str) -> bool:
        with self.lock:
            return email.strip().lower() in self._by_email

    def revoke(self, token: str) -> bool:
        """Make a token invalid from now on; False if it was unknown."""
        with self.lock:
            account = self._by_token.get(token)
            if account is None:
                return False
            account.revoked = True
            return True

    def set_flag(self, account: Account, flag: str, value: bool) -> None:
        """Set ``premium_enabled`` or ``long_filenames``."""
        with self.lock:
            setattr(account, flag, value)
            account.updated_at = self._clock()

    def charge(self, account: Account, amount: int) -> int:
        """Take up to ``amount`` credits; returns what was taken."""
        with self.lock:
            taken = max(0, min(amount, account.credits))
            account.credits -= taken
            return taken

    def refund(self, account: Account, amount: int) -> None:
        with self.lock:
            account.credits += max(0, amount)

    def all(self) -> list[Account]:
        with self.lock:
            return list(self._by_token.values())


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()

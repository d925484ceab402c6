"""Account, site and Quality Checker endpoints of ``MvsepClient``.

The ``/app/*`` and ``/quality_checker/*`` calls; the plumbing is in ``client_core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mvsepd.api import inputs, wire
from mvsepd.api.client_core import ClientCore, dataset_type_text, page, parts
from mvsepd.api.transport import WireResponse
from mvsepd.errors import InputError
from mvsepd.models import (
    ActionResult,
    Algorithm,
    AlgorithmScope,
    DemoEntry,
    HistoryEntry,
    Leaderboard,
    NewsItem,
    QualityEntry,
    QualityEntryCreated,
    QueueInfo,
    UserInfo,
)


class AccountCalls(ClientCore):
    """The ``/app/*`` and ``/quality_checker/*`` methods."""

    # -- app -------------------------------------------------------------------------------

    def algorithms(
        self, scopes: Sequence[AlgorithmScope | str] = (AlgorithmScope.SINGLE_UPLOAD,)
    ) -> list[Algorithm]:
        """Given input kinds (``scopes``), return the catalog of algorithms in server order.

        Raise InputError naming the accepted scopes for an unknown one.
        """
        return self._get(
            "/app/algorithms",
            {"scopes": _scopes_text(scopes)},
            lambda r: wire.parse_algorithms(*parts(r)),
        )

    def algorithms_answer(
        self, scopes: Sequence[AlgorithmScope | str] = (AlgorithmScope.SINGLE_UPLOAD,)
    ) -> bytes:
        """Return the catalog as MVSEP's raw JSON answer, checked to parse (for an on-disk cache).

        Raise the same errors as ``algorithms``.
        """

        def checked(answer: WireResponse) -> bytes:
            wire.parse_algorithms(*parts(answer))
            return answer.body

        return self._get("/app/algorithms", {"scopes": _scopes_text(scopes)}, checked)

    def news(self, lang: str | None = None, start: int = 0, limit: int = 10) -> list[NewsItem]:
        """Given a language code and a page, return MVSEP's news items (newest first)."""
        params = page(start, limit)
        if lang is not None:
            params["lang"] = inputs.check_identifier(lang, "lang")
        return self._get("/app/news", params, lambda r: wire.parse_news(*parts(r)))

    def queue(self) -> QueueInfo:
        """Return the global queue sizes (and this account's plan queue when a token is set)."""
        params = {"api_token": self._wire_token()} if self._token is not None else {}
        return self._get("/app/queue", params, lambda r: wire.parse_queue(*parts(r)))

    def demo(self, start: int = 0, limit: int = 10) -> list[DemoEntry]:
        """Given a page, return public demo separations."""
        return self._get("/app/demo", page(start, limit), lambda r: wire.parse_demo(*parts(r)))

    def login(self, email: str, password: str) -> UserInfo:
        """Given credentials, return the account (its ``api_token`` when MVSEP sends one).

        Raise InvalidRequestError with MVSEP's messages for wrong or missing credentials.
        """
        fields = {
            "email": inputs.check_text(email, "email"),
            "password": inputs.check_text(password, "password"),
        }
        return self._post("/app/login", fields, lambda r: wire.parse_user(*parts(r)))

    def register(
        self, name: str, email: str, password: str, password_confirmation: str | None = None
    ) -> ActionResult:
        """Given a new account's details, register it; return MVSEP's message (a mail was sent)."""
        fields = {
            "name": inputs.check_text(name, "name"),
            "email": inputs.check_text(email, "email"),
            "password": inputs.check_text(password, "password"),
            "password_confirmation": inputs.check_text(
                password if password_confirmation is None else password_confirmation,
                "password_confirmation",
            ),
        }
        return self._post("/app/register", fields, lambda r: wire.parse_action(*parts(r)))

    def user(self) -> UserInfo:
        """Return this account: credits, premium and long-filename switches, current queue.

        Raise InvalidTokenError if MVSEP refuses the token (401, or 400 on this endpoint).
        """
        return self._get(
            "/app/user", {"api_token": self._wire_token()}, lambda r: wire.parse_user(*parts(r))
        )

    def separation_history(self, start: int = 0, limit: int = 10) -> list[HistoryEntry]:
        """Given a page (0 = newest; MVSEP caps ``limit`` at 20), return past separations."""
        params = {"api_token": self._wire_token(), **page(start, limit)}
        return self._get("/app/separation_history", params, lambda r: wire.parse_history(*parts(r)))

    def enable_premium(self) -> ActionResult:
        """Allow spending credits (premium queue); return MVSEP's message."""
        return self._post_action("/app/enable_premium", {}, None)

    def disable_premium(self) -> ActionResult:
        """Stop spending credits (free queue); return MVSEP's message."""
        return self._post_action("/app/disable_premium", {}, None)

    def enable_long_filenames(self) -> ActionResult:
        """Ask for algorithm and options in output file names; return MVSEP's message."""
        return self._post_action("/app/enable_long_filenames", {}, None)

    def disable_long_filenames(self) -> ActionResult:
        """Ask for short output file names; return MVSEP's message."""
        return self._post_action("/app/disable_long_filenames", {}, None)

    # -- quality checker -------------------------------------------------------------------

    def quality_queue(self, start: int = 0, limit: int = 10) -> list[QualityEntry]:
        """Given a page, return Quality Checker entries waiting or processed."""
        return self._get(
            "/quality_checker/queue",
            page(start, limit),
            lambda r: wire.parse_quality_entries(*parts(r)),
        )

    def quality_leaderboard(
        self,
        dataset_type: str = "0",
        start: int = 0,
        limit: int = 10,
        algo_name_filter: str | None = None,
        sort: str | None = None,
    ) -> Leaderboard:
        """Given a dataset type, page, name filter and sort key, return the leaderboard."""
        params = {"dataset_type": dataset_type_text(dataset_type), **page(start, limit)}
        if algo_name_filter is not None:
            params["algo_name_filter"] = inputs.check_text(algo_name_filter, "algo_name_filter")
        if sort is not None:
            params["sort"] = inputs.check_identifier(sort, "sort")
        return self._get(
            "/quality_checker/leaderboard", params, lambda r: wire.parse_leaderboard(*parts(r))
        )

    def quality_add(
        self,
        zipfile: Path,
        *,
        algo_name: str,
        main_text: str,
        password: str,
        dataset_type: str = "0",
        ensemble: bool = False,
    ) -> QualityEntryCreated:
        """Given a zip of separated stems and its description, submit it; return the entry.

        ``password`` is needed later to delete the entry. Raise InputError for a missing file
        or empty texts; otherwise as ``create_separation``.
        """
        fields = [
            ("api_token", self._wire_token()),
            ("algo_name", inputs.check_text(algo_name, "algo_name")),
            ("main_text", inputs.check_text(main_text, "main_text")),
            ("dataset_type", dataset_type_text(dataset_type)),
            ("ensemble", inputs.check_flag(ensemble, "ensemble")),
            ("password", inputs.check_text(password, "password")),
        ]
        with inputs.open_input(zipfile, "zipfile") as zip_file:
            files = [("zipfile", (Path(zipfile).name, zip_file, "application/zip"))]
            return self._upload(
                "/quality_checker/add",
                fields,
                files,
                None,
                lambda r: wire.parse_quality_created(*parts(r)),
            )

    def quality_entry(self, id: int) -> QualityEntry:
        """Given an entry id, return the Quality Checker entry (raw object kept)."""
        params = {"id": inputs.check_count(id, "id", minimum=0)}
        return self._get(
            "/quality_checker/entry", params, lambda r: wire.parse_quality_entry(*parts(r))
        )

    def quality_delete(self, id: int, password: str) -> ActionResult:
        """Given an entry id and its password, delete the entry; return MVSEP's message."""
        fields = {
            "id": inputs.check_count(id, "id", minimum=0),
            "password": inputs.check_text(password, "password"),
        }
        return self._post("/quality_checker/delete", fields, lambda r: wire.parse_action(*parts(r)))


def _scopes_text(scopes: Sequence[AlgorithmScope | str]) -> str:
    """Return the ``scopes`` query value; raise InputError for an unknown or missing scope."""
    values = []
    for scope in scopes if not isinstance(scopes, str) else [scopes]:
        try:
            values.append(AlgorithmScope(scope).value)
        except ValueError:
            accepted = ", ".join(s.value for s in AlgorithmScope)
            raise InputError(
                f"scopes: unknown scope {scope!r}; accepted: {accepted}", field="scopes"
            ) from None
    if not values:
        raise InputError("scopes: at least one scope is required", field="scopes")
    return ",".join(values)

"""The PostgreSQL plumbing under the studio store (``postgres``): its dialect of the shared SQL.

The store speaks one SQL with ``?`` placeholders (``Connection`` turns them into psycopg's);
``DB_NOW`` is the database's clock, which every lease is measured by; ``describe_dsn`` and
``words`` say where and what went wrong without the DSN's password; each pooled connection is
set up by ``configure_connection``.
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool
from psycopg import conninfo as pg_conninfo

from mvsepd.models import JobState

#: The terminal states' values, for ``IN (...)``.
TERMINAL = tuple(state.value for state in JobState if state.terminal)
#: Now on the database's clock, in seconds since the epoch (every lease is measured by it).
DB_NOW = "extract(epoch from clock_timestamp())::double precision"


def describe_dsn(dsn: str) -> str:
    """The DSN as it may be shown: host, port, database and user, never the password."""
    try:
        parts = pg_conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "an unreadable DSN"
    shown = [f"{key}={parts[key]}" for key in ("host", "port", "dbname", "user") if parts.get(key)]
    return " ".join(shown) or "the default database (PG* environment)"


class Connection:
    """A psycopg connection taking the store's ``?`` placeholders."""

    def __init__(self, connection: psycopg.Connection[dict[str, Any]]) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[dict[str, Any]]:
        return self._connection.execute(placeholders(sql), tuple(parameters))


def placeholders(sql: str) -> str:
    """The store's SQL with psycopg's placeholders (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def configure_connection(connection: psycopg.Connection[Any]) -> None:
    # A host that hangs inside a transaction would keep its row locks (and SKIP LOCKED takers
    # would skip those jobs for ever); no transaction of the store spans a network call.
    connection.execute("SET idle_in_transaction_session_timeout = '60s'")
    connection.commit()


def marks(values: tuple[str, ...]) -> str:
    """One placeholder per value, for ``IN (...)``."""
    return ", ".join("?" for _ in values)


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching every text that starts with ``prefix`` (its wildcards escaped)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def words(error: BaseException) -> str:
    """What went wrong, in one line and without connection secrets."""
    if isinstance(error, psycopg_pool.PoolTimeout):
        return "no connection within the time allowed"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.replace("\n", " ")

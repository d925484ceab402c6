"""Opening the job store the configuration names: SQLite here, or the studio's PostgreSQL.

Studio mode (``store.backend: postgres``) needs a connection string (``store.dsn``, a file
named by ``store.dsn_file``, or ``$MVSEPD_DSN``), this host's id (``store.host_id``, by default
the machine's name) and its mounts of the studio's shares. The connection string may hold a
password: it is registered with the log's redaction and never shown (errors name the host,
database and user only). psycopg is loaded only here, and only in studio mode: one machine
needs none of it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from mvsepd.config.model import Config, StoreConfig
from mvsepd.engine import Context, Engine
from mvsepd.errors import ConfigError, StoreUnavailableError
from mvsepd.paths import AppPaths, absolute
from mvsepd.process import logsetup
from mvsepd.process.sdnotify import Notifier
from mvsepd.store import JobStore, SqlJobStore

if TYPE_CHECKING:
    from mvsepd.store.pglink import StudioLink

Clock = Callable[[], float]

log = structlog.get_logger("mvsepd.studio")

#: Between tries to reach the studio database at start: the first wait, and the longest.
START_RETRY_FIRST_SECONDS = 1.0
START_RETRY_MAX_SECONDS = 30.0
#: How long one try to connect may take.
_CONNECT_SECONDS = 10.0


def studio_dsn(store: StoreConfig) -> str:
    """The connection string of the studio database. Raise ConfigError naming where it was
    looked for when there is none."""
    if store.dsn is not None and store.dsn:
        return store.dsn.reveal()
    if store.dsn_file is not None:
        try:
            text = Path(store.dsn_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                "store.dsn_file", [f"cannot read {store.dsn_file}: {error.strerror or error}"]
            ) from None
        if text:
            return text
        raise ConfigError("store.dsn_file", [f"{store.dsn_file} is empty"])
    from_environment = os.environ.get(store.dsn_env, "").strip()
    if from_environment:
        return from_environment
    raise ConfigError(
        "store",
        [
            "backend is postgres but no connection string was given: set store.dsn, "
            f"store.dsn_file, or the environment variable {store.dsn_env}"
        ],
    )


def host_id(store: StoreConfig) -> str:
    """This host's id in the studio: the configured one, else the machine's short name."""
    if store.host_id:
        return store.host_id
    name = socket.gethostname().split(".")[0] or "host"
    return "".join(character if character.isalnum() or character in "._-" else "-"
                   for character in name)[:64]  # fmt: skip


def open_store(
    config: Config,
    paths: AppPaths,
    clock: Clock,
    *,
    notifier: Notifier | None = None,
) -> tuple[SqlJobStore, Clock]:
    """Open the configured store; return it and the clock the daemon should run on (in
    studio mode the database's time, unless the caller brought a clock of its own).

    A studio database that cannot be reached yet (the whole studio booting after a power cut,
    the database's machine slower than the rooms) is waited for: 1 s doubling to 30 s between
    tries, each new reason logged once, and the service manager told why the start takes long
    (a service manager's restarts would give up after a few). Nothing is watched until then;
    the first scan finds whatever was exported meanwhile."""
    settings = config.store
    if settings.backend == "sqlite":
        return JobStore(paths.store_file, clock=clock), clock
    from mvsepd.store.postgres import PostgresJobStore

    dsn = studio_dsn(settings)
    for secret in _password_parts(dsn):
        logsetup.add_secret(secret)
    notifier = notifier or Notifier({})
    delay, said = START_RETRY_FIRST_SECONDS, None
    while True:
        try:
            store = PostgresJobStore(
                dsn,
                host_id=host_id(settings),
                shares={share: str(absolute(mount)) for share, mount in settings.shares.items()},
                lease_seconds=settings.lease_seconds,
                connect_timeout=_CONNECT_SECONDS,
            )
            break
        except StoreUnavailableError as error:
            if str(error) != said:
                said = str(error)
                log.warning(
                    "studio_database_unreachable_at_start",
                    reason=said,
                    note="mvsepd starts once the database answers; trying again, at most "
                    f"every {START_RETRY_MAX_SECONDS:.0f} s",
                )
            notifier.status(f"waiting for the studio database: {error}")
            notifier.extend_start(delay + _CONNECT_SECONDS + 30)
            time.sleep(delay)
            delay = min(delay * 2, START_RETRY_MAX_SECONDS)
    if said is not None:
        log.info("studio_database_reached", database=store.location)
    return store, (store.clock if clock is time.time else clock)


def studio_link(store: SqlJobStore, engine: Engine, context: Context) -> StudioLink | None:
    """The heartbeat and LISTEN thread of a studio host (None on one machine): another host's
    change wakes the engine and the status feed at once."""
    if store.host_id is None:
        return None
    from mvsepd.store.pglink import StudioLink
    from mvsepd.store.postgres import PostgresJobStore

    assert isinstance(store, PostgresJobStore)

    def changed() -> None:
        context.feed.bump()
        engine.wake()

    def outage(words: str | None) -> None:
        context.studio_outage = words
        context.feed.bump()

    return StudioLink(store, changed, outage)


def _password_parts(dsn: str) -> list[str]:
    """The password of a connection string (key=value or URL form), to keep it out of logs."""
    found: list[str] = []
    for part in dsn.split():
        key, _, value = part.partition("=")
        if key.strip() == "password" and value:
            found.append(value.strip("'\""))
    if "://" in dsn:
        authority = dsn.split("://", 1)[1].split("/", 1)[0]
        if "@" in authority and ":" in authority.split("@", 1)[0]:
            found.append(authority.split("@", 1)[0].split(":", 1)[1])
    return [value for value in found if value]

"""``mvsepd algorithms`` (the catalog, searchable) and ``mvsepd login`` (store the API token)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from pydantic import ValidationError
from rich.table import Table

from mvsepd.api import MvsepClient, Transport, host_of, resolve_server
from mvsepd.cli.common import (
    config_option,
    config_path_or_default,
    console,
    handle_errors,
    json_option,
    print_json,
    say,
)
from mvsepd.config.file import load_config, write_private_file
from mvsepd.config.model import AccountConfig, PlansConfig
from mvsepd.config.write import STARTER_FOLDER, create, set_values, starter
from mvsepd.engine.catalog import CatalogCache
from mvsepd.errors import ConfigError, InputError, InvalidTokenError, MvsepdError
from mvsepd.models import Algorithm, AlgorithmScope, Secret, UserInfo

#: Where MVSEP shows a logged-in user's API token.
TOKEN_PAGE = "https://mvsep.com/full_api"  # noqa: S105 (a web page, not a credential)
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9]{20,64}")

server_option = click.option(
    "--server",
    help="mvsep.com, de, de2, hk, sg or a URL (default: the configuration's, else mvsep.com).",
)


def _server(config_path: Path | None, server: str | None) -> tuple[str, Path, Path | None]:
    """Return the server, the catalog cache path and the configured token file, if any."""
    path, paths = config_path_or_default(config_path)
    token_file: Path | None = None
    configured = "mvsep.com"
    if path.exists():
        try:
            config = load_config(path).config
        except ConfigError:
            config = None
        if config is not None:
            configured = config.account.server
            token_file = config.account.token_file
    return server or configured, paths.catalog_cache, token_file or paths.token_file


@click.command()
@click.argument("search", required=False)
@click.option(
    "--scope",
    type=click.Choice(["single_upload", "no_upload", "matchering_upload", "all"]),
    default="single_upload",
    show_default=True,
    help="Which kind of models: one uploaded file (what hot folders use), none, two, or all.",
)
@server_option
@config_option
@json_option
@handle_errors
def algorithms(
    search: str | None, scope: str, server: str | None, config_path: Path | None, as_json: bool
) -> None:
    """List MVSEP's separation algorithms; SEARCH filters by id or name.

    With a single match its options are shown too: use the id as a preset's sep_type and the
    option keys or labels in its options.
    """
    server_url, cache_path, _ = _server(config_path, server)
    scopes = list(AlgorithmScope) if scope == "all" else [AlgorithmScope(scope)]
    with MvsepClient(None, server_url) as client:
        cache = CatalogCache(
            cache_path,
            lambda: client.algorithms_answer(list(AlgorithmScope)),
            refresh_seconds=24 * 3600,
        )
        if cache.needs_refresh():
            cache.refresh()
        if cache.algorithms is None:
            raise MvsepdError(cache.state.last_error or "MVSEP's catalog is unavailable")
        catalog: Sequence[Algorithm] = [
            algorithm for algorithm in cache.algorithms if algorithm.audio_widget in scopes
        ]
    found = _search(catalog, search)
    premium_only = set(_plans(config_path).premium_only_orientations)
    if as_json:
        print_json([_as_dict(algorithm, premium_only) for algorithm in found])
        return
    if not found:
        say(f"no algorithm matches {search!r}", err=True)
        raise SystemExit(1)
    if len(found) == 1:
        _show_one(found[0], premium_only)
        return
    table = Table(title=f"MVSEP algorithms ({len(found)})", caption=PRICE_WORDS)
    table.add_column("id", justify="right")
    table.add_column("name")
    table.add_column("group")
    table.add_column("credits/min", justify="right")
    table.add_column("who")
    table.add_column("options")
    for algorithm in found:
        table.add_row(
            str(algorithm.render_id),
            algorithm.name,
            algorithm.group_name or "",
            f"{algorithm.price_coefficient:g}",
            "premium only" if algorithm.orientation in premium_only else "",
            ", ".join(f"{field.name}: {field.text}" for field in algorithm.fields),
        )
    console().print(table)


#: What the table's price and plan columns mean, in words.
PRICE_WORDS = (
    "credits/min: credits one minute of audio costs on a premium account (at least 1 a job; "
    "some options raise it). A free account uses the free queue and pays no credits. "
    "premium only: MVSEP refuses the model to free accounts."
)


def _plans(config_path: Path | None) -> PlansConfig:
    """The configuration's plan rules, or the defaults without a (valid) configuration."""
    path, _paths = config_path_or_default(config_path)
    if path.exists():
        try:
            return load_config(path).config.account.plans
        except ConfigError:
            pass
    return PlansConfig()


def _search(catalog: Sequence[Algorithm], search: str | None) -> list[Algorithm]:
    if not search:
        return list(catalog)
    if search.strip().isdigit():
        return [a for a in catalog if a.render_id == int(search)]
    words = search.casefold().split()
    return [a for a in catalog if all(word in a.name.casefold() for word in words)]


def _show_one(algorithm: Algorithm, premium_only: set[int]) -> None:
    out = console()
    out.print(f"[bold]{algorithm.name}[/bold]  (sep_type {algorithm.render_id})")
    who = "; premium accounts only" if algorithm.orientation in premium_only else ""
    out.print(
        f"group: {algorithm.group_name or '-'}; {algorithm.price_coefficient:g} credits per "
        f"minute of audio on a premium account (free accounts pay none){who}"
    )
    if algorithm.outputs:
        out.print("stems: " + ", ".join(algorithm.outputs.values()))
    for field in algorithm.fields:
        default = f" (default {field.default_key})" if field.default_key is not None else ""
        out.print(f"\n{field.name}: {field.text}{default}")
        if field.is_free_text:
            out.print("  free text")
        for key, label in field.options.items():
            out.print(f"  {key}: {label}")


def _as_dict(algorithm: Algorithm, premium_only: set[int]) -> dict[str, object]:
    return {
        "sep_type": algorithm.render_id,
        "name": algorithm.name,
        "group": algorithm.group_name,
        "price_coefficient": algorithm.price_coefficient,
        "premium_only": algorithm.orientation in premium_only,
        "scope": algorithm.audio_widget.value,
        "outputs": dict(algorithm.outputs),
        "fields": [
            {
                "name": field.name,
                "text": field.text,
                "input_type": field.input_type.value,
                "default": field.default_key,
                "options": dict(field.options),
            }
            for field in algorithm.fields
        ],
    }


@click.command()
@click.option("--email", help="Your MVSEP e-mail address (asked for when missing).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt."
)
@click.option(
    "--token",
    "with_token",
    is_flag=True,
    help="Give the API token MVSEP's API page shows instead of e-mail and password (asked "
    "for without echo; read from stdin when it is not a terminal).",
)
@server_option
@config_option
@handle_errors
def login(
    email: str | None,
    password_stdin: bool,
    with_token: bool,
    server: str | None,
    config_path: Path | None,
) -> None:
    """Log in to MVSEP and store the API token in a file only you can read (0600).

    Give e-mail and password, or the token itself (--token, or paste it at the e-mail
    prompt). The token is checked with MVSEP before it is stored. With --server the server is
    also written into the configuration file (created from the starter if there is none), so
    `mvsepd run` talks to it from then on.
    """
    server_url, _, token_file = _server(config_path, server)
    assert token_file is not None
    token = _read_token() if with_token else None
    if token is None and email is None:
        question = "MVSEP e-mail (or paste your API token)"
        answer = click.prompt(question).strip()
        if _looks_like_token(answer):
            token = answer
            _unshow(f"{question}: {answer}", f"{question}: (the API token, not shown)")
        else:
            email = answer
    if token is not None:
        user = _check_token(token, server_url)
    else:
        assert email is not None
        user = _log_in(email, password_stdin, server_url, token_file)
        assert user.api_token is not None
        token = user.api_token.reveal()
    write_private_file(token_file, token + "\n")
    plan = "premium" if user.is_premium else "free"
    say(f"logged in as {user.name or user.email or email} ({plan}, {user.credits} credits)")
    say(f"API token stored in {token_file} (readable only by you)")
    if server is not None:
        _remember_server(config_path, server, token_file)
    for note in _shadowing(config_path, token_file):
        say(f"note: {note}", err=True)


def _read_token() -> str:
    if sys.stdin.isatty():
        text = click.prompt("MVSEP API token", hide_input=True)
    else:
        text = sys.stdin.readline()
    token = str(text).strip()
    if not token:
        raise InputError("the API token is empty; copy it from " + TOKEN_PAGE, field="token")
    return token


def _unshow(shown: str, instead: str) -> None:
    """Take a pasted token off the terminal: the lines it was echoed on are written over
    (the e-mail prompt echoes, as an e-mail should; a token must not stay in the scrollback)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return
    columns = max(1, shutil.get_terminal_size().columns)
    rows = max(1, -(-len(shown) // columns))
    sys.stdout.write("\x1b[1A\x1b[2K" * rows + instead + "\n")
    sys.stdout.flush()


def _looks_like_token(text: str) -> bool:
    """MVSEP's tokens are 30 letters and digits; an e-mail address has an @."""
    return TOKEN_SHAPE.fullmatch(text) is not None


def _interactive() -> Transport:
    """Someone waits at the prompt: one quick retry, not the daemon's patient backoff."""
    return Transport(retries=1)


def _check_token(token: str, server_url: str) -> UserInfo:
    with (
        _interactive() as transport,
        MvsepClient(Secret(token), server_url, transport=transport) as client,
    ):
        try:
            return client.user()
        except InvalidTokenError:
            raise InputError(
                f"MVSEP ({host_of(server_url)}) does not know this API token; copy it again "
                f"from {TOKEN_PAGE} (shown there once you are logged in)",
                field="token",
            ) from None


def _log_in(email: str, password_stdin: bool, server_url: str, token_file: Path) -> UserInfo:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("MVSEP password", hide_input=True)
    with (
        _interactive() as transport,
        MvsepClient(None, server_url, transport=transport) as client,
    ):
        user = client.login(email, password)
    if user.api_token is None or not user.api_token:
        raise InputError(
            "MVSEP logged you in but did not return an API token; copy it from "
            f"{TOKEN_PAGE} and run `mvsepd login --token` (or write it to {token_file}, or set "
            "MVSEP_API_TOKEN)",
            field="api_token",
        )
    return user


def _remember_server(config_path: Path | None, server: str, token_file: Path) -> None:
    """Write the server into the configuration file (a new starter when there is none)."""
    path, _ = config_path_or_default(config_path)
    value = _config_server(server)
    if path.exists():
        set_values(path, {("account", "server"): value})
        say(f"server {value} written to {path} (account.server)")
        return
    create(
        path,
        starter(folder=str(STARTER_FOLDER), server=value, token_file=token_file, writer="login"),
    )
    say(f"wrote {path} (server {value}; the token is read from {token_file})")
    say("add your hot folders to it, then run `mvsepd config check`")


def _config_server(server: str) -> str:
    """The server as the configuration takes it: as given when it does, else its URL."""
    try:
        AccountConfig.model_validate({"server": server})
    except ValidationError:
        return resolve_server(server)
    return server.strip()


def _shadowing(config_path: Path | None, token_file: Path) -> list[str]:
    """What would keep ``mvsepd run`` from using the token just stored."""
    path, _ = config_path_or_default(config_path)
    try:
        account = load_config(path).config.account if path.exists() else None
    except ConfigError:
        return []
    if account is None:
        return []
    if account.token is not None:
        return [f"account.token in {path} is used instead of the stored token; remove it"]
    variable = account.token_env
    if account.token_file is None and os.environ.get(variable, "").strip():
        return [
            f"${variable} is set and is used instead of {token_file}; unset it, or set "
            f"account.token_file: {token_file} in {path}"
        ]
    return []

"""``mvsepd algorithms`` (the catalog, searchable) and ``mvsepd login`` (store the API token)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from rich.table import Table

from mvsepd.api import MvsepClient
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
from mvsepd.engine.catalog import CatalogCache
from mvsepd.errors import ConfigError, InputError, MvsepdError
from mvsepd.models import Algorithm, AlgorithmScope

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
    if as_json:
        print_json([_as_dict(algorithm) for algorithm in found])
        return
    if not found:
        say(f"no algorithm matches {search!r}", err=True)
        raise SystemExit(1)
    if len(found) == 1:
        _show_one(found[0])
        return
    table = Table(title=f"MVSEP algorithms ({len(found)})")
    table.add_column("id", justify="right")
    table.add_column("name")
    table.add_column("group")
    table.add_column("price ×", justify="right")
    table.add_column("options")
    for algorithm in found:
        table.add_row(
            str(algorithm.render_id),
            algorithm.name,
            algorithm.group_name or "",
            f"{algorithm.price_coefficient:g}",
            ", ".join(f"{field.name}: {field.text}" for field in algorithm.fields),
        )
    console().print(table)


def _search(catalog: Sequence[Algorithm], search: str | None) -> list[Algorithm]:
    if not search:
        return list(catalog)
    if search.strip().isdigit():
        return [a for a in catalog if a.render_id == int(search)]
    words = search.casefold().split()
    return [a for a in catalog if all(word in a.name.casefold() for word in words)]


def _show_one(algorithm: Algorithm) -> None:
    out = console()
    out.print(f"[bold]{algorithm.name}[/bold]  (sep_type {algorithm.render_id})")
    out.print(
        f"group: {algorithm.group_name or '-'}; price coefficient {algorithm.price_coefficient:g}"
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


def _as_dict(algorithm: Algorithm) -> dict[str, object]:
    return {
        "sep_type": algorithm.render_id,
        "name": algorithm.name,
        "group": algorithm.group_name,
        "price_coefficient": algorithm.price_coefficient,
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
@server_option
@config_option
@handle_errors
def login(
    email: str | None, password_stdin: bool, server: str | None, config_path: Path | None
) -> None:
    """Log in to MVSEP and store the API token in a file only you can read (0600)."""
    server_url, _, token_file = _server(config_path, server)
    assert token_file is not None
    if email is None:
        email = click.prompt("MVSEP e-mail")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("MVSEP password", hide_input=True)
    with MvsepClient(None, server_url) as client:
        user = client.login(email, password)
    if user.api_token is None or not user.api_token:
        raise InputError(
            "MVSEP logged you in but did not return an API token; copy it from your profile "
            f"page on mvsep.com and write it to {token_file} (or set MVSEP_API_TOKEN)",
            field="api_token",
        )
    write_private_file(token_file, user.api_token.reveal() + "\n")
    plan = "premium" if user.is_premium else "free"
    say(f"logged in as {user.name or email} ({plan}, {user.credits} credits)")
    say(f"API token stored in {token_file} (readable only by you)")

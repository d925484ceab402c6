"""``mvsepd config init|check|schema``: a starter file, validation alone, a schema for editors."""

from __future__ import annotations

from pathlib import Path

import click

from mvsepd import config as config_model
from mvsepd.chains import plan_chain
from mvsepd.cli.common import (
    config_option,
    config_path_or_default,
    handle_errors,
    print_json,
    say,
)
from mvsepd.configfile import (
    Inspection,
    inspect_config,
    read_config_text,
    resolve_token,
    warnings_for,
)
from mvsepd.configschema import ReadablePart
from mvsepd.configwrite import STARTER_FOLDER, create, starter
from mvsepd.engine.catalog import CatalogCache
from mvsepd.errors import ConfigError, ConfigProblem
from mvsepd.exits import ExitStatus
from mvsepd.models import Algorithm, AlgorithmScope
from mvsepd.presets import InputKind, PresetProblem, resolve


@click.group(name="config")
def config_group() -> None:
    """Create, check or describe the configuration file."""


@config_group.command()
@config_option
@handle_errors
def init(config_path: Path | None) -> None:
    """Write a commented starter configuration (never over an existing file).

    After `mvsepd login` it reads the token from the file login stored it in.
    """
    path, paths = config_path_or_default(config_path)
    if path.exists():
        say(
            f"mvsepd: {path} already exists; not overwriting it (`mvsepd login --server` "
            "writes the server there; edit the file, then `mvsepd config check`)",
            err=True,
        )
        raise SystemExit(int(ExitStatus.ERROR))
    folder = STARTER_FOLDER
    token_file = paths.token_file if paths.token_file.is_file() else None
    create(path, starter(folder=str(folder), token_file=token_file))
    say(f"wrote {path}" + (f" (the API token is read from {token_file})" if token_file else ""))
    say(f"create the hot folder ({folder}) or edit the file, then run `mvsepd config check`.")


@config_group.command()
@config_option
@click.option("--offline", is_flag=True, help="Do not fetch MVSEP's catalog to check presets.")
@handle_errors
def check(config_path: Path | None, offline: bool) -> None:
    """Validate the configuration: every problem at once, with its line and key.

    Presets are also checked against MVSEP's algorithm catalog (cached copy, or fetched), in
    the same pass as the file's own problems.
    """
    path, paths = config_path_or_default(config_path)
    inspection = inspect_config(read_config_text(path), str(path))
    problems = list(inspection.problems)
    readable = inspection.readable
    if readable is not None:
        config = readable.config
        for warning in warnings_for(config, path):
            say(f"warning: {warning}", err=True)
        try:
            resolve_token(config, default_token_file=paths.token_file, source=str(path))
        except ConfigError as error:
            problems.extend(error.items)
        catalog = None if offline else _catalog(paths.catalog_cache, config)
        problems.extend(_catalog_problems(inspection, readable, catalog))
        for folder in config.folders:
            if not folder.path.expanduser().is_dir():
                say(f"note: {folder.path} does not exist yet; it is watched once it does")
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise ConfigError(str(path), problems)
    assert inspection.config is not None
    folders = len(inspection.config.folders)
    say(f"{path}: valid ({len(inspection.config.presets)} presets, {folders} folders)")


def _catalog_problems(
    inspection: Inspection, readable: ReadablePart, catalog: list[Algorithm] | None
) -> list[ConfigProblem]:
    """Each preset and chain checked against MVSEP's catalog, with its line in the file (a
    chain whose preset has problems of its own waits until they are fixed)."""
    problems: list[ConfigProblem] = []
    config = readable.config
    specs = config.preset_specs()
    for name, preset in specs.items():
        try:
            resolve(preset, catalog, kinds=frozenset(InputKind), text_from_file=True)
        except PresetProblem as problem:
            where = inspection.positions.line_for(("presets", name, *problem.key))
            problems.append(ConfigProblem(f"presets.{name}.{problem}", where))
    for name, chain in config.chains.items():
        if any(step.preset in readable.unreadable for step in chain.steps):
            continue
        try:
            plan = plan_chain(name, chain, specs, catalog)
        except PresetProblem as problem:
            where = inspection.positions.line_for(problem.key or ("chains", name))
            problems.append(ConfigProblem(str(problem), where))
            continue
        for advice in plan.advice:
            say(f"note: {advice}")
    return problems


def _catalog(cache_path: Path, config: config_model.Config) -> list[Algorithm] | None:
    from mvsepd.api import MvsepClient

    with MvsepClient(None, config.account.server) as client:
        cache = CatalogCache(
            cache_path,
            lambda: client.algorithms_answer(list(AlgorithmScope)),
            refresh_seconds=config.daemon.catalog_refresh_hours * 3600,
        )
        if cache.needs_refresh():
            cache.refresh()
        if cache.algorithms is None:
            say("note: MVSEP's catalog is not reachable; presets were checked offline", err=True)
            return None
        return list(cache.algorithms)


@config_group.command()
@handle_errors
def schema() -> None:
    """Print a JSON Schema of the configuration file (for editors)."""
    print_json(config_model.json_schema())

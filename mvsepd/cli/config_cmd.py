"""``mvsepd config init|check|schema``: a starter file, validation alone, a schema for editors."""

from __future__ import annotations

from pathlib import Path

import click

from mvsepd.cli.common import (
    config_option,
    config_path_or_default,
    handle_errors,
    load,
    print_json,
    say,
)
from mvsepd.config import model as config_model
from mvsepd.config.rules import wire_notes
from mvsepd.domain.chains import plan_chain
from mvsepd.domain.presets import InputKind, PresetProblem, resolve
from mvsepd.engine.catalog import CatalogCache
from mvsepd.errors import ConfigError
from mvsepd.exits import ExitStatus
from mvsepd.models import Algorithm, AlgorithmScope

STARTER = """# mvsepd configuration (written by `mvsepd config init`).
# Every option is described in config.example.yaml in mvsepd's source, and
# `mvsepd config schema` prints a JSON Schema your editor can use.
# `mvsepd config check` validates this file; `mvsepd run` starts the daemon.

account:
  # The API token: set MVSEP_API_TOKEN, point token_file at a file, or run `mvsepd login`.
  token_env: MVSEP_API_TOKEN
  server: mvsep.com          # or de, de2, hk, sg, or http://127.0.0.1:8787 (the emulator)
  concurrency: auto          # free plan: 1 job at a time

presets:
  vocals:
    sep_type: 48             # MelBand Roformer (vocals, instrumental); see `mvsepd algorithms`
    options: {{}}
    output_format: wav16     # mp3, wav16, flac16, m4a, wav32, flac24

folders:
  - path: {folder}
    preset: vocals
    # Files already there the first time: skip them (no credits spent) or process them.
    existing_files: skip

limits:
  daily_credit_budget: null  # e.g. 100 to stop submitting after 100 credits a day
"""


@click.group(name="config")
def config_group() -> None:
    """Create, check or describe the configuration file."""


@config_group.command()
@config_option
@handle_errors
def init(config_path: Path | None) -> None:
    """Write a commented starter configuration (never over an existing file)."""
    path, _paths = config_path_or_default(config_path)
    if path.exists():
        say(f"mvsepd: {path} already exists; not overwriting it", err=True)
        raise SystemExit(int(ExitStatus.ERROR))
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path("~/Music/mvsepd/Vocals")
    path.write_text(STARTER.format(folder=folder), encoding="utf-8")
    path.chmod(0o600)
    say(f"wrote {path}")
    say(f"create the hot folder ({folder}) or edit the file, then run `mvsepd config check`.")


@config_group.command()
@config_option
@click.option("--offline", is_flag=True, help="Do not fetch MVSEP's catalog to check presets.")
@handle_errors
def check(config_path: Path | None, offline: bool) -> None:
    """Validate the configuration: every problem at once, with its line and key.

    Presets are also checked against MVSEP's algorithm catalog (cached copy, or fetched).
    """
    loaded = load(config_path)
    problems: list[str] = []
    try:
        loaded.token()
    except ConfigError as error:
        problems.extend(error.problems)
    catalog = None if offline else _catalog(loaded.paths.catalog_cache, loaded.config)
    specs = loaded.config.preset_specs()
    for name, preset in specs.items():
        try:
            resolve(preset, catalog, kinds=frozenset(InputKind), text_from_file=True)
        except PresetProblem as problem:
            problems.append(f"presets.{name}.{problem}")
    for name, chain in loaded.config.chains.items():
        try:
            plan = plan_chain(name, chain, specs, catalog)
        except PresetProblem as problem:
            problems.append(str(problem))
            continue
        for advice in plan.advice:
            say(f"note: {advice}")
    for folder in loaded.config.folders:
        if not folder.path.expanduser().is_dir():
            say(f"note: {folder.path} does not exist yet; it is watched once it does")
    for note in wire_notes(loaded.config):
        say(f"note: {note}")
    if problems:
        raise ConfigError(str(loaded.source), problems)
    folders = len(loaded.config.folders)
    say(f"{loaded.source}: valid ({len(loaded.config.presets)} presets, {folders} folders)")


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

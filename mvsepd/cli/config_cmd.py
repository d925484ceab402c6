"""``mvsepd config init|check|schema``: a starter file, validation alone, a schema for editors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from mvsepd import config as config_model
from mvsepd.chains import plan_chain
from mvsepd.cli.common import (
    config_option,
    config_path_or_default,
    handle_errors,
    load,
    print_json,
    say,
)
from mvsepd.engine.catalog import CatalogCache
from mvsepd.errors import ConfigError, InvalidTokenError, MvsepdError, MvsepError
from mvsepd.exits import ExitStatus
from mvsepd.models import AUDIO_EXTENSIONS, Algorithm, AlgorithmScope, Secret
from mvsepd.plans import too_long_or_large
from mvsepd.presets import InputKind, PresetProblem, ResolvedPreset, resolve

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
    token: Secret | None = None
    try:
        token = loaded.token()
    except ConfigError as error:
        problems.extend(error.problems)
    catalog = None if offline else _catalog(loaded.paths.catalog_cache, loaded.config)
    specs = loaded.config.preset_specs()
    resolved: dict[str, ResolvedPreset] = {}
    for name, preset in specs.items():
        try:
            resolved[name] = resolve(
                preset, catalog, kinds=frozenset(InputKind), text_from_file=True
            )
        except PresetProblem as problem:
            problems.append(f"presets.{name}.{problem}")
    if token is not None and not offline:
        problems.extend(account_problems(loaded.config, token, resolved))
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
    if problems:
        raise ConfigError(str(loaded.source), problems)
    folders = len(loaded.config.folders)
    say(f"{loaded.source}: valid ({len(loaded.config.presets)} presets, {folders} folders)")


def account_problems(
    config: config_model.Config, token: Secret, presets: dict[str, ResolvedPreset]
) -> list[str]:
    """What the account cannot do that the configuration asks (premium-only models and
    formats on a free account), as problems; files already in the folders that are longer
    than the plan takes, as notes. Nothing when MVSEP cannot be asked."""
    from mvsepd.api import MvsepClient

    try:
        with MvsepClient(token, config.account.server) as client:
            user = client.user()
    except InvalidTokenError:
        return ["account: MVSEP refused the API token; run `mvsepd login` (or set a new one)"]
    except MvsepError as error:
        say(f"note: cannot ask MVSEP about the account ({error}); plans not checked", err=True)
        return []
    plans = config.account.plans
    problems: list[str] = []
    if not user.is_premium:
        why = "premium usage is off" if not user.premium_enabled else "it has no credits left"
        rules = plans.premium_rules()
        used = {name for folder in config.folders for name in folder.preset_names}
        for name in sorted(used & set(presets)):
            preset = presets[name]
            for need in rules.needs(preset.algorithm):
                problems.append(
                    f"presets.{name}: {need}, and this account uses the free plan ({why}): "
                    "turn on premium usage at mvsep.com, or choose another model"
                )
            warning = rules.format_warning(preset.output_format)
            if warning:
                say(f"note: presets.{name}: {warning}")
    plan = plans.limits(premium=user.is_premium)
    other = None if user.is_premium else plans.limits(premium=True)
    for folder in config.folders:
        for path, seconds in _lengths(folder):
            for problem in too_long_or_large(
                str(path), seconds=seconds, size=None, plan=plan, other=other
            ):
                say(f"note: {problem}")
    return problems


#: Files looked at per folder for their length (a header read each).
_MAX_FILES_LOOKED_AT = 2000


def _lengths(folder: config_model.FolderConfig) -> Iterator[tuple[Path, float]]:
    """The audio files already in a hot folder, with their length (where it can be read)."""
    from mvsepd import audio

    root = folder.path.expanduser()
    if not root.is_dir():
        return
    walker = root.rglob("*") if folder.recursive else root.glob("*")
    for count, path in enumerate(p for p in walker if p.is_file() and _is_audio(p)):
        if count >= _MAX_FILES_LOOKED_AT:
            say(f"note: only the first {_MAX_FILES_LOOKED_AT} files of {root} were measured")
            return
        try:
            seconds = audio.probe(path).duration_seconds
        except (OSError, MvsepdError):
            continue
        if seconds is not None:
            yield path, seconds


def _is_audio(path: Path) -> bool:
    return path.suffix.lstrip(".").lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


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

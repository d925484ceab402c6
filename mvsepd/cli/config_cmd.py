"""``mvsepd config init|check|schema``: a starter file, validation alone, a schema for editors."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import click

from mvsepd.cli.common import (
    config_option,
    config_path_or_default,
    handle_errors,
    print_json,
    say,
)
from mvsepd.config import model as config_model
from mvsepd.config.catalog import catalog_problems
from mvsepd.config.file import (
    inspect_config,
    read_config_text,
    resolve_token,
    warnings_for,
)
from mvsepd.config.rules import wire_notes
from mvsepd.config.write import STARTER_FOLDER, create, starter
from mvsepd.domain.plans import too_long_or_large
from mvsepd.domain.presets import InputKind, PresetProblem, resolve
from mvsepd.engine.catalog import CatalogCache
from mvsepd.errors import (
    REPORT_WIDTH,
    ConfigError,
    ConfigProblem,
    InvalidTokenError,
    MvsepdError,
    MvsepError,
)
from mvsepd.exits import ExitStatus
from mvsepd.models import AUDIO_EXTENSIONS, Algorithm, AlgorithmScope, Secret


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
        token: Secret | None = None
        try:
            token = resolve_token(config, default_token_file=paths.token_file, source=str(path))
        except ConfigError as error:
            problems.extend(error.items)
        catalog = None if offline else _catalog(paths.catalog_cache, config)
        found, advice = catalog_problems(inspection, catalog)
        problems.extend(found)
        for words in advice:
            _note(words)
        if token is not None and not offline:
            for key, words in account_problems(config, token, catalog):
                problems.append(ConfigProblem(words, inspection.positions.line_for(key)))
        for folder in config.folders:
            if not folder.path.expanduser().is_dir():
                _note(f"{folder.path} does not exist yet; it is watched once it does")
        for note in wire_notes(config):
            _note(note)
    if problems:
        problems.sort(key=lambda problem: problem.line or 0)
        raise ConfigError(str(path), problems)
    assert inspection.config is not None
    folders = len(inspection.config.folders)
    say(f"{path}: valid ({len(inspection.config.presets)} presets, {folders} folders)")


def account_problems(
    config: config_model.Config, token: Secret, catalog: list[Algorithm] | None
) -> list[tuple[tuple[str, ...], str]]:
    """What the account cannot do that the configuration asks (a premium-only model on a free
    account; a refused token), as problems with the key they are about; formats MVSEP may keep
    from free accounts, and files already in the folders that are longer than the plan takes,
    as notes. Nothing when MVSEP cannot be asked."""
    from mvsepd.api import MvsepClient

    try:
        with MvsepClient(token, config.account.server) as client:
            user = client.user()
    except InvalidTokenError:
        return [(("account",), "account: MVSEP refused the API token; run `mvsepd login`")]
    except MvsepError as error:
        _note(f"cannot ask MVSEP about the account ({error}); plans not checked", err=True)
        return []
    plans = config.account.plans
    problems: list[tuple[tuple[str, ...], str]] = []
    if not user.is_premium:
        why = "premium usage is off" if not user.premium_enabled else "it has no credits left"
        rules = plans.premium_rules()
        specs = config.preset_specs()
        used = {name for folder in config.folders for name in folder.preset_names}
        for name in sorted(used & set(specs)):
            try:
                preset = resolve(specs[name], catalog, kinds=frozenset(InputKind))
            except PresetProblem:
                continue  # said already, with its line
            for need in rules.needs(preset.algorithm):
                problems.append(
                    (
                        ("presets", name, "sep_type"),
                        f"presets.{name}: {need}, and this account uses the free plan ({why}): "
                        "turn on premium usage at mvsep.com, or choose another model",
                    )
                )
            warning = rules.format_warning(preset.output_format)
            if warning:
                _note(f"presets.{name}: {warning}")
    plan = plans.limits(premium=user.is_premium)
    other = None if user.is_premium else plans.limits(premium=True)
    for folder in config.folders:
        for path, seconds in _lengths(folder):
            for problem in too_long_or_large(
                str(path), seconds=seconds, size=None, plan=plan, other=other
            ):
                _note(str(problem))
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
            _note(f"only the first {_MAX_FILES_LOOKED_AT} files of {root} were measured")
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


def _note(words: str, *, err: bool = False) -> None:
    """A note of ``config check``, wrapped as its problems are (a path and a reason make long
    lines; several folders make several)."""
    for line in textwrap.wrap(
        f"note: {words}",
        width=REPORT_WIDTH,
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    ):
        say(line, err=err)

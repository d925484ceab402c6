"""``mvsepd emulator``: the local MVSEP-compatible server (its own argument parser)."""

from __future__ import annotations

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def emulator(arguments: tuple[str, ...]) -> None:
    """Run a local MVSEP emulator for offline trials and tests (see --help)."""
    from mvsepd.emulator.cli import main

    raise SystemExit(main(list(arguments)))

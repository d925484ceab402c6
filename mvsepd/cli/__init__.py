"""The ``mvsepd`` command line (entry layer): one click group, one module per command family.

``main(argv)`` returns the exit status instead of exiting, so tests call it in-process.
"""

from __future__ import annotations

import click

from mvsepd import __version__, logsetup
from mvsepd.cli.account_cmd import algorithms, login
from mvsepd.cli.config_cmd import config_group
from mvsepd.cli.emulator_cmd import emulator
from mvsepd.cli.run import demo, run
from mvsepd.cli.service_cmd import COMMANDS as SERVICE_COMMANDS
from mvsepd.cli.status_cmd import COMMANDS as STATUS_COMMANDS
from mvsepd.cli.submit import submit


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mvsepd")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """mvsepd: hot folders for MVSEP music source separation.

    Drop audio into a configured folder; the stems appear in a sibling folder.
    Start with `mvsepd demo` (offline), then `mvsepd config init` and `mvsepd run`.
    """
    context.ensure_object(dict)
    context.obj["debug"] = debug
    # Quiet, on stderr, until a command (``run``) sets up its own logging: stdout carries
    # tables and --json output that scripts read.
    logsetup.configure(level="debug" if debug else "warning", json_lines=False)


for command in (
    run,
    demo,
    submit,
    config_group,
    algorithms,
    login,
    emulator,
    *STATUS_COMMANDS,
    *SERVICE_COMMANDS,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit status."""
    try:
        cli.main(args=argv, prog_name="mvsepd", standalone_mode=True)
    except SystemExit as exit_request:
        code = exit_request.code
        return code if isinstance(code, int) else (0 if code is None else 1)

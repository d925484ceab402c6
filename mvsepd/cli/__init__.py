"""The ``mvsepd`` command line (entry layer): one click group, one module per command family.

``main(argv)`` returns the exit status instead of exiting, so tests call it in-process.
Each command's module is imported when that command runs (or ``--help`` lists them): the
daemon's ``mvsepd run`` does not load the service installer, the status tables or the
emulator, which it never uses.
"""

from __future__ import annotations

import importlib

import click

from mvsepd import __version__
from mvsepd.process import logsetup

#: Command name -> "module:attribute", in the order ``--help`` lists them.
COMMANDS = {
    "run": "mvsepd.cli.run:run",
    "demo": "mvsepd.cli.run:demo",
    "submit": "mvsepd.cli.submit:submit",
    "config": "mvsepd.cli.config_cmd:config_group",
    "algorithms": "mvsepd.cli.account_cmd:algorithms",
    "login": "mvsepd.cli.account_cmd:login",
    "emulator": "mvsepd.cli.emulator_cmd:emulator",
    "status": "mvsepd.cli.status_cmd:status",
    "jobs": "mvsepd.cli.status_cmd:jobs",
    "pause": "mvsepd.cli.status_cmd:pause",
    "resume": "mvsepd.cli.status_cmd:resume",
    "rescan": "mvsepd.cli.status_cmd:rescan",
    "retry": "mvsepd.cli.status_cmd:retry",
    "cancel": "mvsepd.cli.status_cmd:cancel",
    "tray": "mvsepd.cli.status_cmd:tray",
    "service": "mvsepd.cli.service_cmd:service_group",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit status."""
    try:
        cli.main(args=argv, prog_name="mvsepd", standalone_mode=True)
    except SystemExit as exit_request:
        code = exit_request.code
        return code if isinstance(code, int) else (0 if code is None else 1)

"""``mvsepd status|jobs|pause|resume|rescan|retry|cancel|tray`` (being built)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

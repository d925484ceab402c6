"""Command-line entry point (placeholder until the commands land)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run the mvsepd command line and return its exit status."""
    return 0

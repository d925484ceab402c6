"""The tray tests use the status API tests' daemon and emulator fixtures."""

from __future__ import annotations

# Imported so that pytest finds them here too (fixtures are looked up by conftest location).
from tests.statusapi.conftest import harness, make_harness, user_paths

__all__ = ["harness", "make_harness", "user_paths"]

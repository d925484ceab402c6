"""Fixtures of the upload tests: the integration tests' emulator and hot folder."""

from tests.integration.conftest import emulator_settings, setup

__all__ = ["emulator_settings", "setup"]

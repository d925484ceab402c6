"""Fixtures for the intake tests: every Intake made here is stopped at the end of its test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from mvsepd.intake import Intake, WatchSpec
from tests.intake.helpers import MakeIntake, ScriptedReadiness


@pytest.fixture
def readiness() -> ScriptedReadiness:
    return ScriptedReadiness()


@pytest.fixture
def make_intake(readiness: ScriptedReadiness) -> Iterator[MakeIntake]:
    made: list[Intake] = []

    def make(specs: Sequence[WatchSpec], **options: Any) -> Intake:
        options.setdefault("readiness", readiness)
        intake = Intake(specs, **options)
        made.append(intake)
        return intake

    yield make
    for intake in made:
        intake.stop()

"""Chaos: SIGKILL at random and chosen moments while MVSEP misbehaves, then the invariants.

The quick size runs in the normal suite; the full size (at least 200 kills over at least 100
files) runs with ``scripts/test -m full``. ``MVSEPD_CHAOS_SEED=<n>`` replays a run's choices.
"""

from __future__ import annotations

import pytest

from tests.chaos.harness import ChaosRun
from tests.integration.support import Setup


@pytest.mark.timeout(300)
def test_quick_chaos(chaos_setup: Setup, seed: int) -> None:
    report = ChaosRun(chaos_setup, seed=seed, files=12, kills=15).run()
    print(report.summary())


@pytest.mark.full
@pytest.mark.timeout(3600)
def test_full_chaos(chaos_setup: Setup, seed: int) -> None:
    report = ChaosRun(
        chaos_setup, seed=seed, files=100, kills=200, extra_rounds=20, finish_timeout=600
    ).run()
    print(report.summary())
    assert report.kills >= 200

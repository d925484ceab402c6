"""Against the real mvsep.com, read-only: runs only with ``MVSEPD_LIVE_TOKEN`` set and ``-m live``.

It checks that the client still reads MVSEP's real answers (the recorded fixtures can age): the
account, the history and the catalog. It submits nothing and spends no credits.
"""

from __future__ import annotations

import os

import pytest

from mvsepd.api import MvsepClient
from mvsepd.models import AlgorithmScope

TOKEN = os.environ.get("MVSEPD_LIVE_TOKEN", "")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not TOKEN, reason="set MVSEPD_LIVE_TOKEN to test against mvsep.com"),
]


def test_the_real_api_still_reads() -> None:
    with MvsepClient(TOKEN, os.environ.get("MVSEPD_LIVE_SERVER", "mvsep.com")) as client:
        user = client.user()
        assert user.credits >= 0
        client.separation_history(limit=5)
        catalog = client.algorithms([AlgorithmScope.SINGLE_UPLOAD])
        assert any(algorithm.render_id == 20 for algorithm in catalog)

"""Several ``mvsepd run`` hosts, one database, one shared folder, one free MVSEP account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.invariants import problems_after_run
from tests.studio.hosts import Studio, studio_emulator

FILES = 50


@pytest.fixture
def studio(tmp_path: Path, postgres_dsn: str) -> Iterator[Studio]:
    with studio_emulator() as server:
        account = server.add_account(plan="free", credits=0)
        studio = Studio(tmp_path, server, account.token, postgres_dsn)
        try:
            yield studio
        finally:
            studio.stop_all()


def test_three_hosts_share_one_folder_and_pay_each_file_once(studio: Studio) -> None:
    for name in ("room-1", "room-2", "room-3"):
        studio.start(name)
    studio.write(FILES, seed=1)
    studio.wait_finished(timeout=240)
    studio.stop_all()
    distinct = {item.sha256 for item in studio.written}
    assert studio.server.state.create_count(studio.token) == len(distinct)
    # The free plan's one unfinished job held for the whole studio: never two at MVSEP, and
    # no host was ever refused for a full queue.
    assert studio.server.state.peak_unfinished(studio.token) == 1
    assert studio.queue_full_refusals() == 0
    assert problems_after_run(studio.setup(), studio.written, studio.observer) == []
    # Every host took part (each claimed files it found first).
    assert len(studio.done_by_host()) >= 2, studio.done_by_host()

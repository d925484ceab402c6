"""The emulated link: uploads and downloads shaped per account over all its connections, and a
fixed latency before every answer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests

from mvsepd.emulator.link import Pipe
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, create, download, wait_status, write_audio


class _Ticks:
    """A clock that moves only when slept on, so pipe arithmetic is exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_pipe_lets_blocks_through_at_its_rate_first_come_first_served() -> None:
    ticks = _Ticks()
    pipe = Pipe(1000.0, ticks.clock, ticks.sleep)
    pipe.pass_bytes(500)  # 0.5 s of the pipe
    pipe.pass_bytes(500)  # queued behind the first: done at 1.0 s
    ticks.now = 2.0  # idle time is not saved up
    pipe.pass_bytes(250)
    assert ticks.slept == [0.5, 1.0, 0.25]


def test_an_upload_takes_as_long_as_its_bytes_need_and_its_size_is_recorded(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(upload_rate=400_000.0)
    token = server.add_account(plan="premium", credits=100).token
    audio = write_audio(tmp_path / "Take.wav", 2.0)  # 353 kB
    started = time.monotonic()
    answer = create(server, token, audio)
    took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert took >= audio.stat().st_size / 400_000 * 0.95
    (job,) = server.state.jobs()
    assert job.input_size == audio.stat().st_size
    assert job.received_name == "Take.wav"


def test_downloads_of_one_account_share_its_rate(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(download_rate=1_000_000.0)
    token = server.add_account(plan="premium", credits=100).token
    audio = write_audio(tmp_path / "Song.wav", 3.0)
    created = create(server, token, audio).json()
    done = wait_status(server, created["data"]["hash"], "done")
    urls = [entry["url"] for entry in done["data"]["files"]][:2]
    sizes: list[int] = []

    def fetch(url: str) -> None:
        sizes.append(len(download(url)))

    started = time.monotonic()
    threads = [threading.Thread(target=fetch, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    # Two at once take as long as both one after the other: the pipe is the account's.
    assert took >= sum(sizes) / 1_000_000 * 0.95, (took, sizes)


def test_every_answer_waits_the_latency(make_server: ServerFactory) -> None:
    server = make_server(latency_ms=150.0)
    started = time.monotonic()
    answer = requests.get(api(server, "app/algorithms"), timeout=10)
    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.15


def test_the_link_can_be_slowed_and_freed_while_the_server_runs(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server()
    token = server.add_account(plan="premium", credits=100).token
    created = create(server, token, write_audio(tmp_path / "Song.wav", 3.0)).json()
    done = wait_status(server, created["data"]["hash"], "done")
    url = done["data"]["files"][0]["url"]

    server.shape_link(download_rate=500_000.0)
    started = time.monotonic()
    size = len(download(url))
    slowed = time.monotonic() - started
    server.shape_link()
    started = time.monotonic()
    assert len(download(url)) == size
    freed = time.monotonic() - started

    assert slowed >= size / 500_000 * 0.95, (slowed, size)
    assert freed < size / 500_000 * 0.5, (freed, size)


def test_the_bytes_each_account_moved_are_counted_on_its_own_pipes(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(upload_rate=50_000_000.0, download_rate=50_000_000.0)
    first = server.add_account(plan="premium", credits=100).token
    second = server.add_account(plan="premium", credits=100).token
    audio = write_audio(tmp_path / "Take.wav", 1.0)
    # The token is the first field, the format's value another: each is told apart.
    answer = create(server, first, audio, output_format="1")
    assert answer.status_code == 200, answer.text
    up, down = server.link_bytes(first)
    assert audio.stat().st_size < up < audio.stat().st_size + 2000  # the file and the form
    assert down == 0 and server.link_bytes(second) == (0, 0)
    done = wait_status(server, answer.json()["data"]["hash"], "done")
    fetched = sum(len(download(item["url"])) for item in done["data"]["files"])
    assert server.link_bytes(first)[1] == fetched

"""Result downloads: safe hosts only, resume, atomic rename, size checks and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvsepd.api import MvsepClient, Transport
from mvsepd.errors import (
    DownloadError,
    InputError,
    NetworkError,
    NotFoundError,
    UnsafeDownloadError,
)
from mvsepd.models import ResultFile
from tests.api.conftest import Sleeps
from tests.api.scripted import TOKEN, Recorded, Reply, ScriptedAdapter

PATH = "/storage/processed/20260430153526-ff12686013-audio_melroformer_mt_11_vocals.flac"
URL = f"https://mvsep.com{PATH}"
DATA = bytes(range(256)) * 40  # 10240 bytes
AUDIO = {"Content-Type": "audio/flac"}


def stem(url: str = URL, size_text: str | None = "10.00 KB") -> ResultFile:
    return ResultFile(type="Vocals", url=url, size_text=size_text, download_name="vocals.flac")


def partial(destination: Path, length: int) -> Path:
    part = destination.with_name(destination.name + ".part")
    part.write_bytes(DATA[:length])
    return part


def test_a_full_download_lands_atomically(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    part = destination.with_name("vocals.flac.part")
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        assert not destination.exists()  # never visible half-written
        assert part.exists()

    adapter.add("GET", PATH, Reply(200, DATA, AUDIO))
    assert client.download_result(stem(), destination, progress=progress) == destination

    assert destination.read_bytes() == DATA
    assert not part.exists()
    assert seen[0] == (0, len(DATA))
    assert seen[-1] == (len(DATA), len(DATA))
    (request,) = adapter.requests
    assert "Range" not in request.headers
    assert request.headers["Accept-Encoding"] == "identity"
    assert TOKEN not in request.url


def test_a_partial_file_is_resumed_with_range(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    partial(destination, 4000)
    adapter.add(
        "GET",
        PATH,
        Reply(206, DATA[4000:], {**AUDIO, "Content-Range": f"bytes 4000-10239/{len(DATA)}"}),
    )

    client.download_result(stem(), destination, expected_size=len(DATA))

    assert adapter.requests[0].headers["Range"] == "bytes=4000-"
    assert destination.read_bytes() == DATA
    assert not destination.with_name("vocals.flac.part").exists()


@pytest.mark.parametrize(
    "content_range",
    [
        "bytes 0-6239/10240",
        "bytes 4000-10239/*",
        "bytes 4000-9999/10240",
        "bytes 4000-10239/20000",
        "",
        "items 4000-10239/10240",
    ],
)
def test_a_206_with_a_wrong_content_range_starts_over(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path, content_range: str
) -> None:
    destination = tmp_path / "vocals.flac"
    partial(destination, 4000)
    adapter.add(
        "GET",
        PATH,
        Reply(206, DATA[4000:], {**AUDIO, "Content-Range": content_range}),
        Reply(200, DATA, AUDIO),
    )
    client.download_result(stem(), destination)
    first, second = adapter.requests
    assert first.headers["Range"] == "bytes=4000-"
    assert "Range" not in second.headers
    assert destination.read_bytes() == DATA


def test_a_server_that_ignores_range_sends_everything_again(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    partial(destination, 4000)
    adapter.add("GET", PATH, Reply(200, DATA, AUDIO))
    client.download_result(stem(), destination)
    assert len(adapter.requests) == 1
    assert destination.read_bytes() == DATA


def test_a_416_discards_a_stale_partial_file(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    destination.with_name("vocals.flac.part").write_bytes(b"x" * 20000)
    adapter.add(
        "GET", PATH, Reply(416, b"", {"Content-Range": "bytes */10240"}), Reply(200, DATA, AUDIO)
    )
    client.download_result(stem(), destination)
    assert destination.read_bytes() == DATA


BIG = bytes(range(256)) * 2400  # 600 KiB: more than one 256 KiB read


def resume_from_range(request: Recorded) -> Reply:
    """Answer a Range request the way a resuming server does."""
    offset = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
    content_range = f"bytes {offset}-{len(BIG) - 1}/{len(BIG)}"
    return Reply(206, BIG[offset:], {**AUDIO, "Content-Range": content_range})


def test_a_broken_connection_is_retried_from_where_it_stopped(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    adapter.add("GET", PATH, Reply(200, BIG, AUDIO, fail_after=400_000), resume_from_range)
    client.download_result(stem(size_text=None), destination, expected_size=len(BIG))
    first, second = adapter.requests
    assert "Range" not in first.headers
    assert second.headers["Range"] == f"bytes={256 * 1024}-"  # the whole chunks that arrived
    assert destination.read_bytes() == BIG
    assert sleeps == [1.0]


def test_a_connection_that_keeps_breaking_leaves_the_partial_file(
    adapter: ScriptedAdapter, sleeps: Sleeps, tmp_path: Path
) -> None:
    transport = Transport(retries=0, sleep=sleeps)
    transport.mount("https://", adapter)
    destination = tmp_path / "vocals.flac"
    adapter.add("GET", PATH, Reply(200, BIG, AUDIO, fail_after=400_000))
    with pytest.raises(NetworkError) as broke:
        MvsepClient(TOKEN, transport=transport).download_result(stem(size_text=None), destination)
    # Said in words a user reads in the retry reason, with how far it got; no library text.
    assert broke.value.detail == "the connection to mvsep.com broke after 256 of 600 kB", (
        broke.value.detail
    )
    assert "Error" not in str(broke.value) and "IncompleteRead" not in str(broke.value)
    assert not destination.exists()
    assert destination.with_name("vocals.flac.part").read_bytes() == BIG[: 256 * 1024]


def test_a_size_other_than_expected_is_refused(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    adapter.add("GET", PATH, Reply(200, DATA, AUDIO))
    with pytest.raises(DownloadError, match="10240 bytes but 2000 were expected"):
        client.download_result(stem(), destination, expected_size=2000)
    assert not destination.exists()
    assert not destination.with_name("vocals.flac.part").exists()


def test_a_short_body_without_length_is_not_accepted_as_complete(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    adapter.add("GET", PATH, Reply(200, DATA[:5000], AUDIO, chunked=True))
    with pytest.raises(DownloadError, match="5000 of 10240 expected bytes"):
        client.download_result(stem(), destination, expected_size=len(DATA))
    assert not destination.exists()


def test_a_declared_size_over_max_bytes_is_refused_before_reading(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    adapter.add("GET", PATH, Reply(200, DATA, AUDIO))
    with pytest.raises(DownloadError, match="more than the limit of 2 kB"):
        client.download_result(stem(), destination, max_bytes=2048)
    assert not destination.with_name("vocals.flac.part").exists()


def test_an_endless_answer_is_cut_off_at_max_bytes(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    adapter.add("GET", PATH, Reply(200, b"\0" * (2 * 1024 * 1024), AUDIO, chunked=True))
    with pytest.raises(DownloadError, match="cut off"):
        client.download_result(stem(size_text=None), destination, max_bytes=2048)
    assert not destination.exists()
    assert not destination.with_name("vocals.flac.part").exists()


def test_mvseps_stated_size_caps_an_unexpectedly_huge_answer(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "vocals.flac"
    adapter.add("GET", PATH, Reply(200, b"\0" * (3 * 1024 * 1024), AUDIO, chunked=True))
    with pytest.raises(DownloadError, match="cut off"):
        client.download_result(stem(size_text="2 KB"), destination)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://mvsep.com/storage/x.flac",
        "https://evil.example.com/storage/x.flac",
        "https://mvsep.com.evil.example/storage/x.flac",
        "http://mvsep.com/storage/x.flac",
        "https://user:pw@mvsep.com/storage/x.flac",
        "https://mvsep.com:8443/storage/x.flac",
        "//mvsep.com/storage/x.flac",
        "not a url",
    ],
)
def test_unsafe_urls_are_never_fetched(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path, url: str
) -> None:
    with pytest.raises(UnsafeDownloadError):
        client.download_result(stem(url), tmp_path / "x.flac")
    assert adapter.requests == []
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_to_another_host_is_refused(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    adapter.add("GET", PATH, Reply(302, b"", {"Location": "https://evil.example.com/x.flac"}))
    with pytest.raises(UnsafeDownloadError, match=r"evil\.example\.com"):
        client.download_result(stem(), tmp_path / "x.flac")
    assert len(adapter.requests) == 1


def test_redirects_on_the_same_host_are_followed_and_limited(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    adapter.add("GET", PATH, Reply(301, b"", {"Location": "/storage/moved.flac"}))
    adapter.add("GET", "/storage/moved.flac", Reply(200, DATA, AUDIO))
    client.download_result(stem(), tmp_path / "x.flac")
    assert (tmp_path / "x.flac").read_bytes() == DATA

    adapter.add("GET", "/storage/loop.flac", Reply(302, b"", {"Location": "/storage/loop.flac"}))
    with pytest.raises(DownloadError, match="redirects"):
        client.download_result(stem("https://mvsep.com/storage/loop.flac"), tmp_path / "y.flac")
    assert len(adapter.on("GET", "/storage/loop.flac")) == 6


def test_files_on_the_jobs_region_or_mvseps_own_hosts_are_allowed(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    adapter.add("GET", PATH, Reply(200, DATA, AUDIO))
    client.download_result(stem(f"https://de.mvsep.com{PATH}"), tmp_path / "a.flac", server="de")
    client.download_result(stem(f"https://hk.mvsep.com{PATH}"), tmp_path / "b.flac")
    assert [r.url.split("/")[2] for r in adapter.requests] == ["de.mvsep.com", "hk.mvsep.com"]


def test_an_emulator_serves_only_its_own_files(
    transport: Transport, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    client = MvsepClient(TOKEN, "http://127.0.0.1:8765", transport=transport)
    adapter.add("GET", PATH, Reply(200, DATA, AUDIO))
    client.download_result(stem(f"http://127.0.0.1:8765{PATH}"), tmp_path / "a.flac")
    for url in (
        f"https://mvsep.com{PATH}",
        f"http://127.0.0.1:9999{PATH}",
        f"http://localhost:8765{PATH}",
    ):
        with pytest.raises(UnsafeDownloadError):
            client.download_result(stem(url), tmp_path / "b.flac")


def test_expired_files_and_web_pages_are_errors(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    adapter.add("GET", PATH, Reply(404, "<html>Not Found</html>", {"Content-Type": "text/html"}))
    with pytest.raises(NotFoundError) as gone:
        client.download_result(stem(), tmp_path / "a.flac")
    assert gone.value.endpoint == PATH
    adapter.script[("GET", PATH)] = [
        Reply(200, "<html>login</html>", {"Content-Type": "text/html"})
    ]
    with pytest.raises(DownloadError, match="web page"):
        client.download_result(stem(), tmp_path / "a.flac")


def test_server_errors_are_retried(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps, tmp_path: Path
) -> None:
    adapter.add(
        "GET",
        PATH,
        Reply(503, "busy", {"Content-Type": "text/plain"}),
        Reply(429, "slow down", {"Content-Type": "text/plain", "Retry-After": "3"}),
        Reply(200, DATA, AUDIO),
    )
    client.download_result(stem(), tmp_path / "a.flac")
    assert sleeps == [1.0, 3.0]


def test_an_existing_destination_is_replaced_whole(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    destination = tmp_path / "a.flac"
    destination.write_bytes(b"old")
    adapter.add("GET", PATH, Reply(200, DATA, AUDIO))
    client.download_result(stem(), destination)
    assert destination.read_bytes() == DATA


def test_bad_destinations_are_refused_before_the_network(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    with pytest.raises(InputError) as missing:
        client.download_result(stem(), tmp_path / "no" / "such" / "a.flac")
    assert missing.value.field == "destination"
    with pytest.raises(InputError):
        client.download_result(stem(), tmp_path)
    with pytest.raises(InputError) as negative:
        client.download_result(stem(), tmp_path / "a.flac", max_bytes=0)
    assert negative.value.field == "max_bytes"
    assert adapter.requests == []

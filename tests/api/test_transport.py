"""Transport details: streamed uploads in constant memory, server names, the public surface."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter

import mvsepd.api
from mvsepd.api import MvsepClient, Transport, resolve_server
from mvsepd.api.servers import download_origins
from mvsepd.errors import InputError
from tests.api.conftest import Sleeps
from tests.api.scripted import TOKEN, Reply, ScriptedAdapter


class StrictReader:
    """A file-like that fails the test if anyone asks for all of it at once."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0
        self.largest_read = 0

    def __len__(self) -> int:  # what the encoder asks to learn what is left
        return len(self._data) - self._position

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "the whole file was requested at once"
        self.largest_read = max(self.largest_read, size)
        chunk = self._data[self._position : self._position + size]
        self._position += len(chunk)
        return chunk


def test_an_upload_reads_its_file_in_bounded_chunks(
    transport: Transport, adapter: ScriptedAdapter
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    reader = StrictReader(data)
    progress: list[tuple[int, int]] = []
    adapter.add(
        "POST", "/api/separation/create", Reply(body={"success": True, "data": {"hash": "h"}})
    )

    transport.upload(
        "https://mvsep.com/api/separation/create",
        endpoint="/separation/create",
        fields=[("sep_type", "20")],
        files=[("audiofile", ("a.wav", reader, "audio/wav"))],  # type: ignore[list-item]
        progress=lambda sent, total: progress.append((sent, total)),
    )

    assert adapter.requests[0].part("audiofile").content == data
    assert 0 < reader.largest_read <= 64 * 1024
    assert len(progress) > 16
    assert progress[-1][0] == progress[-1][1] > len(data)


class CountingAdapter(BaseAdapter):
    """Consumes an upload in socket-sized reads and keeps only its size and digest."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0
        self.digest = hashlib.sha256()
        self._builder = HTTPAdapter()

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        body: Any = request.body
        while chunk := body.read(16384):
            self.size += len(chunk)
            self.digest.update(chunk)
        answer = b'{"success": true, "data": {"hash": "h"}}'
        raw = urllib3.HTTPResponse(body=io.BytesIO(answer), status=200, preload_content=False,
                                   headers={"Content-Type": "application/json"})  # fmt: skip
        return self._builder.build_response(request, raw)

    def close(self) -> None:
        pass


def test_a_large_upload_does_not_hold_the_file_in_memory(tmp_path: Path, sleeps: Sleeps) -> None:
    audio = tmp_path / "long.wav"
    size = 24 * 1024 * 1024
    with open(audio, "wb") as handle:
        for _ in range(size // (1024 * 1024)):
            handle.write(bytes(range(256)) * 4096)
    counting = CountingAdapter()
    with Transport(sleep=sleeps) as transport:
        transport.mount("https://", counting)
        client = MvsepClient(TOKEN, transport=transport)
        tracemalloc.start()
        try:
            client.create_separation(audio, sep_type=20)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert counting.size > size
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while uploading {size}"


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("mvsep.com", "https://mvsep.com"),
        ("main", "https://mvsep.com"),
        ("DE", "https://de.mvsep.com"),
        ("de2", "https://de2.mvsep.com"),
        ("hk", "https://hk.mvsep.com"),
        ("sg", "https://sg.mvsep.com"),
        ("hk.mvsep.com", "https://hk.mvsep.com"),
        ("https://de.mvsep.com/api/", "https://de.mvsep.com"),
        ("https://mvsep.com:443", "https://mvsep.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://localhost:8765/mvsep/api", "http://localhost:8765/mvsep"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_server_names_resolve_to_base_urls(given: str, base: str) -> None:
    assert resolve_server(given) == base


@pytest.mark.parametrize(
    "bad",
    ["", "  ", "moon", "ftp://mvsep.com", "file:///tmp/x", "https://", "https://a:b@mvsep.com",
     "https://mvsep.com/?api_token=x", "http://host:99999", "javascript:alert(1)"],
)  # fmt: skip
def test_bad_server_names_are_refused(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        resolve_server(bad)
    assert caught.value.field == "server"


def test_download_origins() -> None:
    official = download_origins(["https://mvsep.com"])
    assert ("https", "de2.mvsep.com", 443) in official
    assert ("http", "mvsep.com", 80) not in official
    assert download_origins(["http://127.0.0.1:8765"]) == {("http", "127.0.0.1", 8765)}


def test_public_surface() -> None:
    assert mvsepd.api.__all__ == sorted(mvsepd.api.__all__)
    assert set(mvsepd.api.__all__) == {"MvsepClient", "Transport", "host_of", "resolve_server"}
    for name in mvsepd.api.__all__:
        assert getattr(mvsepd.api, name) is not None


def test_a_client_closes_only_what_it_owns(adapter: ScriptedAdapter, sleeps: Sleeps) -> None:
    transport = Transport(sleep=sleeps)
    transport.mount("https://", adapter)
    adapter.add("GET", "/api/app/news", Reply(body=[]))
    with MvsepClient(None, transport=transport) as client:
        client.news()
    assert MvsepClient(None, transport=transport).news() == []  # still usable
    with MvsepClient(None) as own:
        assert own.server == "https://mvsep.com"

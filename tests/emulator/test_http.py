"""HTTP behaviour: throttling, static files with Range, error pages, headers, big uploads."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import requests
import soundfile
from requests_toolbelt import MultipartEncoder

from mvsepd.emulator import EmulatorServer
from tests.emulator.conftest import START, ServerFactory
from tests.emulator.helpers import api, create, wait_status


def test_rate_limit_headers_count_down_per_group(server: EmulatorServer) -> None:
    remaining = []
    for _ in range(3):
        answer = requests.get(api(server, "app/algorithms"), timeout=10)
        assert answer.headers["X-RateLimit-Limit"] == "60"
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    assert remaining == [59, 58, 57]
    news = requests.get(api(server, "app/news"), timeout=10)
    assert news.headers["X-RateLimit-Limit"] == "120"
    assert news.headers["X-RateLimit-Remaining"] == "119"


def test_past_the_limit_laravel_answers_429(make_server: ServerFactory) -> None:
    server = make_server(rate_limit_strict=3)
    url = api(server, "separation/get")
    for _ in range(3):
        assert requests.get(url, params={"hash": "x"}, timeout=10).status_code == 200
    refused = requests.get(url, params={"hash": "x"}, timeout=10)
    assert refused.status_code == 429
    assert refused.content == b'{"message":"Too Many Attempts."}'
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == str(int(START) + 60)
    assert refused.headers["Content-Type"] == "application/json"
    assert requests.get(api(server, "app/news"), timeout=10).status_code == 200  # other group
    server.advance(30.0)
    assert requests.get(url, params={"hash": "x"}, timeout=10).headers["Retry-After"] == "30"
    server.advance(30.0)
    again = requests.get(url, params={"hash": "x"}, timeout=10)
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == "2"


def test_rate_limit_can_be_switched_off(make_server: ServerFactory) -> None:
    server = make_server(rate_limit_strict=2, rate_limit=False)
    answers = [requests.get(api(server, "app/algorithms"), timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"


def test_static_files_support_range_and_are_not_throttled(
    make_server: ServerFactory, audio: Path
) -> None:
    server = make_server(rate_limit_default=2, rate_limit_strict=100)
    separation_hash = create(server, server.add_account().token, audio).json()["data"]["hash"]
    url = wait_status(server, separation_hash, "done")["data"]["files"][0]["url"]
    full = requests.get(url, timeout=10)
    assert full.status_code == 200
    assert full.headers["Accept-Ranges"] == "bytes"
    assert "X-RateLimit-Limit" not in full.headers
    for _ in range(5):
        assert requests.get(url, timeout=10).status_code == 200
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(full.content)}"
    assert part.content == full.content[100:200]
    tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=10)
    assert tail.content == full.content[-10:]
    beyond = requests.get(url, headers={"Range": f"bytes={len(full.content) + 5}-"}, timeout=10)
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(full.content)}"


def test_range_support_can_be_switched_off(make_server: ServerFactory, audio: Path) -> None:
    server = make_server(range_requests=False)
    separation_hash = create(server, server.add_account().token, audio).json()["data"]["hash"]
    url = wait_status(server, separation_hash, "done")["data"]["input_file"]["url"]
    answer = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=10)
    assert answer.status_code == 200
    assert answer.content == audio.read_bytes()
    assert "Accept-Ranges" not in answer.headers


def test_unknown_route_is_an_html_404_like_laravel(server: EmulatorServer) -> None:
    answer = requests.get(api(server, "app/nothing"), timeout=10)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Not Found" in answer.text
    as_json = requests.get(
        api(server, "app/nothing"), headers={"Accept": "application/json"}, timeout=10
    )
    assert as_json.json() == {"message": "The route api/app/nothing could not be found."}
    missing_file = requests.get(f"{server.url}/storage/processed/none.wav", timeout=10)
    assert missing_file.status_code == 404


def test_wrong_method_is_405(server: EmulatorServer) -> None:
    answer = requests.get(api(server, "separation/create"), timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    as_json = requests.get(
        api(server, "separation/create"), headers={"Accept": "application/json"}, timeout=10
    )
    assert as_json.json()["message"].startswith("The GET method is not supported")


def test_api_answers_carry_the_recorded_headers(server: EmulatorServer) -> None:
    for answer in (
        requests.get(api(server, "app/news"), timeout=10),
        requests.get(api(server, "separation/get"), params={"hash": "nope"}, timeout=10),
        requests.post(api(server, "app/login"), data={}, timeout=10),
    ):
        assert answer.headers["Server"] == "Apache/2.4.52 (Ubuntu)"
        assert answer.headers["Cache-Control"] == "no-cache, private"
        assert answer.headers["Content-Type"] == "application/json"
        assert "X-RateLimit-Remaining" in answer.headers
    date = requests.get(api(server, "app/news"), timeout=10).headers["Date"]
    assert date == "Tue, 14 Nov 2023 22:13:20 GMT"  # the emulator's clock


def test_big_upload_streams_to_disk_and_renders_in_blocks(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    """A 40 MB upload and its separation stay far below 40 MB of Python memory."""
    server = make_server()
    big = tmp_path / "big.wav"
    with soundfile.SoundFile(str(big), "w", 44100, 2, "PCM_16") as handle:
        rng = np.random.default_rng(1)
        for _ in range(36):  # 36 × 6.3 s ≈ 227 s ≈ 40 MB
            handle.write(rng.uniform(-0.3, 0.3, size=(277_830, 2)))
    size = big.stat().st_size
    assert size > 40_000_000
    token = server.add_account(plan="premium").token
    tracemalloc.start()
    try:
        with big.open("rb") as source:
            encoder = MultipartEncoder(
                fields={
                    "api_token": token,
                    "sep_type": "48",
                    "output_format": "1",
                    "audiofile": ("big.wav", source, "audio/wav"),
                }
            )
            answer = requests.post(
                api(server, "separation/create"),
                data=encoder,
                headers={"Content-Type": encoder.content_type},
                timeout=60,
            )
        assert answer.status_code == 200, answer.text
        done = wait_status(server, answer.json()["data"]["hash"], "done", timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24_000_000, (
        f"peak Python memory {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB input"
    )
    assert done["data"]["input_file"]["size"] == f"{size / 1024 / 1024:.2f} MB"
    head = requests.get(
        done["data"]["files"][0]["url"], headers={"Range": "bytes=0-43"}, timeout=10
    ).content
    assert head[:4] == b"RIFF"

"""A create whose body comes without a length (chunked): read as any other by default; with
``chunked_uploads`` as a server that takes no such body (Apache handing PHP-FPM nothing: a
401 for the token it never saw; mod_fcgid: a 411), and no job either way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import api, write_audio


def _chunked_create(url: str, token: str, audio: Path) -> requests.Response:
    boundary = "chunkedboundary"

    def body() -> Iterator[bytes]:
        for name, value in (("api_token", token), ("sep_type", "48"), ("output_format", "1")):
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="audiofile"; '
            f'filename="{audio.name}"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode()
        data = audio.read_bytes()
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]
        yield f"\r\n--{boundary}--\r\n".encode()

    return requests.post(
        url,
        data=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )


@pytest.mark.parametrize(
    ("mode", "status"), [("accept", 200), ("empty_body", 401), ("length_required", 411)]
)
def test_a_chunked_create_meets_the_server_it_is_set_to_be(
    make_server: ServerFactory, tmp_path: Path, mode: str, status: int
) -> None:
    server = make_server(chunked_uploads=mode)
    token = server.add_account(plan="premium", credits=100).token
    audio = write_audio(tmp_path / "Take.wav", 1.0)
    answer = _chunked_create(api(server, "separation/create"), token, audio)
    assert answer.status_code == status, answer.text
    jobs = server.state.jobs()
    if mode == "accept":
        (job,) = jobs
        assert job.input_size == audio.stat().st_size
    else:
        assert jobs == []

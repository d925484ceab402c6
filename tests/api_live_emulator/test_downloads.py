"""``download_result`` against the emulator's ``/storage`` over real HTTP.

Whole files (stems and the input copy), resuming a ``.part`` with a Range request answered 206,
the ``max_bytes`` limit, refused origins, and the file names long-filenames mode changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile

from mvsepd.api import MvsepClient, Transport
from mvsepd.emulator import EmulatorServer
from mvsepd.errors import DownloadError, UnsafeDownloadError
from mvsepd.models import ResultFile, SeparationStatus
from tests.api_live_emulator.support import SAMPLERATE, ProgressLog, RecordingAdapter, finished

MODEL_RATE = 44100

MEL_ROFORMER = 48


@pytest.fixture
def done(server: EmulatorServer, premium: MvsepClient, audio: Path) -> SeparationStatus:
    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    status = finished(server, premium, created.hash)
    assert len(status.files) == 2
    return status


def served(server: EmulatorServer, file: ResultFile) -> bytes:
    """The bytes the emulator holds for a result file (what a download must reproduce)."""
    return (server.storage.processed / file.url.rsplit("/", 1)[-1]).read_bytes()


def test_every_stem_downloads_whole_with_progress(
    server: EmulatorServer, premium: MvsepClient, done: SeparationStatus, tmp_path: Path
) -> None:
    for file in done.files:
        assert file.download_name is not None
        destination = tmp_path / file.download_name
        seen = ProgressLog()

        path = premium.download_result(file, destination, progress=seen)

        assert path == destination
        assert destination.read_bytes() == served(server, file)
        assert seen[0] == (0, destination.stat().st_size)
        assert seen[-1] == (destination.stat().st_size, destination.stat().st_size)
        assert not destination.with_name(destination.name + ".part").exists()
        info = soundfile.info(str(destination))
        # MVSEP's models return 44.1 kHz stereo whatever the upload's rate was.
        assert info.samplerate == MODEL_RATE != SAMPLERATE and info.channels == 2


def test_the_input_copy_downloads_byte_for_byte(
    premium: MvsepClient, done: SeparationStatus, audio: Path, tmp_path: Path
) -> None:
    assert done.input_file is not None

    path = premium.download_result(done.input_file, tmp_path / "input.wav")

    assert path.read_bytes() == audio.read_bytes()


def test_a_part_file_is_resumed_with_a_range_request(
    server: EmulatorServer,
    premium_token: str,
    done: SeparationStatus,
    tmp_path: Path,
) -> None:
    recorder = RecordingAdapter()
    with Transport(retries=0) as transport:
        transport.mount("http://", recorder)  # the same real HTTP, with a log of exchanges
        client = MvsepClient(premium_token, server=server.url, transport=transport)
        file = done.files_of_type("Vocals")[0]
        content = served(server, file)
        half = len(content) // 2
        destination = tmp_path / "vocals.wav"
        part = destination.with_name("vocals.wav.part")
        part.write_bytes(content[:half])
        seen = ProgressLog()

        client.download_result(
            file,
            destination,
            expected_size=len(content),
            progress=seen,
        )

    assert destination.read_bytes() == content
    assert not part.exists()
    (exchange,) = recorder.exchanges
    assert exchange.headers["Range"] == f"bytes={half}-"
    assert exchange.status == 206
    assert seen[0] == (half, len(content))  # it started from the half already on disk


def test_a_file_larger_than_max_bytes_is_refused_and_nothing_is_left(
    server: EmulatorServer, premium: MvsepClient, done: SeparationStatus, tmp_path: Path
) -> None:
    file = done.files[0]
    destination = tmp_path / "vocals.wav"

    with pytest.raises(DownloadError, match="more than the limit of 1 kB") as refused:
        premium.download_result(file, destination, max_bytes=1000)

    assert not isinstance(refused.value, UnsafeDownloadError)
    assert not destination.exists()
    assert not destination.with_name("vocals.wav.part").exists()
    with pytest.raises(DownloadError, match="expected"):
        premium.download_result(file, destination, expected_size=len(served(server, file)) - 1)
    assert not destination.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:{port}/storage/processed/vocals.wav",  # another host
        "http://127.0.0.1:{other_port}/storage/processed/vocals.wav",  # another port
        "https://127.0.0.1:{port}/storage/processed/vocals.wav",  # another scheme
        "file:///etc/passwd",
    ],
)
def test_urls_off_the_jobs_server_are_never_fetched(
    server: EmulatorServer, premium: MvsepClient, tmp_path: Path, url: str
) -> None:
    other_port = server.port + 1 if server.port < 65535 else server.port - 1
    file = ResultFile(type="Vocals", url=url.format(port=server.port, other_port=other_port))

    with pytest.raises(UnsafeDownloadError, match="refusing to fetch"):
        premium.download_result(file, tmp_path / "vocals.wav", server=server.url)

    assert not (tmp_path / "vocals.wav").exists()
    assert not (tmp_path / "vocals.wav.part").exists()


def test_long_filenames_change_the_download_names(
    server: EmulatorServer, premium: MvsepClient, audio: Path, tmp_path: Path
) -> None:
    short = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    assert premium.enable_long_filenames().message == "successfully enabled"
    assert premium.user().long_filenames_enabled is True
    long = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    assert premium.disable_long_filenames().message == "successfully disabled"
    assert premium.user().long_filenames_enabled is False
    back = premium.create_separation(audio, sep_type=MEL_ROFORMER)

    names = {
        job: {file.type: file.download_name for file in finished(server, premium, job).files}
        for job in (short.hash, long.hash, back.hash)
    }

    slug = "luke-s-theme-a-madman-s-symphony"
    assert names[short.hash]["Vocals"] == f"{slug}_melbandroformer_mt_4_vocals.wav"
    # Long names spell out the model and the chosen options.
    assert str(names[long.hash]["Vocals"]).startswith(
        f"{slug}_melband-roformer-vocals-instrumental"
    )
    assert str(names[long.hash]["Vocals"]).endswith("_mt_4_vocals.wav")
    assert names[back.hash] == names[short.hash]
    vocals = finished(server, premium, long.hash).files_of_type("Vocals")[0]
    assert vocals.download_name is not None
    path = premium.download_result(vocals, tmp_path / vocals.download_name)
    assert path.name == vocals.download_name and path.stat().st_size > 0

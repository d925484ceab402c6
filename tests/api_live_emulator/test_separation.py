"""Every ``/separation/*`` method of MvsepClient against the emulator over real HTTP.

Creates (upload with progress and catalog checks, URL through get-remote's three stages,
matchering, no-upload), status reads (plain and ``mirror=True``), cancel with its refund and
delete. Statuses one by one are in ``test_statuses``; downloads in ``test_downloads``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mvsepd.api import MvsepClient
from mvsepd.api.wire import hash_matches_filename, is_separation_hash
from mvsepd.emulator import EmulatorServer
from mvsepd.errors import InputError, InvalidRequestError
from mvsepd.models import AlgorithmScope, OutputFormat, RemoteStatus
from tests.api_live_emulator.conftest import ClientFactory, ServerFactory
from tests.api_live_emulator.support import ProgressLog, finished, settle, write_audio

MEL_ROFORMER = 48  # MelBand Roformer (vocals, instrumental): outputs Vocals and Other
BARK = 115  # Bark (Speech Gen): a no-upload model with a prompt field
MATCHERING = 68


def test_create_separation_streams_the_file_and_reports_progress(
    server: EmulatorServer, premium: MvsepClient, premium_token: str, audio: Path
) -> None:
    seen = ProgressLog()

    created = premium.create_separation(
        audio,
        sep_type=MEL_ROFORMER,
        options={"add_opt1": "1", "add_opt2": ""},
        output_format=OutputFormat.FLAC16,
        progress=seen,
    )

    assert created.server == server.url
    assert is_separation_hash(created.hash)
    assert hash_matches_filename(created.hash, audio.name)
    assert created.link == f"{server.url}/api/separation/get?hash={created.hash}"
    total = seen[-1][1]
    assert total > audio.stat().st_size  # the multipart body: file plus form fields
    assert seen[-1] == (total, total)
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)
    job = server.state.job(created.hash)
    assert job is not None
    assert job.sep_type == MEL_ROFORMER
    assert job.options == {"add_opt1": "1"}  # an empty option is left out: the server's default
    assert job.output_format == OutputFormat.FLAC16
    assert server.state.credits(premium_token) == 99  # one second costs the minimum, 1 credit

    status = finished(server, premium, created.hash)
    assert status.status is RemoteStatus.DONE
    assert status.output_format == OutputFormat.FLAC16.label
    assert {file.type for file in status.files} == {"Vocals", "Other"}
    assert all(file.url.endswith(".flac") for file in status.files)


def test_create_separation_checks_the_catalog_before_uploading(
    server: EmulatorServer, premium: MvsepClient, premium_token: str, audio: Path
) -> None:
    catalog = premium.algorithms(
        [AlgorithmScope.SINGLE_UPLOAD, AlgorithmScope.NO_UPLOAD, AlgorithmScope.MATCHERING_UPLOAD]
    )

    with pytest.raises(InputError, match="9999 is not in the catalog"):
        premium.create_separation(audio, sep_type=9999, catalog=catalog)
    with pytest.raises(InputError, match="'zzz' is not a key"):
        premium.create_separation(
            audio, sep_type=MEL_ROFORMER, options={"add_opt1": "zzz"}, catalog=catalog
        )
    with pytest.raises(InputError, match="use create_without_upload"):
        premium.create_separation(audio, sep_type=BARK, catalog=catalog)
    assert server.state.create_count(premium_token) == 0

    created = premium.create_separation(
        audio, sep_type=MEL_ROFORMER, options={"add_opt1": "3"}, catalog=catalog
    )
    assert server.state.create_count(premium_token) == 1
    assert hash_matches_filename(created.hash, audio.name)


def test_a_url_create_goes_through_get_remote_in_three_stages(
    make_server: ServerFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    # A queue wait makes the middle stage visible: the real job is waiting before it runs.
    server = make_server(queue_seconds=30.0, remote_download_polls=2)
    client = make_client(server.add_account(plan="premium", credits=100).token, on=server)
    source = client.create_separation(write_audio(tmp_path / "Source Song.wav"), sep_type=48)
    # The emulator fetches only loopback URLs, so the link is the first job's input copy.
    link = f"{server.url}/storage/temp/{source.hash}"

    remote = client.create_separation_from_url(link, sep_type=MEL_ROFORMER)

    assert remote.server == server.url
    assert not is_separation_hash(remote.short_hash)
    downloading = [client.get_remote(remote.short_hash) for _ in range(2)]
    for answer in downloading:  # stage 1: "being downloaded", read as still running
        assert answer.status is RemoteStatus.UNKNOWN
        assert answer.message is not None and "being downloaded" in answer.message
        assert answer.separation_hash is None
    stage_two = client.get_remote(remote.short_hash)  # stage 2: the job's own status
    assert stage_two.status is RemoteStatus.WAITING
    assert stage_two.queue_count == 2
    assert stage_two.current_order == 2
    assert stage_two.separation_hash is None

    server.advance(30.0)
    settle(server)
    settle(server)
    done = client.get_remote(remote.short_hash)  # stage 3: done, with the real hash
    assert done.status is RemoteStatus.DONE
    assert done.separation_hash is not None and is_separation_hash(done.separation_hash)
    assert done.link == f"{server.url}/api/separation/get?hash={done.separation_hash}"
    status = client.get_separation(done.separation_hash)
    assert status.status is RemoteStatus.DONE
    assert {file.type for file in status.files} == {"Vocals", "Other"}


def test_a_url_create_refuses_non_http_links_locally(
    server: EmulatorServer, premium: MvsepClient, premium_token: str
) -> None:
    with pytest.raises(InputError, match="url"):
        premium.create_separation_from_url("file:///etc/passwd", sep_type=MEL_ROFORMER)
    with pytest.raises(InputError, match="remote_type"):
        premium.create_separation_from_url(
            f"{server.url}/storage/temp/x.wav", remote_type="ftp", sep_type=MEL_ROFORMER
        )
    assert server.state.create_count(premium_token) == 0


def test_create_matchering_uploads_target_and_reference(
    server: EmulatorServer, premium: MvsepClient, tmp_path: Path
) -> None:
    target = write_audio(tmp_path / "Rough Mix.wav", 1.0, seed=1)
    reference = write_audio(tmp_path / "Reference.wav", 0.5, seed=2)
    seen = ProgressLog()
    catalog = premium.algorithms([AlgorithmScope.MATCHERING_UPLOAD])

    created = premium.create_matchering(target, reference, catalog=catalog, progress=seen)

    assert hash_matches_filename(created.hash, target.name)
    assert seen[-1][0] == seen[-1][1] > target.stat().st_size + reference.stat().st_size
    job = server.state.job(created.hash)
    assert job is not None and job.sep_type == MATCHERING and job.kind == "matchering_upload"
    status = finished(server, premium, created.hash)
    assert status.status is RemoteStatus.DONE
    assert status.files


def test_create_without_upload_sends_only_text_options(
    server: EmulatorServer, premium: MvsepClient
) -> None:
    catalog = premium.algorithms([AlgorithmScope.NO_UPLOAD])

    created = premium.create_without_upload(
        sep_type=BARK, options={"add_opt1": "Hello there", "add_opt2": "en_1"}, catalog=catalog
    )

    assert is_separation_hash(created.hash)
    assert created.hash.endswith("-hello-there.wav")
    job = server.state.job(created.hash)
    assert job is not None and job.kind == "no_upload"
    assert job.options == {"add_opt1": "Hello there", "add_opt2": "en_1"}
    status = finished(server, premium, created.hash)
    assert status.status is RemoteStatus.DONE
    assert status.input_file is None  # nothing was uploaded
    assert status.files


def test_get_separation_reads_a_finished_job_completely(
    server: EmulatorServer, premium: MvsepClient, audio: Path
) -> None:
    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)

    status = finished(server, premium, created.hash)

    assert status.hash == created.hash
    assert status.status is RemoteStatus.DONE and status.raw_status == "done"
    assert status.algorithm == "MelBand Roformer (vocals, instrumental)"
    assert status.algorithm_description
    assert status.output_format == OutputFormat.WAV16.label
    assert status.date == "2023-11-14 22:13:20"
    assert status.size_text is not None and status.size_text.endswith("KB")
    assert status.input_file is not None
    assert status.input_file.url == f"{server.url}/storage/temp/{created.hash}"
    for file in status.files:
        assert file.url.startswith(f"{server.url}/storage/processed/")
        assert file.download_name is not None and file.download_name.endswith(".wav")
        assert file.approximate_size is not None and file.approximate_size > 0
    assert status.files_of_type("vocals")[0].type == "Vocals"
    assert status.tags  # getID3-like description of the input


def test_mirror_reads_charge_one_credit_once_per_job(
    server: EmulatorServer, premium: MvsepClient, premium_token: str, audio: Path
) -> None:
    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    assert finished(server, premium, created.hash).status is RemoteStatus.DONE
    before = server.state.credits(premium_token)

    mirrored = premium.get_separation(created.hash, mirror=True)
    again = premium.get_separation(created.hash, mirror=True, server=server.url)

    assert mirrored.status is RemoteStatus.DONE and again.status is RemoteStatus.DONE
    assert {file.type for file in mirrored.files} == {"Vocals", "Other"}
    assert server.state.credits(premium_token) == before - 1
    assert premium.user().credits == before - 1


def test_cancel_refunds_a_waiting_job_and_refuses_a_running_one(
    make_server: ServerFactory, make_client: ClientFactory, audio: Path
) -> None:
    server = make_server(queue_seconds=60.0, processing_seconds=60.0, workers=1)
    token = server.add_account(plan="premium", credits=100).token
    client = make_client(token, on=server)
    created = client.create_separation(audio, sep_type=MEL_ROFORMER)
    assert client.get_separation(created.hash).status is RemoteStatus.WAITING
    assert server.state.credits(token) == 99

    result = client.cancel_separation(created.hash, server=created.server)

    assert result.message == "successfully cancelled"
    assert server.state.credits(token) == 100
    assert client.get_separation(created.hash).status is RemoteStatus.NOT_FOUND
    (entry,) = client.separation_history()
    assert entry.hash == created.hash
    assert entry.job_exists is False and entry.credits is None

    running = client.create_separation(audio, sep_type=MEL_ROFORMER)
    server.advance(60.0)
    assert client.get_separation(running.hash).status is RemoteStatus.PROCESSING
    with pytest.raises(InvalidRequestError, match="cannot be cancelled") as refused:
        client.cancel_separation(running.hash)
    assert refused.value.status == 400
    assert server.state.credits(token) == 99  # the running job stays paid


def test_delete_removes_the_job_and_its_files(
    server: EmulatorServer, premium: MvsepClient, audio: Path, tmp_path: Path
) -> None:
    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    status = finished(server, premium, created.hash)
    processed = sorted(server.storage.processed.iterdir())
    assert len(processed) == len(status.files) == 2

    result = premium.delete_separation(created.hash, server=created.server)

    assert result.message == "successfully deleted"
    assert premium.get_separation(created.hash).status is RemoteStatus.NOT_FOUND
    assert not any(path.exists() for path in processed)
    assert not (server.storage.temp / created.hash).exists()
    (entry,) = premium.separation_history()
    assert entry.job_exists is False

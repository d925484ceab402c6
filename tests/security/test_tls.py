"""TLS is always verified, and nothing a server answers can turn that off.

The real emulator is served over https on 127.0.0.1 with a throwaway self-signed certificate
(made by the ``openssl`` command in the test's folder). Every way mvsepd talks to MVSEP (API
reads, the multipart upload, result downloads; the daemon uses the same client) refuses it
before a single request reaches the server. The positive control: the very same server is
accepted once the user trusts its certificate (``REQUESTS_CA_BUNDLE``), so the refusal is the
verification and nothing else; even then a result's redirect from https to http is refused.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from mvsepd.api import MvsepClient, Transport
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.errors import MvsepError, NetworkError, UnsafeDownloadError
from mvsepd.models import SeparationStatus
from tests.integration.support import wait_until, wav_bytes

#: Variables through which a user (never a server) may choose which certificates to trust.
TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        return  # refused handshakes are the point here, not noise to print


@dataclasses.dataclass
class TlsEmulator:
    """The emulator's application over https, counting the requests that got through TLS."""

    emulator: EmulatorServer
    certificate: Path
    port: int = 0
    requests: list[str] = dataclasses.field(default_factory=list)
    redirect_to_http: bool = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def application(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        self.requests.append(request.full_path)
        if self.redirect_to_http and request.path.startswith("/storage/"):
            plain = f"http://127.0.0.1:{self.port}{request.full_path}"
            return Response(status=302, headers={"Location": plain})(environ, start_response)
        return self.emulator.app(environ, start_response)


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[TlsEmulator]:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make a throwaway certificate"
    certificate, key = tmp_path / "certificate.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(certificate), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    settings = EmulatorSettings(
        publish_seconds=0.3, queue_seconds=0.0, processing_seconds=0.1, rate_limit=False
    )
    with EmulatorServer(settings) as emulator:
        served = TlsEmulator(emulator, certificate)
        server: BaseWSGIServer = make_server(
            "127.0.0.1",
            0,
            served.application,
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=(str(certificate), str(key)),
        )
        served.port = int(server.server_port)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
        thread.start()
        try:
            yield served
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


@pytest.fixture(autouse=True)
def trust_nothing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TRUST_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _finished(client: MvsepClient, separation_hash: str) -> SeparationStatus:
    """Poll until the job is done and its stems are published; return its status."""

    def done() -> SeparationStatus | None:
        status = client.get_separation(separation_hash)
        return status if status.published else None  # done, every stem with an address

    finished: SeparationStatus = wait_until(done, 30, message="the job to finish")
    return finished


def _client(token: str, server: str) -> MvsepClient:
    return MvsepClient(token, server=server, transport=Transport(retries=0, sleep=lambda s: None))


def _refused(call: Callable[[], object]) -> NetworkError:
    with pytest.raises(MvsepError) as raised:
        call()
    error = raised.value
    assert type(error) is NetworkError, error  # nothing was sent: not "outcome unknown"
    assert "TLS with " in error.detail and " failed (certificate or handshake)" in error.detail
    assert "CERTIFICATE_VERIFY_FAILED" in error.detail
    return error


def test_a_server_with_an_untrusted_certificate_is_refused_everywhere(
    tls: TlsEmulator, tmp_path: Path
) -> None:
    token = tls.emulator.add_account(plan="premium", credits=10).token
    client = _client(token, tls.url)
    audio = tmp_path / "song.wav"
    audio.write_bytes(wav_bytes(0.2))
    _refused(client.user)
    _refused(lambda: client.create_separation(audio, sep_type=20))
    # A result file on that server (its URL as an honest job would give it).
    plain = _client(token, tls.emulator.url)
    created = plain.create_separation(audio, sep_type=20)
    status = _finished(plain, created.hash)
    stem = dataclasses.replace(
        status.files[0], url=status.files[0].url.replace(tls.emulator.url, tls.url)
    )
    _refused(lambda: client.download_result(stem, tmp_path / "stem.wav"))
    assert tls.requests == [], "a request got through an unverified TLS connection"
    assert tls.emulator.state.create_count(token) == 1  # only the plain one
    assert not (tmp_path / "stem.wav").exists()


def test_trusted_by_the_user_it_works_and_a_redirect_to_http_is_still_refused(
    tls: TlsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.certificate))
    token = tls.emulator.add_account(plan="premium", credits=10).token
    client = _client(token, tls.url)
    assert client.user().credits == 10  # verification passes: the refusals above were it
    audio = tmp_path / "song.wav"
    audio.write_bytes(wav_bytes(0.2))
    created = client.create_separation(audio, sep_type=20)
    status = _finished(client, created.hash)
    tls.redirect_to_http = True
    with pytest.raises(UnsafeDownloadError, match="host is not the job's server"):
        client.download_result(status.files[0], tmp_path / "stem.wav")
    assert not any(path.startswith("/storage/") and "http:" in path for path in tls.requests)
    assert not (tmp_path / "stem.wav").exists()

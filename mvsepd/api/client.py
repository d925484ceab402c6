"""``MvsepClient``: every endpoint of MVSEP's API page as a typed method.

The client checks input (``inputs``), builds requests, sends them through ``Transport`` and
reads answers with ``wire``; it knows nothing of the daemon. Where the token goes: the
``api_token`` form field on POSTs; the query string only on the GETs that need it
(``/app/user``, ``/app/separation_history``, ``/app/queue`` when a token is set, and
``/separation/get`` with ``mirror=1``); plain status polls, downloads, the catalog, news, demo
and Quality Checker reads never carry it. Every MvsepError leaving the client is scrubbed of
the token's value as a last line of defence (see ``redaction`` for the others).

A job remembers its host: ``create_*`` return ``server`` (the base URL used), and
``get_separation``/``get_remote``/``cancel_separation``/``delete_separation``/``download_result``
take ``server=`` so that polls and downloads go to the job's own region.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mvsepd.api import inputs, wire
from mvsepd.api.client_account import AccountCalls
from mvsepd.api.client_core import NO_OPTIONS, parts, upload_part
from mvsepd.api.servers import download_origins, resolve_server
from mvsepd.api.transport import Progress
from mvsepd.errors import InputError
from mvsepd.models import (
    ActionResult,
    Algorithm,
    AlgorithmScope,
    OutputFormat,
    RemoteCreated,
    RemoteJobStatus,
    ResultFile,
    SeparationCreated,
    SeparationStatus,
)


class MvsepClient(AccountCalls):
    """A typed client for one MVSEP account (or none) on one server.

    ``MvsepClient(token, server="mvsep.com", transport=None)``: ``token`` may be None for the
    calls that need none; ``server`` is a regional name (``de``, ``de2``, ``hk``, ``sg``), an MVSEP
    host or any http(s) base URL (the emulator). ``repr`` shows the server, never the token.
    """

    # -- separation ------------------------------------------------------------------------

    def create_separation(
        self,
        audio: Path,
        *,
        sep_type: int,
        options: Mapping[str, str] = NO_OPTIONS,
        output_format: OutputFormat | int = OutputFormat.WAV16,
        is_demo: bool = False,
        catalog: Sequence[Algorithm] | None = None,
        progress: Progress | None = None,
        upload_name: str | None = None,
        stream: Iterable[bytes] | None = None,
    ) -> SeparationCreated:
        """Given an audio file and a model (``render_id``), upload it and return the new job.

        The file is streamed under ``upload_name`` (default: its own name); ``progress`` gets
        ``(bytes_sent, bytes_total)``. With ``stream``, its bytes are sent in place of the
        file's (made as they go, such as the file's samples as FLAC) with chunked transfer
        encoding, no length known in advance; a server that refuses such a body raises
        StreamRefusedError (nothing was created: send it again with a length). Raise InputError
        before any upload for a missing/empty file, bad options or, with ``catalog``, an
        unknown model or option; QueueFullError, PremiumRequiredError, FileTooLargeError or
        InvalidRequestError when MVSEP refuses; OutcomeUnknownError when the answer was lost
        after the upload went out (look in ``separation_history`` before trying again).
        """
        fields = self._create_fields(
            sep_type, options, output_format, is_demo, catalog, AlgorithmScope.SINGLE_UPLOAD
        )
        if stream is not None:
            with inputs.open_input(audio, "audio"):
                pass  # the same checks (there, not a folder, not empty) as a file sent as it is
            name = upload_name or Path(audio).name
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return self._upload(
                "/separation/create",
                fields,
                [],
                None,
                lambda r: wire.parse_created(*parts(r), server=self._server),
                stream=("audiofile", (name, stream, content_type)),
            )
        with inputs.open_input(audio, "audio") as audio_file:
            files = [("audiofile", upload_part(Path(audio), audio_file, upload_name))]
            return self._upload(
                "/separation/create",
                fields,
                files,
                progress,
                lambda r: wire.parse_created(*parts(r), server=self._server),
            )

    def create_separation_from_url(
        self,
        url: str,
        *,
        remote_type: str = "direct",
        sep_type: int,
        options: Mapping[str, str] = NO_OPTIONS,
        output_format: OutputFormat | int = OutputFormat.WAV16,
        is_demo: bool = False,
        catalog: Sequence[Algorithm] | None = None,
    ) -> RemoteCreated:
        """Given a link (``remote_type`` direct/mega/drive/dropbox), return the short hash job.

        Poll it with ``get_remote``. Raise InputError for a non-http(s) URL or an unknown
        ``remote_type``; otherwise as ``create_separation``.
        """
        link, kind = inputs.check_url(url, remote_type)
        fields = self._create_fields(
            sep_type, options, output_format, is_demo, catalog, AlgorithmScope.SINGLE_UPLOAD
        )
        fields[1:1] = [("url", link), ("remote_type", kind)]
        return self._upload(
            "/separation/create",
            fields,
            [],
            None,
            lambda r: wire.parse_remote_created(*parts(r), server=self._server),
        )

    def create_matchering(
        self,
        target: Path,
        reference: Path,
        *,
        sep_type: int = 68,
        options: Mapping[str, str] = NO_OPTIONS,
        output_format: OutputFormat | int = OutputFormat.WAV16,
        is_demo: bool = False,
        catalog: Sequence[Algorithm] | None = None,
        progress: Progress | None = None,
    ) -> SeparationCreated:
        """Given a target and a reference track, upload both to a matchering model; return the job.

        Raise as ``create_separation``.
        """
        fields = self._create_fields(
            sep_type, options, output_format, is_demo, catalog, AlgorithmScope.MATCHERING_UPLOAD
        )
        with (
            inputs.open_input(target, "target") as target_file,
            inputs.open_input(reference, "reference") as reference_file,
        ):
            files = [
                ("target_audiofile", upload_part(Path(target), target_file)),
                ("reference_audiofile", upload_part(Path(reference), reference_file)),
            ]
            return self._upload(
                "/separation/create",
                fields,
                files,
                progress,
                lambda r: wire.parse_created(*parts(r), server=self._server),
            )

    def create_without_upload(
        self,
        *,
        sep_type: int,
        options: Mapping[str, str] = NO_OPTIONS,
        output_format: OutputFormat | int = OutputFormat.WAV16,
        is_demo: bool = False,
        catalog: Sequence[Algorithm] | None = None,
    ) -> SeparationCreated:
        """Given a no-upload model (TTS, generation) and its text options, return the new job.

        Raise as ``create_separation``.
        """
        fields = self._create_fields(
            sep_type, options, output_format, is_demo, catalog, AlgorithmScope.NO_UPLOAD
        )
        return self._upload(
            "/separation/create",
            fields,
            [],
            None,
            lambda r: wire.parse_created(*parts(r), server=self._server),
        )

    def get_separation(
        self, hash: str, *, mirror: bool = False, server: str | None = None
    ) -> SeparationStatus:
        """Given a separation hash, return its status, queue position, progress and files.

        ``mirror=True`` asks for files on another mirror (sends the token, costs 1 credit).
        An unknown or expired hash reads as status NOT_FOUND. Raise InvalidTokenError (mirror
        only), NotFoundError on HTTP 404, ServerError, NetworkError or ProtocolError.
        """
        params = {"hash": inputs.check_identifier(hash, "hash")}
        if inputs.check_flag(mirror, "mirror") == "1":
            params["mirror"] = "1"
            params["api_token"] = self._wire_token()
        return self._get(
            "/separation/get",
            params,
            lambda r: wire.parse_separation(*parts(r), separation_hash=params["hash"]),
            server,
        )

    def get_remote(self, short_hash: str, *, server: str | None = None) -> RemoteJobStatus:
        """Given the short hash of a URL create, return its status (and the real hash when done).

        "Being downloaded" answers read as UNKNOWN (still running); ``not_found`` shortly after
        the create is normal for a minute or two. Raise as ``get_separation``.
        """
        params = {"hash": inputs.check_identifier(short_hash, "short_hash")}
        return self._get(
            "/separation/get-remote",
            params,
            lambda r: wire.parse_remote_status(*parts(r), short_hash=params["hash"]),
            server,
        )

    def cancel_separation(self, hash: str, *, server: str | None = None) -> ActionResult:
        """Given a waiting job's hash, cancel it (credits are refunded); return MVSEP's message.

        Raise InvalidRequestError when MVSEP refuses (e.g. the job already started).
        """
        return self._post_action(
            "/separation/cancel", {"hash": inputs.check_identifier(hash, "hash")}, server
        )

    def delete_separation(self, hash: str, *, server: str | None = None) -> ActionResult:
        """Given a job's hash, delete it and its files at MVSEP (endpoint seen in one client only).

        Raise NotFoundError if MVSEP does not offer it or knows no such job.
        """
        return self._post_action(
            "/separation/delete", {"hash": inputs.check_identifier(hash, "hash")}, server
        )

    def download_result(
        self,
        file: ResultFile,
        destination: Path,
        *,
        server: str | None = None,
        expected_size: int | None = None,
        max_bytes: int | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Given a result file and a destination path, download it there and return the path.

        Written as ``<destination>.part`` (resumed if present) and renamed when complete. Only
        http(s) URLs on the job's server (or this client's, or MVSEP's own hosts) are fetched.
        Without ``max_bytes`` or ``expected_size``, twice MVSEP's stated size plus 1 MiB is the
        limit. Raise UnsafeDownloadError, DownloadError (size), NotFoundError (expired),
        NetworkError (``.part`` kept), OutputError (local disk), InputError (bad arguments).
        """
        if not isinstance(file, ResultFile):
            raise InputError("file: expected a ResultFile from get_separation", field="file")
        target = Path(destination)
        if target.is_dir():
            raise InputError(f"destination: {target} is a directory", field="destination")
        if not target.parent.is_dir():
            raise InputError(
                f"destination: folder {target.parent} does not exist", field="destination"
            )
        for name, value in (("expected_size", expected_size), ("max_bytes", max_bytes)):
            if value is not None:
                inputs.check_count(value, name, minimum=0 if name == "expected_size" else 1)
        if max_bytes is None and expected_size is None and file.approximate_size is not None:
            max_bytes = file.approximate_size * 2 + 1024 * 1024
        servers = [self._server] if server is None else [self._server, resolve_server(server)]
        with self._scrubbed():
            return self._transport.download(
                file.url,
                target,
                allowed_origins=download_origins(servers),
                expected_size=expected_size,
                max_bytes=max_bytes,
                progress=progress,
            )

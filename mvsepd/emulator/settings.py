"""The emulator's knobs: one frozen dataclass, every field defaulted.

Defaults aim at a believable interactive demo (a few seconds in the queue, a few seconds of
processing). Tests set the timings to zero and drive a ``ManualClock`` instead. Values that copy a
documented or recorded MVSEP limit say where they come from; see the package README.
"""

from __future__ import annotations

import dataclasses

MEGABYTE = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class EmulatorSettings:
    """How the emulated MVSEP behaves. Immutable; build a new one with ``dataclasses.replace``."""

    # --- job timings (seconds of the injected clock) ---
    queue_seconds: float = 2.0
    """Minimum time a job spends in ``waiting`` before a worker may pick it up."""
    processing_seconds: float = 5.0
    """Time a job spends in ``processing`` (or ``distributing`` for long inputs)."""
    merging_seconds: float = 2.0
    """Time a distributed job spends in ``merging`` after its chunks are done."""
    workers: int = 2
    """Jobs processed at the same time, across all accounts (the emulated GPU pool)."""
    distribute_above_seconds: float = 900.0
    """Inputs longer than this are split over several GPUs ("15 minutes and more", MVSEP news)."""
    chunk_seconds: float = 300.0
    """Length of one chunk of a distributed job (``all_chunks`` = ceil(duration / this))."""
    retention_hours: float = 72.0
    """Results are deleted this long after creation; ``separation/get`` then says not_found."""

    # --- limits ---
    free_max_unfinished: int = 1
    """Unfinished jobs a free account may have (MVSEP: 1)."""
    premium_max_unfinished: int | None = 10
    """Unfinished jobs a premium account may have; None means unlimited."""
    free_max_upload_bytes: int | None = 100 * MEGABYTE
    """Largest upload a free account may send (about 100 MB per two integrators)."""
    premium_max_upload_bytes: int | None = None
    """Largest upload a premium account may send; None means no limit."""
    max_request_bytes: int | None = None
    """Hard cap on any request body (Werkzeug ``max_content_length``); None means no cap."""
    premium_only_sep_types: frozenset[int] = frozenset({26, 28, 30})
    """Models refused to free accounts (the ensembles)."""
    mirror_cost: int = 1
    """Credits charged the first time a finished job is fetched with ``mirror=1``."""

    # --- rate limiting (Laravel throttle middleware) ---
    rate_limit: bool = True
    """Answer 429 past the limit. When False the headers still count down but never go below 0."""
    rate_limit_strict: int = 60
    """Requests per window for separation/get, app/algorithms and app/register."""
    rate_limit_default: int = 120
    """Requests per window for every other API route."""
    rate_limit_window_seconds: float = 60.0

    # --- the network link (real seconds, not the injected clock) ---
    upload_rate: float | None = None
    """Bytes per second each account may send, over all its connections; None: loopback."""
    download_rate: float | None = None
    """Bytes per second each account may receive from /storage; None: loopback."""
    latency_ms: float = 0.0
    """A fixed delay before every answer (a link's round trip)."""

    keepalive_seconds: float | None = 5.0
    """Connections are kept open between requests and closed after this long idle, as MVSEP's
    Apache does (``Keep-Alive: timeout=5, max=100`` [REC Postman]); None closes every
    connection after its answer."""
    keepalive_max_requests: int = 100
    """Requests one connection may carry before the server closes it."""
    keepalive_close_late: bool = False
    """The server's close of an idle connection reaches the client only after its next request
    went out, as over a link with latency (on loopback the close arrives at once and a client
    sees it before reusing the connection): that request meets a closed connection."""

    chunked_uploads: str = "accept"
    """What a request body sent without a length (chunked transfer encoding) meets: ``accept``
    (mod_php, nginx in front: it is read as any body); ``empty_body`` (Apache with PHP-FPM:
    the application gets no body at all, so no token and no file [3P: PHP bug 60826,
    nextcloud/server#43047]); ``length_required`` (mod_fcgid: 411 [3P: libapache-mod-fastcgi
    #6]). Which of them mvsep.com is, is not known [INF]."""

    # --- static files ---
    range_requests: bool = True
    """Honour HTTP Range on /storage files (206 / 416). When False, always answer 200 in full."""

    # --- publishing ---
    publish_seconds: float = 2.0
    """After a job turns ``done``, how long its stems take to be published (exported to
    storage): at first ``files: []``, then every record listed with ``url: ""``, each filled in
    turn; all of them by the end [REC madisonrickert/ablevsep src/separate-core.ts; shape INF].
    0 publishes every stem with ``done``."""
    publish_jitter: float = 0.5
    """Each job's publishing time is ``publish_seconds`` times a factor drawn (seeded) from
    1 ± this."""
    slow_publish_seconds: float = 300.0
    """Publishing time of jobs created while the ``slow_publish`` fault is armed, unless the
    fault sets its own (``delay_seconds``): "minutes under free-tier load"."""

    # --- URL (remote) jobs ---
    remote_download_polls: int = 2
    """get-remote answers "being downloaded" this many times before the job exists."""
    remote_download_seconds: float = 0.0
    """... and for at least this long after the create."""
    remote_synthetic_seconds: float = 3.0
    """Length of the audio invented for URLs the emulator cannot fetch (anything not loopback)."""

    # --- audio ---
    output_rate: int | None = 44100
    """Rate of every stem (MVSEP's models run at 44.1 kHz in stereo, whatever came in [INF]);
    None echoes the source's rate, channels and length (stems then sum back to the input)."""
    ffmpeg_binary: str | None = "ffmpeg"
    """Program used for m4a output (and for inputs libsndfile cannot read); None disables it."""
    render_block_frames: int = 65536
    """Frames per block when generating stems; bounds memory use for very long inputs."""

    # --- faults ---
    seed: int = 0
    """Seed of the fault-injection random generator (rate-based faults are reproducible)."""
    slow_response_seconds: float = 2.0
    """Delay added by the ``slow`` fault unless the fault sets its own."""
    fault_retry_after_seconds: int = 1
    """``Retry-After`` sent with the 429 of the ``http_429`` fault."""

    # --- quality checker ---
    qc_processing_seconds: float = 0.0
    """Time before a Quality Checker entry gets its metrics."""

    # --- plumbing ---
    server_header: str = "Apache/2.4.52 (Ubuntu)"
    storage_parent: str | None = None
    """Directory in which the server creates its temporary storage; None means the system temp."""
    tick_interval_seconds: float = 0.05
    """How often (real seconds) the background thread advances jobs from the clock."""

    def __post_init__(self) -> None:
        for name in ("queue_seconds", "processing_seconds", "merging_seconds", "chunk_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.chunk_seconds <= 0:
            raise ValueError("chunk_seconds must be positive")
        if self.output_rate is not None and not 1000 <= self.output_rate <= 768_000:
            raise ValueError("output_rate must be between 1000 and 768000 Hz, or None")
        if self.keepalive_seconds is not None and self.keepalive_seconds <= 0:
            raise ValueError("keepalive_seconds must be positive, or None to close connections")
        if self.keepalive_max_requests < 1:
            raise ValueError("keepalive_max_requests must be at least 1")
        if self.publish_seconds < 0 or not 0 <= self.publish_jitter < 1:
            raise ValueError("publish_seconds must not be negative; publish_jitter is in [0, 1)")
        if self.chunked_uploads not in ("accept", "empty_body", "length_required"):
            raise ValueError("chunked_uploads must be accept, empty_body or length_required")
        if self.render_block_frames < 1024:
            raise ValueError("render_block_frames must be at least 1024")

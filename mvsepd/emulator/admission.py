"""Admitting a new separation: validation, limits, pricing, and building the job.

Checks run in this order, each with MVSEP's 400 body where one is recorded:

1. ``sep_type`` unknown, missing or inactive → ``Seperation type is not set`` [REC wording].
2. Premium-only model for a free account → ``Seperation type is unavailable until you purchase
   premium membership`` [REC].
3. ``output_format`` not 0-5 → Laravel's ``The selected output format is invalid.`` [INF]; m4a
   without ffmpeg → an emulator-specific message.
4. ``add_optN`` values → Laravel-style ``The selected add opt1 is invalid.`` [INF].
5. Missing input → ``The audiofile field is required when url is not present.`` [INF].
6. Upload over the plan's size limit → ``The audiofile field must not be greater than N
   kilobytes.`` [INF wording; the 400 itself is REC].
7. Too many unfinished jobs → ``You already have unprocessed file in queue. Please wait before
   adding new file!`` [REC] (also used for premium's cap [INF]).

Credits are charged at creation when the account pays: ``floor(seconds × coefficient × option
multipliers / 60)``, at least 1 [DOC formula].
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

from mvsepd.emulator.accounts import Account, AccountStore
from mvsepd.emulator.catalog import Algorithm, Catalog, OptionError
from mvsepd.emulator.encoding import FORMATS, M4A, OutputFormat
from mvsepd.emulator.jobs import Job, JobStore
from mvsepd.emulator.naming import (
    algorithm_slug,
    file_md5_prefix,
    hash_stem,
    long_download_name,
    separation_hash,
    slugify,
    split_upload_name,
    stem_file_name,
    text_md5_prefix,
)
from mvsepd.emulator.probe import AudioInfo, decode_with_ffmpeg, getid3_tags, probe, synthesize
from mvsepd.emulator.render import StemTarget, matchering_gain
from mvsepd.emulator.settings import EmulatorSettings
from mvsepd.emulator.storage import Storage
from mvsepd.emulator.transcripts import result_kind

QUEUE_FULL = "You already have unprocessed file in queue. Please wait before adding new file!"
PREMIUM_ONLY = "Seperation type is unavailable until you purchase premium membership"
NOT_SET = "Seperation type is not set"
UNREADABLE = "Audio file is corrupted or has an unsupported format"
FAULT_FAILURE = "An error occurred while processing the file. Please try again later."
REMOTE_TYPES = ("direct", "mega", "drive", "dropbox")


class Rejected(Exception):
    """The create is refused with HTTP ``status`` and MVSEP's ``errors`` list."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file part of the request, already streamed to disk."""

    path: Path
    filename: str
    size: int


@dataclasses.dataclass(frozen=True)
class Order:
    """A validated create: what to run and how to name it."""

    algorithm: Algorithm
    chosen: dict[str, str]
    submitted: dict[str, str]
    output_format: OutputFormat
    is_demo: bool


class Admission:
    """Turns validated requests into jobs in the ``JobStore``."""

    def __init__(
        self,
        settings: EmulatorSettings,
        catalog: Catalog,
        accounts: AccountStore,
        jobs: JobStore,
        storage: Storage,
        clock: Callable[[], float],
        ffmpeg: str | None,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._accounts = accounts
        self._jobs = jobs
        self._storage = storage
        self._clock = clock
        self._ffmpeg = ffmpeg
        # URL creates still being downloaded count as unfinished jobs; RemoteStore plugs itself
        # in here (it needs this Admission to build their jobs, hence not a constructor argument).
        self.pending_remote: Callable[[Account], int] = lambda account: 0

    def validate(self, account: Account, fields: dict[str, str]) -> Order:
        """Checks 1-4; raises Rejected."""
        try:
            algorithm = self._catalog.get(int((fields.get("sep_type") or "").strip()))
        except ValueError:
            algorithm = None
        if algorithm is None or not algorithm.is_active:
            raise Rejected(NOT_SET)
        if algorithm.render_id in self._settings.premium_only_sep_types and not account.is_premium:
            raise Rejected(PREMIUM_ONLY)
        format_text = (fields.get("output_format") or "0").strip()
        output_format = FORMATS.get(int(format_text)) if format_text.isdigit() else None
        if output_format is None:
            raise Rejected("The selected output format is invalid.")
        if output_format.number == M4A and self._ffmpeg is None:
            raise Rejected("Output format m4a is not available: the emulator found no ffmpeg.")
        submitted = {k: v for k, v in fields.items() if k.startswith("add_opt")}
        try:
            chosen = algorithm.resolve_options(submitted)
        except OptionError as error:
            raise Rejected(str(error)) from None
        is_demo = (fields.get("is_demo") or "0").strip().lower() in ("1", "true", "on", "yes")
        return Order(algorithm, chosen, submitted, output_format, is_demo)

    def check_size(self, account: Account, field: str, upload: Upload) -> None:
        """Check 6."""
        limit = (
            self._settings.premium_max_upload_bytes
            if account.is_premium
            else self._settings.free_max_upload_bytes
        )
        if limit is not None and upload.size > limit:
            label = field.replace("_", " ")
            raise Rejected(f"The {label} field must not be greater than {limit // 1024} kilobytes.")

    def check_capacity(self, account: Account) -> None:
        """Check 7 (repeated atomically when the job is inserted)."""
        if account.is_premium:
            limit = self._settings.premium_max_unfinished
        else:
            limit = self._settings.free_max_unfinished
        if limit is not None and self._jobs.unfinished(account) + self.pending_remote(account) >= (
            limit
        ):
            raise Rejected(QUEUE_FULL)

    # ---- building jobs ---------------------------------------------------------------------

    def from_upload(
        self,
        account: Account,
        order: Order,
        upload: Upload,
        *,
        fail: bool,
        check_capacity: bool = True,
    ) -> Job:
        """A single-upload job from a file on disk (the file is moved into storage).

        ``check_capacity=False`` for a URL create turning into its job: it was counted already.
        """
        slug, extension = split_upload_name(upload.filename)
        source, info = self._readable(upload.path)
        extension = extension or _extension_for(info)
        md5_prefix = file_md5_prefix(upload.path)
        return self._insert(
            account,
            order,
            slug=slug,
            extension=extension,
            md5_prefix=md5_prefix,
            input_file=upload,
            source=source,
            info=info,
            fail=fail,
            check_capacity=check_capacity,
        )

    def from_matchering(
        self, account: Account, order: Order, target: Upload, reference: Upload, *, fail: bool
    ) -> Job:
        slug, extension = split_upload_name(target.filename)
        source, info = self._readable(target.path)
        reference_source, reference_info = self._readable(reference.path)
        gain = 1.0
        if info is not None and reference_info is not None:
            gain = matchering_gain(source, reference_source, self._settings.render_block_frames)
        return self._insert(
            account,
            order,
            slug=slug,
            extension=extension or _extension_for(info),
            md5_prefix=file_md5_prefix(target.path),
            input_file=target,
            source=source,
            info=info,
            fail=fail,
            gain=gain,
            kind="matchering_upload",
        )

    def from_text(self, account: Account, order: Order, *, fail: bool) -> Job:
        """A no-upload (generator) job: invent audio whose length follows the options [INF]."""
        texts = [value for name, value in order.chosen.items() if name in _text_fields(order)]
        prompt = " ".join(texts)
        by_server_key = order.algorithm.server_options(order.chosen)
        if by_server_key.get("length", "").isdigit():
            seconds = float(by_server_key["length"])
        else:
            seconds = min(30.0, max(1.0, len(prompt) * 0.06))
        source = self._storage.scratch(".wav")
        synthesize(source, seconds, prompt or order.algorithm.name)
        return self._insert(
            account,
            order,
            slug=slugify(prompt[:60], fallback="generated"),
            extension=order.output_format.extension,
            md5_prefix=text_md5_prefix(prompt),
            input_file=None,
            source=source,
            info=probe(source),
            fail=fail,
            kind="no_upload",
        )

    def _readable(self, path: Path) -> tuple[Path, AudioInfo | None]:
        info = probe(path)
        if info is not None or self._ffmpeg is None:
            return path, info
        decoded = self._storage.scratch(".wav")
        if decode_with_ffmpeg(self._ffmpeg, path, decoded):
            return decoded, probe(decoded)
        return path, None

    def _insert(
        self,
        account: Account,
        order: Order,
        *,
        slug: str,
        extension: str,
        md5_prefix: str,
        input_file: Upload | None,
        source: Path,
        info: AudioInfo | None,
        fail: bool,
        gain: float = 1.0,
        kind: str = "single_upload",
        check_capacity: bool = True,
    ) -> Job:
        with self._jobs.lock:
            if check_capacity:
                self.check_capacity(account)
            created_at = self._clock()
            stamp = created_at
            separation = separation_hash(stamp, md5_prefix, slug, extension)
            while self._jobs.hash_taken(separation):
                stamp += 1.0  # same file twice in one second: next free time stamp [INF]
                separation = separation_hash(stamp, md5_prefix, slug, extension)
            input_path = None
            if input_file is not None:
                input_path = self._storage.temp / separation
                input_file.path.replace(input_path)
                if source == input_file.path:
                    source = input_path
            duration = info.duration if info is not None else 0.0
            cost = order.algorithm.cost(duration, order.chosen) if account.pays else 0
            job = Job(
                hash=separation,
                account=account,
                algorithm=order.algorithm,
                options=order.chosen,
                submitted=order.submitted,
                output_format=order.output_format,
                is_demo=order.is_demo,
                priority="premium" if account.is_premium else "registered",
                created_at=created_at,
                duration=duration,
                credits=self._accounts.charge(account, cost),
                source_path=source,
                targets=self._targets(account, order, separation, slug),
                tags=None,
                input_path=input_path,
                input_size=0 if input_file is None else input_file.size,
                input_sha256="" if input_path is None else _sha256(input_path),
                input_filename="" if input_file is None else input_file.filename,
                kind=kind,
                gain=gain,
                fail_message=FAULT_FAILURE if fail else (None if info else UNREADABLE),
            )
            if input_path is not None and info is not None and input_file is not None:
                job.tags = getid3_tags(source, info, input_file.filename)
            return self._jobs.add(job)

    def _targets(
        self, account: Account, order: Order, separation: str, slug: str
    ) -> list[StemTarget]:
        algorithm = order.algorithm
        algo_slug = algorithm_slug(algorithm.name)
        number = algorithm.model_number(order.chosen)
        extension = result_kind(algorithm.name) or order.output_format.extension
        targets = []
        for key, label in algorithm.outputs(order.chosen).items():
            stem = slugify(key, fallback="stem")
            name = stem_file_name(hash_stem(separation), algo_slug, number, stem, extension)
            if account.long_filenames:
                labels = algorithm.option_labels(order.chosen)
                download = long_download_name(slug, algorithm.name, labels, number, stem, extension)
            else:
                download = stem_file_name(slug, algo_slug, number, stem, extension)
            targets.append(StemTarget(key, label, self._storage.processed / name, download))
        return targets


def _text_fields(order: Order) -> set[str]:
    return {field.name for field in order.algorithm.fields if field.is_text}


def _extension_for(info: AudioInfo | None) -> str:
    if info is None:
        return "mp3"
    return {"WAV": "wav", "WAVEX": "wav", "FLAC": "flac", "MP3": "mp3", "OGG": "ogg"}.get(
        info.container, "wav"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()

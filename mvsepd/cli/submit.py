"""``mvsepd submit FILE``: one file, now, with progress bars; the stems land next to it.

It does not use the daemon's job store: it is an explicit, one-off request. Interrupting it
after the upload leaves the job at MVSEP; the hash is printed so nothing is lost. The stems are
conformed to the file's format as the daemon's are (the configuration's ``defaults``), unless
``--as-sent`` asks for MVSEP's files unchanged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import click
from rich.progress import Progress, TaskID

from mvsepd import audio, outputs
from mvsepd.api import MvsepClient
from mvsepd.cli.common import config_option, handle_errors, load, say
from mvsepd.cli.progress import QueueBar, Unit, add, progress_bars
from mvsepd.config.defaults import FolderSettings
from mvsepd.config.model import Config
from mvsepd.domain import cost, lifecycle, naming
from mvsepd.domain.presets import PresetSpec, ResolvedPreset, resolve
from mvsepd.engine import converting, stems
from mvsepd.errors import AudioError, InputError, MvsepError
from mvsepd.exits import ExitStatus
from mvsepd.models import OutputFormat, RemoteStatus, SeparationStatus, UserInfo
from mvsepd.statusapi.words import PUBLISHING_WORDS

SUBMIT_TEMPLATE = "{parent}/{track} stems/{track} - {stem}.{ext}"


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--preset", help="A preset from the configuration.")
@click.option("--sep-type", help="An algorithm id or name instead of a preset.")
@click.option("--option", "options", multiple=True, help="KEY=VALUE, with --sep-type (repeat).")
@click.option("--format", "output_format", help="Output format with --sep-type (wav16, ...).")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the stems (default: '<track> stems' next to the file).",
)
@click.option(
    "--as-sent",
    is_flag=True,
    help="Keep MVSEP's files as sent (44.1 kHz stereo) instead of matching FILE's format.",
)
@config_option
@handle_errors
def submit(
    file: Path,
    preset: str | None,
    sep_type: str | None,
    options: tuple[str, ...],
    output_format: str | None,
    output: Path | None,
    as_sent: bool,
    config_path: Path | None,
) -> None:
    """Separate one FILE now and wait for its stems, with progress bars.

    The stems get FILE's sample rate, channels, length, sample format and Broadcast WAV
    timestamp (as the daemon's do), unless --as-sent.
    """
    if not file.is_file():
        raise InputError(f"{file}: no such file (give the path of an audio file)", field="file")
    loaded = load(config_path)
    spec = _spec(loaded.config, preset, sep_type, options, output_format)
    settings = loaded.config.defaults
    if as_sent:
        settings = settings.model_copy(update={"conform": "off"})
    with MvsepClient(loaded.token(), loaded.config.account.server) as client:
        resolved = resolve(spec, client.algorithms())
        _announce(file, resolved, _account(client))
        status = _run(
            client,
            file,
            resolved,
            output,
            settings,
            loaded.paths.cache_dir,
            publish_wait=loaded.config.daemon.publish_wait_minutes * 60,
        )
    if status.status is not RemoteStatus.DONE:
        raise SystemExit(int(ExitStatus.JOB_FAILED))


def _account(client: MvsepClient) -> UserInfo | None:
    """The account, to say whether it pays (None when MVSEP does not say now)."""
    try:
        return client.user()
    except MvsepError:
        return None


def _spec(
    config: Config,
    preset: str | None,
    sep_type: str | None,
    options: tuple[str, ...],
    output_format: str | None,
) -> PresetSpec:
    if (preset is None) == (sep_type is None):
        raise InputError("give either --preset NAME or --sep-type ID", field="preset")
    if preset is not None:
        specs = config.preset_specs()
        if preset not in specs:
            known = ", ".join(sorted(specs)) or "none configured"
            raise InputError(
                f"--preset: no preset named {preset!r}; known: {known}", field="preset"
            )
        return specs[preset]
    chosen: dict[str, str] = {}
    for item in options:
        key, equals, value = item.partition("=")
        if not equals:
            raise InputError(f"--option {item!r}: expected KEY=VALUE", field="option")
        chosen[key.strip()] = value.strip()
    try:
        fmt = OutputFormat.parse(output_format or "wav16")
    except ValueError as error:
        raise InputError(f"--format: {error}", field="format") from None
    assert sep_type is not None
    return PresetSpec("command line", sep_type, chosen, fmt)


def _announce(file: Path, preset: ResolvedPreset, user: UserInfo | None) -> None:
    info = audio.probe(file)
    words = f"{file.name}: {preset.algorithm_name} (sep_type {preset.sep_type}), "
    words += preset.output_format.config_name
    if info.duration_seconds is not None and preset.algorithm is not None:
        estimate = cost.estimate_credits(preset.algorithm, preset.options, info.duration_seconds)
        words += f"; {info.duration_seconds:.0f} s, {_cost_words(estimate, user)}"
    say(words)


def _cost_words(estimate: cost.CreditEstimate, user: UserInfo | None) -> str:
    """Whether the account pays: a free account (or premium switched off) waits in the free
    queue and spends nothing; one that spends credits pays them."""
    if user is None:
        return f"about {estimate.describe()} if the account pays for it"
    if not user.is_premium:
        return (
            "free queue: no credits spent (the premium queue would cost about "
            f"{estimate.describe()})"
        )
    return f"costs about {estimate.describe()} of your {user.credits}"


def _run(
    client: MvsepClient,
    file: Path,
    preset: ResolvedPreset,
    output: Path | None,
    settings: FolderSettings,
    cache_dir: Path,
    *,
    publish_wait: float,
) -> SeparationStatus:
    rate = audio.probe(file).sample_rate or 0
    with progress_bars() as progress:
        # As the daemon sends it: integer PCM as lossless FLAC, the rest as it is.
        plan = _upload_plan(file, settings, cache_dir, progress, rate)
        try:
            upload = add(progress, "upload", Unit.BYTES, total=plan.size)
            created = client.create_separation(
                plan.path,
                sep_type=preset.sep_type,
                options=preset.options,
                output_format=preset.output_format,
                progress=lambda sent, total: progress.update(upload, completed=sent, total=total),
                upload_name=plan.name,
            )
        finally:
            if plan.temporary:
                plan.path.unlink(missing_ok=True)
        queue = QueueBar(progress, add(progress, "MVSEP", Unit.QUEUE_PLACES, total=None))
        status = _wait(client, created.hash, created.server, queue, preset, publish_wait)
        if status.status is not RemoteStatus.DONE:
            say(f"MVSEP: {status.raw_status}: {status.message or 'no reason given'}", err=True)
            return status
        _download(client, file, status, created.server, output, progress, settings, preset, rate)
    return status


def _in_seconds(progress: Progress, task: TaskID, rate: int) -> Callable[[int, int], None]:
    """A frames callback that moves a bar counting seconds of audio."""

    def moved(done: int, total: int) -> None:
        scale = 1 / rate if rate else 1.0
        progress.update(task, completed=done * scale, total=total * scale)

    return moved


def _upload_plan(
    file: Path, settings: FolderSettings, cache_dir: Path, progress: Progress, rate: int
) -> audio.UploadPlan:
    flac = settings.upload_encoding == "flac"
    task = add(progress, "compress", Unit.AUDIO_SECONDS, total=None, visible=flac)
    try:
        plan = audio.plan_upload(
            file,
            encoding=settings.upload_encoding,
            float_as=settings.upload_float_as,
            work_dir=cache_dir / "uploads",
            stem=f"submit-{os.getpid()}",
            progress=_in_seconds(progress, task, rate),
        )
    except (OSError, AudioError) as error:
        say(f"{file.name}: sent as it is; no FLAC could be made ({error})", err=True)
        size = file.stat().st_size
        return audio.UploadPlan(file, file.name, audio.UploadEncoding.ORIGINAL, size, size, "")
    finally:
        progress.remove_task(task)
    if plan.note:
        say(f"{file.name}: {plan.note}", err=True)
    return plan


def _wait(
    client: MvsepClient,
    job_hash: str,
    server: str,
    queue: QueueBar,
    preset: ResolvedPreset,
    publish_wait: float,
) -> SeparationStatus:
    polls = 0
    expected = len(preset.algorithm.outputs_for(preset.options)) if preset.algorithm else None
    seen_before: int | None = None
    publishing_since: float | None = None
    try:
        while True:
            try:
                status = client.get_separation(job_hash, server=server)
            except MvsepError as error:
                if not error.transient:
                    raise
                time.sleep(lifecycle.retry_delay(min(polls + 1, 6)))
                polls += 1
                continue
            if status.status is RemoteStatus.DONE and not lifecycle.publication_complete(
                status, expected=expected or None, seen_before=seen_before
            ):
                # Done, but MVSEP is still exporting the stems to its storage.
                seen_before = len(status.files) if status.published else None
                now = time.monotonic()
                publishing_since = publishing_since if publishing_since is not None else now
                if now - publishing_since >= publish_wait:
                    raise InputError(
                        f"MVSEP finished the job but has not published its stems after "
                        f"{publish_wait / 60:g} min; it keeps them about 72 hours (its hash is "
                        f"{job_hash})",
                        field="job",
                    )
                listed = len(status.files) + len(status.unpublished)
                queue.publishing(PUBLISHING_WORDS, len(status.files), listed)
                time.sleep(lifecycle.publish_poll_delay(polls))
                polls += 1
                continue
            if status.status.finished:
                queue.finished(status.raw_status)
                return status
            if status.current_order is not None:
                queue.waiting(status.current_order, status.queue_count)
            else:
                queue.working(status.raw_status, status.finished_chunks, status.all_chunks)
            time.sleep(
                lifecycle.poll_delay(polls, status.status, queue_position=status.current_order)
            )
            polls += 1
    except KeyboardInterrupt:
        say(f"\nthe job goes on at MVSEP; its hash is {job_hash}", err=True)
        raise


def _download(
    client: MvsepClient,
    file: Path,
    status: SeparationStatus,
    server: str,
    output: Path | None,
    progress: Progress,
    settings: FolderSettings,
    preset: ResolvedPreset,
    rate: int,
) -> None:
    parent = (output or file.parent).expanduser()
    template = SUBMIT_TEMPLATE if output is None else "{parent}/{track} - {stem}.{ext}"
    default_extension = _format_extension(status.output_format)

    def source_of() -> audio.SourceAudio | None:
        try:
            return audio.describe(file)
        except (AudioError, OSError):
            return None

    layout = stems.lay_out(
        status.files,
        default_extension,
        settings,
        source_of,
        name_of=naming.stem_namer(preset.algorithm),
    )
    plan = outputs.plan(
        job_id=os.getpid(),
        root=naming.output_root(template, parent=parent, folder=parent.name),
        template=template,
        values={"track": file.stem, "preset": "", "subdir": ""},
        stems=layout.requests,
    )
    outputs.prepare(plan)
    for index, item in enumerate(status.files):
        name = layout.requests[index].label if index < len(layout.requests) else item.type
        task = add(progress, f"stem {name or 'Result'}", Unit.BYTES, total=item.approximate_size)

        def advance(done: int, total: int, task: TaskID = task) -> None:
            progress.update(task, completed=done, total=total)

        downloaded = plan.staging_dir / layout.downloads[index]
        client.download_result(item, downloaded, server=server, progress=advance)
    fitting = add(progress, "fitting stems to the file", Unit.AUDIO_SECONDS, total=None)
    report = converting.StemWork(
        plan,
        layout,
        status.files,
        downloads=plan.staging_dir,
        source_name=file.name,
        original=file,
        origin=f"mvsepd submit; MVSEP {status.algorithm or 'separation'}",
        progress=_in_seconds(progress, fitting, rate),
    ).all_at_hand()
    fitted = next(task for task in progress.tasks if task.id == fitting)
    progress.update(fitting, total=fitted.total or 1, completed=fitted.total or 1)
    written = outputs.finalize(
        plan, {"source": str(file), "mvsep": {"hash": status.hash}, "conform": report}
    )
    progress.stop()
    say(f"stems in {plan.manifest.parent}:")
    for placed in written:
        say(f"  {placed.path.name}")
    for note in report.get("notes", []):
        say(f"note: {note}")


def _format_extension(label: str | None) -> str:
    try:
        return OutputFormat.parse(label or "wav16").extension
    except ValueError:
        return "wav"

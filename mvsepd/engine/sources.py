"""What a file that the intake found ready asks for: the jobs it starts, or why none.

A folder's presets (one job each: fan-out), or a chain's first steps, meet the file's kind:

- audio in an upload folder: an upload (with its sidecar's options, and for a voice-cloning
  model the text of ``Name.txt`` or the sidecar);
- a link (``.url``, ``.webloc``, ``.desktop``, one-line ``.txt``, a sidecar's ``url``): MVSEP
  fetches it;
- a prompt (``Name.txt`` or a sidecar's ``prompt``) in a folder of a text-only model;
- a target with its reference (``reference: PATH``, ``Song.reference.wav``) for matchering.

A file that needs a partner (a sidecar being written, the text of a voice, the reference of a
target) waits: its partner's own arrival makes the job, whichever lands last. Bad input (an
unreadable link, a prompt too long, a model the folder cannot feed) becomes a refusal: a failed
job saying what is wrong and what would be accepted, before anything is sent or paid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvsepd import audio
from mvsepd.domain.chains import ChainPlan
from mvsepd.domain.hashing import file_sha256
from mvsepd.domain.presets import InputKind, PresetProblem, ResolvedPreset, file_options
from mvsepd.engine import partners
from mvsepd.engine.context import Context, FolderRuntime
from mvsepd.engine.partners import Waiting
from mvsepd.errors import InputError
from mvsepd.intake import ReadyFile, triggers
from mvsepd.models import FailureKind
from mvsepd.store import DeliveryKeys


@dataclass(frozen=True)
class JobRequest:
    """One job a file asks for, and where its results go."""

    identity: str
    preset: ResolvedPreset
    preset_name: str
    kind: str
    source_path: Path
    delivery: DeliveryKeys
    input: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """The file cannot be used with this preset; ``reason`` says why, in words."""

    preset_name: str
    reason: str
    #: What it needs: a fixed file (a bad link, sidecar or prompt) or fixed settings.
    kind: FailureKind = FailureKind.SETTINGS


Outcome = JobRequest | Refusal | Waiting
AUDIO, TARGET = partners.audio_partner, partners.target_partner


def requests_for(context: Context, folder: FolderRuntime, ready: ReadyFile) -> list[Outcome]:
    """Every job ``ready`` asks for in ``folder`` (one per preset), or why not."""
    outcomes: list[Outcome] = []
    for preset_name in folder.config.preset_names:
        chain = context.chain(preset_name)
        if isinstance(chain, PresetProblem):
            outcomes.append(Refusal(preset_name, f"chain {preset_name!r}: {chain}"))
        elif chain is not None:
            outcomes.extend(_chain_roots(context, folder, ready, chain))
        else:
            preset = context.preset(preset_name)
            if isinstance(preset, PresetProblem):
                outcomes.append(Refusal(preset_name, f"preset {preset_name!r}: {preset}"))
            else:
                outcomes.append(_for_preset(context, folder, ready, preset_name, preset))
    return outcomes


def _chain_roots(
    context: Context, folder: FolderRuntime, ready: ReadyFile, chain: ChainPlan
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for step in chain.roots:
        keys = DeliveryKeys(str(folder.path), str(ready.path), chain.name, chain.name, step.id)
        outcome = _for_preset(context, folder, ready, chain.name, step.preset, keys=keys)
        if isinstance(outcome, JobRequest):
            outcome = JobRequest(
                outcome.identity,
                outcome.preset,
                outcome.preset_name,
                outcome.kind,
                outcome.source_path,
                outcome.delivery,
                {**outcome.input, "chain": chain.name, "step": step.id},
            )
        outcomes.append(outcome)
    return outcomes


def _for_preset(
    context: Context,
    folder: FolderRuntime,
    ready: ReadyFile,
    preset_name: str,
    preset: ResolvedPreset,
    *,
    keys: DeliveryKeys | None = None,
) -> Outcome:
    keys = keys or DeliveryKeys(str(folder.path), str(ready.path), preset_name)
    try:
        if preset.kind is InputKind.PROMPT:
            return _prompt(context, folder, ready, preset_name, preset, keys)
        if preset.kind is InputKind.MATCHERING:
            return _matchering(context, folder, ready, preset_name, preset, keys)
        return _upload(context, folder, ready, preset_name, preset, keys)
    except InputError as error:
        return Refusal(preset_name, str(error), FailureKind.FILE)
    except PresetProblem as problem:
        return Refusal(preset_name, f"{ready.path.name}: {problem}")


# --- uploads and links -----------------------------------------------------------------------


def _upload(
    context: Context,
    folder: FolderRuntime,
    ready: ReadyFile,
    preset_name: str,
    preset: ResolvedPreset,
    keys: DeliveryKeys,
) -> Outcome:
    path, name = ready.path, ready.path.name
    if triggers.is_link_file(name):
        link = triggers.read_link(path, allow_loopback=context.loopback_links_allowed)
        sidecar = partners.sidecar_of(context, folder, path)
        if isinstance(sidecar, Waiting):
            return sidecar
        remote_type = (sidecar.remote_type if sidecar else None) or link.remote_type
        return _url_request(preset, preset_name, path, keys, link.url, remote_type)
    if triggers.is_sidecar(name):
        sidecar = triggers.read_sidecar(path)
        if sidecar.url is not None:
            url = triggers.check_url(
                sidecar.url, where=name, allow_loopback=context.loopback_links_allowed
            )
            remote_type = sidecar.remote_type or triggers.remote_type_for(url)
            return _url_request(preset, preset_name, path, keys, url, remote_type)
        return _partner_of(
            context, folder, ready, preset_name, preset, keys, partners.audio_partner
        )
    if triggers.is_text_file(name):
        if preset.text_from_file:
            return _partner_of(
                context, folder, ready, preset_name, preset, keys, partners.audio_partner
            )
        found = triggers.text_as_url(triggers.read_text(path))
        if found is None:
            return Waiting("a text file that is not a link (ignored)")
        url = triggers.check_url(found, where=name, allow_loopback=context.loopback_links_allowed)
        return _url_request(preset, preset_name, path, keys, url, triggers.remote_type_for(url))
    return _audio_upload(context, folder, path, preset_name, preset, keys)


def _audio_upload(
    context: Context,
    folder: FolderRuntime,
    path: Path,
    preset_name: str,
    preset: ResolvedPreset,
    keys: DeliveryKeys,
) -> Outcome:
    sidecar = partners.sidecar_of(context, folder, path)
    if isinstance(sidecar, Waiting):
        return sidecar
    prompt = sidecar.prompt if sidecar else None
    if preset.text_from_file and prompt is None:
        text_file = path.with_name(triggers.track_of(path.name) + triggers.TEXT_SUFFIX)
        if not partners.is_ready(context, folder, text_file):
            return Waiting(f"waiting for {text_file.name}, the text {preset.algorithm_name} needs")
        prompt = triggers.read_text(text_file)
    extra = file_options(preset, sidecar.options if sidecar else {}, prompt=prompt)
    resolved = preset.with_file_options(extra) if extra else preset
    keys = DeliveryKeys(keys.folder_path, str(path), keys.preset_name, keys.chain, keys.step)
    return JobRequest(context.hashes.sha256(path), resolved, preset_name, "file", path, keys)


def _url_request(
    preset: ResolvedPreset,
    preset_name: str,
    path: Path,
    keys: DeliveryKeys,
    url: str,
    remote_type: str,
) -> JobRequest:
    identity = _digest("url", triggers.normalise_url(url))
    return JobRequest(
        identity, preset, preset_name, "url", path, keys, {"url": url, "remote_type": remote_type}
    )


# --- prompts ---------------------------------------------------------------------------------


def _prompt(
    context: Context,
    folder: FolderRuntime,
    ready: ReadyFile,
    preset_name: str,
    preset: ResolvedPreset,
    keys: DeliveryKeys,
) -> Outcome:
    path, name = ready.path, ready.path.name
    if not (triggers.is_text_file(name) or triggers.is_sidecar(name)):
        raise InputError(
            f"{name}: {preset.algorithm_name} is text-only, so it takes no file; drop a .txt "
            "with the prompt (or Name.mvsep.yaml with prompt: and options:) instead",
            field="prompt",
        )
    track = triggers.track_of(name)
    text_file = path.with_name(track + triggers.TEXT_SUFFIX)
    sidecar_file = path.with_name(track + triggers.SIDECAR_SUFFIX)
    prompt: str | None = None
    options: dict[str, str] = {}
    if triggers.is_sidecar(name):
        sidecar = triggers.read_sidecar(path)
        options, prompt = sidecar.options, sidecar.prompt
        if prompt is None:
            if not partners.exists(text_file):
                raise InputError(
                    f"{name}: no prompt: give prompt: in it, or a {text_file.name} beside it",
                    field="prompt",
                )
            if not partners.is_ready(context, folder, text_file):
                return Waiting(f"waiting for {text_file.name}")
            prompt = triggers.read_text(text_file)
    else:
        prompt = triggers.read_text(path)
        if partners.exists(sidecar_file):
            if not partners.is_ready(context, folder, sidecar_file):
                return Waiting(f"waiting for {sidecar_file.name}")
            sidecar = triggers.read_sidecar(sidecar_file)
            options = sidecar.options
            prompt = sidecar.prompt or prompt
    extra = file_options(preset, options, prompt=prompt)
    resolved = preset.with_file_options(extra)
    identity = _digest("prompt", json.dumps(dict(sorted(extra.items())), ensure_ascii=False))
    keys = DeliveryKeys(keys.folder_path, str(text_file if partners.exists(text_file) else path),
                        keys.preset_name, keys.chain, keys.step)  # fmt: skip
    return JobRequest(identity, resolved, preset_name, "prompt", path, keys, {"prompt": prompt})


# --- matchering ------------------------------------------------------------------------------


def _matchering(
    context: Context,
    folder: FolderRuntime,
    ready: ReadyFile,
    preset_name: str,
    preset: ResolvedPreset,
    keys: DeliveryKeys,
) -> Outcome:
    path, name = ready.path, ready.path.name
    if triggers.is_trigger(name) and not triggers.is_sidecar(name):
        raise InputError(
            f"{name}: matchering takes two audio files (a target and a reference), not a link "
            "or a text",
            field="reference",
        )
    if triggers.is_reference_name(name) or triggers.is_sidecar(name):
        return _partner_of(
            context, folder, ready, preset_name, preset, keys, partners.target_partner
        )
    sidecar = partners.sidecar_of(context, folder, path)
    if isinstance(sidecar, Waiting):
        return sidecar
    reference = folder.config.reference or (sidecar.reference if sidecar else None)
    if reference is not None:
        reference = reference.expanduser()
        verdict = audio.check(reference) if partners.is_file(reference) else None
        if verdict is None or verdict.completeness is not audio.Completeness.COMPLETE:
            why = "does not exist" if verdict is None else verdict.reason
            raise InputError(
                f"{name}: the reference {reference} {why}; matchering needs a complete audio "
                "file as its reference (folder reference: or the sidecar's reference:)",
                field="reference",
            )
    else:
        found = partners.reference_partner(path)
        if found is None or not partners.is_ready(context, folder, found):
            wanted = found.name if found else f"{path.stem}{triggers.REFERENCE_MARK}.wav"
            return Waiting(f"waiting for its reference {wanted}")
        reference = found
    target_sha, reference_sha = file_sha256(path), file_sha256(reference)
    keys = DeliveryKeys(keys.folder_path, str(path), keys.preset_name, keys.chain, keys.step)
    return JobRequest(
        _digest("matchering", target_sha + reference_sha),
        preset,
        preset_name,
        "matchering",
        path,
        keys,
        {"reference": str(reference), "reference_sha256": reference_sha},
    )


def _partner_of(
    context: Context,
    folder: FolderRuntime,
    ready: ReadyFile,
    preset_name: str,
    preset: ResolvedPreset,
    keys: DeliveryKeys,
    find: Callable[[Path], Path | None],
) -> Outcome:
    """A sidecar, text or reference arrived: if the file it goes with waits for it, that
    file's job is made now; otherwise the file's own arrival will read this one."""
    partner = find(ready.path)
    if partner is None or not partners.is_ready(context, folder, partner):
        return Waiting(f"{ready.path.name} waits for the file it goes with")
    stand_in = ReadyFile(folder.path, partner, partners.relative(folder, partner), ready.stat)
    keys = DeliveryKeys(keys.folder_path, str(partner), keys.preset_name, keys.chain, keys.step)
    if preset.kind is InputKind.MATCHERING:
        return _matchering(context, folder, stand_in, preset_name, preset, keys)
    return _audio_upload(context, folder, partner, preset_name, preset, keys)


def _digest(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()


def refusal_identity(path: Path, preset_name: str) -> str:
    """The identity of a refused file's failed job: its bytes and the preset it was for."""
    try:
        content = file_sha256(path)
    except OSError:
        content = str(path)
    return _digest("refused", f"{content}\0{preset_name}")


def partners_waiting(outcomes: Sequence[Outcome]) -> list[str]:
    """The reasons of the outcomes that wait (for the log)."""
    return [outcome.reason for outcome in outcomes if isinstance(outcome, Waiting)]

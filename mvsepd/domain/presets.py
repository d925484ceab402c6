"""Presets: what a hot folder asks MVSEP to do, checked against the algorithm catalog.

A preset names an algorithm (by ``render_id``, which is what ``sep_type`` means on the wire, or by
its name), options (by ``add_optN``, by the field's label, or by its ``server_key``; values by
key, by label, or by an unambiguous start of a label) and an output format. Resolving it against
the catalog gives the exact form fields to send and a fingerprint that, with the audio's SHA-256,
identifies a job: the same audio with the same preset is submitted once.

Domain layer: pure functions over ``mvsepd.models``.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mvsepd.models import Algorithm, AlgorithmField, AlgorithmScope, OutputFormat
from mvsepd.suggest import close_matches, some_of


@dataclass(frozen=True)
class PresetSpec:
    """A preset as the configuration states it (nothing looked up yet)."""

    name: str
    sep_type: int | str
    options: Mapping[str, str] = field(default_factory=dict)
    output_format: OutputFormat = OutputFormat.WAV16


class InputKind(str, enum.Enum):
    """What a model takes, and so what a folder with its preset is fed: uploaded audio files
    (and links to them), text prompts (no upload), or a target with a reference (matchering)."""

    UPLOAD = "upload"
    PROMPT = "prompt"
    MATCHERING = "matchering"


_KIND_OF_SCOPE = {
    AlgorithmScope.SINGLE_UPLOAD: InputKind.UPLOAD,
    AlgorithmScope.NO_UPLOAD: InputKind.PROMPT,
    AlgorithmScope.MATCHERING_UPLOAD: InputKind.MATCHERING,
}
_KIND_WORDS = {
    InputKind.UPLOAD: "takes one uploaded audio file (or a link to one)",
    InputKind.PROMPT: "is text-only (no upload): a folder of prompts (.txt, .mvsep.yaml) feeds it",
    InputKind.MATCHERING: "takes a target and a reference track: a folder with reference: PATH, "
    "or Song.wav with Song.reference.wav, feeds it",
}
#: Longest prompt sent [INF: MVSEP's limit is not documented; far above any spoken sentence].
PROMPT_MAX_CHARACTERS = 5000


@dataclass(frozen=True)
class ResolvedPreset:
    """A preset checked against the catalog: the exact create fields, plus its identity."""

    name: str
    sep_type: int
    algorithm_name: str
    options: Mapping[str, str]
    output_format: OutputFormat
    fingerprint: str
    #: The catalog entry, when one was at hand (None for a numeric preset resolved offline).
    algorithm: Algorithm | None = None
    kind: InputKind = InputKind.UPLOAD
    #: The field that carries a prompt (found by its text, "Text prompt"), if the model has one.
    prompt_field: str | None = None
    #: Required free-text fields the preset leaves to each file (a prompt in Name.txt).
    text_from_file: tuple[str, ...] = ()

    def with_file_options(self, extra: Mapping[str, str]) -> ResolvedPreset:
        """The preset with one file's own options (a prompt, a speaker) added; its fingerprint
        covers them, so each distinct text is a job of its own."""
        options = {**self.options, **extra}
        return ResolvedPreset(
            name=self.name,
            sep_type=self.sep_type,
            algorithm_name=self.algorithm_name,
            options=options,
            output_format=self.output_format,
            fingerprint=fingerprint(self.sep_type, options, self.output_format),
            algorithm=self.algorithm,
            kind=self.kind,
            prompt_field=self.prompt_field,
            text_from_file=tuple(name for name in self.text_from_file if not options.get(name)),
        )


def kind_of(algorithm: Algorithm) -> InputKind:
    """What ``algorithm`` takes (see ``InputKind``)."""
    return _KIND_OF_SCOPE.get(algorithm.audio_widget, InputKind.UPLOAD)


def prompt_field(algorithm: Algorithm) -> str | None:
    """The name of the field that carries the text to speak or generate from, by its meaning
    ("Text prompt"; VibeVoice keeps it in add_opt2), never by a fixed key."""
    texts = [f for f in algorithm.fields if f.is_free_text]
    for wanted in ("text prompt", "prompt", "text"):
        for candidate in texts:
            if _normalise(candidate.text) == wanted:
                return candidate.name
    for candidate in texts:
        if "prompt" in _normalise(candidate.text):
            return candidate.name
    return None


class PresetProblem(ValueError):
    """One problem with a preset, in words that name the field and the accepted values.

    ``key`` is where in the preset (``("options", "Vocal model type")``, as the user wrote
    it) or, for a chain, in the configuration; it finds the problem's line in the file.
    """

    def __init__(self, message: str, key: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.key = key


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def fingerprint(sep_type: int, options: Mapping[str, str], output_format: OutputFormat) -> str:
    """Return the preset's identity: SHA-256 over the exact fields sent to MVSEP.

    Options are the explicitly chosen ones only, so a catalog that changes a default later does
    not turn every already-processed file into a "new" job.
    """
    canonical = json.dumps(
        {
            "sep_type": sep_type,
            "options": dict(sorted(options.items())),
            "output_format": int(output_format),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


#: What mvsepd asks MVSEP for instead of a preset's format when the stems are re-encoded here
#: anyway: the same samples in fewer bytes. WAV 32 is float, which FLAC cannot hold.
_SAME_SAMPLES_FEWER_BYTES = {OutputFormat.WAV16: OutputFormat.FLAC16}


def fetched_format(asked: OutputFormat, *, conforms: bool, keeps_mvsep_files: bool) -> OutputFormat:
    """The format MVSEP is asked for, given the one a preset asks (``asked``) and whether the
    folder conforms its stems (``conform: source``) and keeps MVSEP's own files beside them.

    A folder that conforms re-encodes every stem into its source's format, so WAV 16 comes as
    FLAC 16: the same 16-bit samples, about half the bytes to download. With ``conform: off``
    or ``keep_mvsep_files`` the user wants MVSEP's files themselves, fetched as written.

    The job's identity stays the preset as written (``fingerprint``): the same audio with the
    same preset is one job whichever format it was fetched in; a folder that places MVSEP's
    files as sent gets a FLAC-fetched job's stems rewrapped as the WAV it asked for (the same
    samples, see ``engine.stems``).
    """
    if not conforms or keeps_mvsep_files:
        return asked
    return _SAME_SAMPLES_FEWER_BYTES.get(asked, asked)


def find_algorithm(catalog: Sequence[Algorithm], sep_type: int | str) -> Algorithm:
    """Return the algorithm for a render id or a name. Raise PresetProblem naming candidates."""
    if isinstance(sep_type, int) or (isinstance(sep_type, str) and sep_type.strip().isdigit()):
        render_id = int(sep_type)
        for algorithm in catalog:
            if algorithm.render_id == render_id:
                return algorithm
        raise PresetProblem(
            f"sep_type: no algorithm with id {render_id}; "
            "run `mvsepd algorithms` to list the ids MVSEP offers",
            ("sep_type",),
        )
    wanted = _normalise(sep_type)
    exact = [a for a in catalog if _normalise(a.name) == wanted]
    if exact:
        return exact[0]
    partial = [a for a in catalog if wanted in _normalise(a.name)]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = "; ".join(f"{a.render_id}: {a.name}" for a in partial[:8])
        raise PresetProblem(
            f"sep_type: {sep_type!r} matches several algorithms: {names}", ("sep_type",)
        )
    by_name = {a.name: a for a in catalog}
    close = [f"{name!r} ({by_name[name].render_id})" for name in close_matches(sep_type, by_name)]
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise PresetProblem(
        f"sep_type: no algorithm named {sep_type!r}; {hint}"
        "`mvsepd algorithms SEARCH` finds its id or exact name",
        ("sep_type",),
    )


def _find_field(algorithm: Algorithm, key: str) -> AlgorithmField:
    found = algorithm.field_named(key)
    if found is None:
        wanted = _normalise(key)
        for candidate in algorithm.fields:
            if candidate.server_key and _normalise(candidate.server_key) == wanted:
                found = candidate
                break
    if found is None:
        known = ", ".join(f"{f.name} ({f.text})" for f in algorithm.fields) or "none"
        by_text = {f.text: f for f in algorithm.fields}
        close = [f"{text!r} ({by_text[text].name})" for text in close_matches(key, by_text)]
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise PresetProblem(
            f"options.{key}: {algorithm.name} has no option {key!r}; {hint}known: {known}",
            ("options", key),
        )
    return found


def _find_value(option_field: AlgorithmField, value: str, written_key: str) -> str:
    if option_field.is_free_text:
        return value
    key = option_field.key_for(value)
    if key is not None:
        return key
    wanted = _normalise(value)
    starts = [
        k for k, label in option_field.options.items() if _normalise(label).startswith(wanted)
    ]
    if len(starts) == 1:
        return starts[0]
    labels = list(option_field.options.values())
    close = close_matches(value, labels)
    choices = [f"{k}: {label}" for k, label in option_field.options.items()]
    likely = [f"{k}: {label}" for k, label in option_field.options.items() if label in close]
    likely += [f"{k}: {option_field.options[k]}" for k in starts]
    hint = f"did you mean {' or '.join(repr(label) for label in close)}? " if close else ""
    qualifier = "is ambiguous" if starts else "is not one of its choices"
    raise PresetProblem(
        f"options.{option_field.name}: {value!r} {qualifier} for {option_field.text!r}; "
        f"{hint}accepted: {some_of(choices, first=likely)}",
        ("options", written_key),
    )


def resolve(
    spec: PresetSpec,
    catalog: Sequence[Algorithm] | None,
    *,
    kinds: frozenset[InputKind] = frozenset({InputKind.UPLOAD}),
    text_from_file: bool = False,
) -> ResolvedPreset:
    """Given a preset and the catalog, return the exact create fields. Raise PresetProblem.

    ``kinds``: what the preset may be fed where it is used (a chain step only takes audio).
    ``text_from_file``: a required text left out of the preset comes with each file (a
    prompt in Name.txt); otherwise it is a problem. Without a catalog only a numeric
    ``sep_type`` with ``add_optN`` option keys can be resolved (nothing can be checked).
    """
    if catalog is None:
        return _resolve_offline(spec)
    algorithm = find_algorithm(catalog, spec.sep_type)
    if not algorithm.is_active:
        raise PresetProblem(
            f"sep_type: {algorithm.name} ({algorithm.render_id}) is disabled", ("sep_type",)
        )
    kind = kind_of(algorithm)
    if kind is InputKind.UPLOAD and algorithm.audio_upload_disabled:
        raise PresetProblem(
            f"sep_type: {algorithm.name} ({algorithm.render_id}) takes no upload at MVSEP now",
            ("sep_type",),
        )
    if kind not in kinds:
        accepted = " or ".join(sorted(k.value for k in kinds))
        raise PresetProblem(
            f"sep_type: {algorithm.name} ({algorithm.render_id}) {_KIND_WORDS[kind]}; "
            f"here only a model that is fed by {accepted} fits",
            ("sep_type",),
        )
    options: dict[str, str] = {}
    for key, value in spec.options.items():
        option_field = _find_field(algorithm, key)
        if option_field.name in options:
            raise PresetProblem(
                f"options.{key}: {option_field.name} is given twice", ("options", key)
            )
        options[option_field.name] = _find_value(option_field, str(value), key)
    missing = tuple(
        option_field.name
        for option_field in algorithm.fields
        if option_field.is_free_text
        and option_field.required
        and not options.get(option_field.name)
    )
    if missing and not text_from_file:
        first = algorithm.field_named(missing[0])
        text = first.text if first is not None else missing[0]
        raise PresetProblem(
            f"options.{missing[0]}: {text!r} is required for {algorithm.name}", ("options",)
        )
    return ResolvedPreset(
        name=spec.name,
        sep_type=algorithm.render_id,
        algorithm_name=algorithm.name,
        options=options,
        output_format=spec.output_format,
        fingerprint=fingerprint(algorithm.render_id, options, spec.output_format),
        algorithm=algorithm,
        kind=kind,
        prompt_field=prompt_field(algorithm),
        text_from_file=missing,
    )


def file_options(
    preset: ResolvedPreset, given: Mapping[str, str], *, prompt: str | None
) -> dict[str, str]:
    """One file's own options (a sidecar's, a prompt), checked against the catalog like a
    preset's. Raise PresetProblem naming the field and what would be accepted."""
    algorithm = preset.algorithm
    chosen: dict[str, str] = {}
    if algorithm is not None:
        for key, value in given.items():
            option_field = _find_field(algorithm, key)
            chosen[option_field.name] = _find_value(option_field, str(value), key)
    else:
        chosen.update({key: str(value) for key, value in given.items()})
    if prompt is not None:
        if preset.prompt_field is None:
            raise PresetProblem(
                f"prompt: {preset.algorithm_name} has no text prompt field to put it in"
            )
        if not prompt.strip():
            raise PresetProblem("prompt: it is empty; write the text to speak or generate from")
        if len(prompt) > PROMPT_MAX_CHARACTERS:
            raise PresetProblem(
                f"prompt: {len(prompt)} characters (trimmed), more than the "
                f"{PROMPT_MAX_CHARACTERS} mvsepd sends; shorten it or split it into several files"
            )
        chosen[preset.prompt_field] = prompt
    return chosen


def _resolve_offline(spec: PresetSpec) -> ResolvedPreset:
    if isinstance(spec.sep_type, str) and not spec.sep_type.strip().isdigit():
        raise PresetProblem(
            f"sep_type: {spec.sep_type!r} is a name, and the algorithm catalog is not at hand "
            "to look it up; use the numeric id or let mvsepd reach MVSEP once",
            ("sep_type",),
        )
    options: dict[str, str] = {}
    for key, value in spec.options.items():
        if not (key.startswith("add_opt") and key[len("add_opt") :].isdigit()):
            raise PresetProblem(
                f"options.{key}: option labels need the algorithm catalog; use add_opt1.. keys "
                "or let mvsepd reach MVSEP once",
                ("options", key),
            )
        options[key] = str(value)
    sep_type = int(spec.sep_type)
    return ResolvedPreset(
        name=spec.name,
        sep_type=sep_type,
        algorithm_name=f"sep_type {sep_type}",
        options=options,
        output_format=spec.output_format,
        fingerprint=fingerprint(sep_type, options, spec.output_format),
    )

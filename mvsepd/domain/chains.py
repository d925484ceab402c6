"""Chains: several MVSEP jobs in a row (vocals → de-reverb → denoise), described as data.

Domain layer. A chain is a list of steps; each step is a preset (by name) or an inline
``sep_type``/``options``/``output_format``, fed from the source (the dropped file) or from a
stem of an earlier step (``from: split/Vocals``), and ``keep`` says which of its stems are
written out. Steps that feed others ask MVSEP for ``intermediate_format`` (lossless, flac24 by
default), so no step works on a lossy copy.

``plan_chain`` checks a chain against the catalog: every ``from`` names an earlier step and a
stem that step makes with the chosen options, every ``keep`` label exists; it also says where
two steps could be one MVSEP job (a model's own pre-step option). Labels are matched
case-insensitively, by label or output key, never by position in MVSEP's file list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from mvsepd.domain.presets import InputKind, PresetProblem, PresetSpec, ResolvedPreset, resolve
from mvsepd.models import Algorithm, OutputFormat

_STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"


def _output_format(value: object) -> OutputFormat:
    return OutputFormat.parse(value)


_Format = Annotated[
    OutputFormat,
    BeforeValidator(_output_format),
    PlainSerializer(lambda value: value.config_name, return_type=str),
]


def _keep_list(value: object) -> object:
    if value == "all" or value is None:
        return "all"
    if isinstance(value, str):
        return [value]
    return value


class StepConfig(BaseModel):
    """One step of a chain."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(
        pattern=_STEP_ID_PATTERN, description="The step's name, used in from and {step}."
    )
    preset: str | None = Field(None, description="A preset from presets (or give sep_type).")
    sep_type: int | str | None = Field(None, description="An algorithm, instead of a preset.")
    options: dict[str, str] = Field(default_factory=dict, description="Options with sep_type.")
    output_format: _Format | None = Field(
        None, description="Output format of the kept stems (feeding stems: intermediate_format)."
    )
    from_: str | None = Field(
        None,
        alias="from",
        description="step/Stem label this step takes (default: the dropped file).",
    )
    keep: Annotated[Literal["all"] | list[str], BeforeValidator(_keep_list)] = Field(
        "all", description="Stems written out: all (default), a list of labels, or []."
    )

    @model_validator(mode="after")
    def _one_model(self) -> StepConfig:
        if (self.preset is None) == (self.sep_type is None):
            raise ValueError("give either preset: NAME or sep_type: ID (with options)")
        if self.preset is not None and (self.options or self.output_format is not None):
            raise ValueError("options and output_format go with sep_type, not with a preset")
        if self.from_ is not None and "/" not in self.from_:
            raise ValueError(f"from: {self.from_!r} must be STEP/STEM, e.g. split/Vocals")
        return self

    @property
    def parent(self) -> tuple[str, str] | None:
        """(step, stem label) this step takes, or None for the dropped file."""
        if self.from_ is None:
            return None
        step, label = self.from_.split("/", 1)
        return step.strip(), label.strip()


class ChainConfig(BaseModel):
    """A chain of steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intermediate_format: _Format = Field(
        OutputFormat.FLAC24, description="What steps that feed others ask MVSEP for (lossless)."
    )
    steps: list[StepConfig] = Field(min_length=1, description="The steps, each after its from.")

    @model_validator(mode="after")
    def _order(self) -> ChainConfig:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"two steps are called {step.id!r}")
            parent = step.parent
            if parent is not None and parent[0] not in seen:
                earlier = ", ".join(sorted(seen)) or "none"
                raise ValueError(
                    f"step {step.id!r}: from {step.from_!r} names no earlier step "
                    f"(earlier: {earlier}); a step takes a stem of a step above it, so a chain "
                    "cannot loop"
                )
            seen.add(step.id)
        return self


@dataclass(frozen=True)
class ChainStep:
    """A step resolved against the catalog."""

    id: str
    index: int
    preset: ResolvedPreset
    parent: tuple[str, str] | None
    keep: tuple[str, ...] | None  # None: every stem
    feeds: tuple[tuple[str, str], ...]  # (stem label, step id) pairs it feeds

    def keeps(self, label: str) -> bool:
        """True if the stem called ``label`` is written out."""
        return self.keep is None or any(same_label(label, kept) for kept in self.keep)


@dataclass(frozen=True)
class ChainPlan:
    """A resolved chain: its steps in order, and advice about it."""

    name: str
    steps: tuple[ChainStep, ...]
    advice: tuple[str, ...] = ()

    def step(self, step_id: str) -> ChainStep:
        """The step called ``step_id``."""
        return next(step for step in self.steps if step.id == step_id)

    @property
    def roots(self) -> tuple[ChainStep, ...]:
        """Steps fed by the dropped file."""
        return tuple(step for step in self.steps if step.parent is None)

    def children(self, step_id: str) -> tuple[ChainStep, ...]:
        """Steps fed by a stem of ``step_id``."""
        return tuple(s for s in self.steps if s.parent is not None and s.parent[0] == step_id)


def same_label(label: str, wanted: str) -> bool:
    """MVSEP's stem labels compared the way users write them (case and spaces ignored)."""
    return " ".join(label.split()).casefold() == " ".join(wanted.split()).casefold()


def stem_labels(preset: ResolvedPreset) -> dict[str, str] | None:
    """The stems a preset makes (key → label) for its options, or None without a catalog."""
    algorithm: Algorithm | None = preset.algorithm
    if algorithm is None:
        return None
    return dict(algorithm.outputs_for(preset.options))


def find_stem(labels: Mapping[str, str], wanted: str) -> str | None:
    """The label of the stem ``wanted`` names (by label, else by output key)."""
    for label in labels.values():
        if same_label(label, wanted):
            return label
    for key, label in labels.items():
        if same_label(key, wanted):
            return label
    return None


#: Steps a model can do itself as one job: (upstream, downstream) render ids and the option.
_SERVER_PRE_STEPS: tuple[tuple[frozenset[int], int, str], ...] = (
    (frozenset({44}), 37, "DrumSep's Preprocess option 'Apply Drums model before' (its default)"),
    (frozenset({40, 48, 63}), 22, "Reverb Removal's Preprocess option 'Extract vocals'"),
    (frozenset({40, 48, 63}), 49, "Karaoke's 'Extract vocals first'"),
    (frozenset({40, 48, 63}), 57, "Male/Female's 'Extract vocals first with BS Roformer'"),
)


def plan_chain(
    name: str,
    chain: ChainConfig,
    presets: Mapping[str, PresetSpec],
    catalog: Sequence[Algorithm] | None,
) -> ChainPlan:
    """Resolve and check a chain (see the module docstring). Raise PresetProblem, naming the
    step and field, for the first problem."""
    feeders = {step.parent[0] for step in chain.steps if step.parent is not None}
    resolved: dict[str, ResolvedPreset] = {}
    steps: list[ChainStep] = []
    advice: list[str] = []
    for index, step in enumerate(chain.steps):
        where = f"chains.{name}.steps[{index}] ({step.id})"
        spec = _spec(name, step, presets, where)
        if step.id in feeders:
            spec = PresetSpec(spec.name, spec.sep_type, spec.options, chain.intermediate_format)
        try:
            preset = resolve(spec, catalog, kinds=frozenset({InputKind.UPLOAD}))
        except PresetProblem as problem:
            raise PresetProblem(f"{where}: {problem}") from None
        resolved[step.id] = preset
        labels = stem_labels(preset)
        parent = step.parent
        if parent is not None and catalog is not None:
            parent_labels = stem_labels(resolved[parent[0]]) or {}
            label = find_stem(parent_labels, parent[1])
            if label is None:
                made = ", ".join(parent_labels.values()) or "none"
                raise PresetProblem(
                    f"{where}: from {step.from_!r}: step {parent[0]!r} makes no stem "
                    f"{parent[1]!r} with its options; it makes: {made}"
                )
            parent = (parent[0], label)
            upstream = resolved[parent[0]].sep_type
            for ids, downstream, option in _SERVER_PRE_STEPS:
                if upstream in ids and preset.sep_type == downstream:
                    advice.append(
                        f"{where}: step {parent[0]!r} then {step.id!r} could be one MVSEP job: "
                        f"{option} does the first step on MVSEP's side"
                    )
        keep = None if step.keep == "all" else tuple(step.keep)
        if keep is not None and labels is not None:
            for kept in keep:
                if find_stem(labels, kept) is None:
                    made = ", ".join(labels.values())
                    raise PresetProblem(
                        f"{where}: keep: {preset.algorithm_name} makes no stem {kept!r} with "
                        f"these options; it makes: {made}"
                    )
            keep = tuple(find_stem(labels, kept) or kept for kept in keep)
        steps.append(ChainStep(step.id, index, preset, parent, keep, ()))
    with_feeds = []
    for chain_step in steps:
        feeds = tuple(
            (child.parent[1], child.id)
            for child in steps
            if child.parent is not None and child.parent[0] == chain_step.id
        )
        with_feeds.append(dataclasses.replace(chain_step, feeds=feeds))
    return ChainPlan(name, tuple(with_feeds), tuple(advice))


def _spec(name: str, step: StepConfig, presets: Mapping[str, PresetSpec], where: str) -> PresetSpec:
    if step.preset is not None:
        spec = presets.get(step.preset)
        if spec is None:
            known = ", ".join(sorted(presets)) or "none defined"
            raise PresetProblem(f"{where}: preset: no preset named {step.preset!r}; known: {known}")
        return PresetSpec(f"{name}/{step.id}", spec.sep_type, spec.options, spec.output_format)
    assert step.sep_type is not None
    return PresetSpec(
        f"{name}/{step.id}",
        step.sep_type,
        dict(step.options),
        step.output_format or OutputFormat.WAV16,
    )


def estimate_inputs(plan: ChainPlan) -> dict[str, Any]:
    """A short description of the chain, for logs and the manifest."""
    return {
        "chain": plan.name,
        "steps": [
            {
                "id": step.id,
                "sep_type": step.preset.sep_type,
                "from": "/".join(step.parent) if step.parent else None,
                "keep": list(step.keep) if step.keep is not None else "all",
            }
            for step in plan.steps
        ],
    }

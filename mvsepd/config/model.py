"""The configuration model: every option and its default.

Domain layer. ``mvsepd.config.file`` reads YAML into this model and reports problems with file
and line; this module owns the shape (pydantic, unknown keys refused); the cross-field rules
(presets that exist, hot folders that do not nest, outputs outside every watched tree) are in
``mvsepd.config.rules``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mvsepd.config.defaults import FolderOverrides, FolderSettings, Section
from mvsepd.domain import naming
from mvsepd.domain.chains import ChainConfig
from mvsepd.domain.plans import PlanLimits, PremiumRules
from mvsepd.domain.presets import PresetSpec
from mvsepd.models import AUDIO_EXTENSIONS, OutputFormat, Secret

DEFAULT_TOKEN_ENV = "MVSEP_API_TOKEN"  # noqa: S105 (the name of a variable, not a credential)

#: What a hot folder takes when its `patterns` are not given: audio, and the files that start
#: a job without being audio (links, prompts, sidecars; see ``mvsepd.intake.triggers``).
TRIGGER_PATTERNS = ("*.url", "*.webloc", "*.desktop", "*.txt", "*.mvsep.yaml")
DEFAULT_PATTERNS = (*(f"*.{extension}" for extension in AUDIO_EXTENSIONS), *TRIGGER_PATTERNS)

#: Quiet time before a file counts as completely written, local and polled folders.
DEFAULT_STABILITY_SECONDS = 5.0
DEFAULT_POLLED_STABILITY_SECONDS = 30.0
#: A writer closed the file: it is done unless it opens it again, which it does within
#: moments (a header patched after the bounce); the file must also stay unchanged this long.
DEFAULT_STABILITY_SECONDS_AFTER_CLOSE = 1.0
DEFAULT_POLL_INTERVAL_SECONDS = 30.0
DEFAULT_RESCAN_SECONDS = 300.0
DEFAULT_CATALOG_REFRESH_HOURS = 24.0
#: The page's port: fixed, so that a bookmark keeps working. 6877 spells MVSP on a phone's
#: keypad; it is below every system's range of ports handed out for outgoing connections
#: (32768 and up on Linux, 49152 and up on macOS and Windows), so no connection of the
#: machine's own takes it, and clear of the ports development servers use (3000, 5000, 8000,
#: 8080, 8888) and of 8787, the emulator's.
DEFAULT_PAGE_PORT = 6877


def _parse_output_format(value: object) -> OutputFormat:
    return OutputFormat.parse(value)


def _expand_path(value: object) -> object:
    if isinstance(value, str):
        return Path(value).expanduser()
    if isinstance(value, Path):
        return value.expanduser()
    return value


def _as_secret(value: object) -> object:
    if isinstance(value, str):
        return Secret(value.strip())
    return value


OutputFormatField = Annotated[
    OutputFormat,
    BeforeValidator(_parse_output_format),
    PlainSerializer(lambda value: value.config_name, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": [member.config_name for member in OutputFormat]},
                {"type": "integer", "minimum": 0, "maximum": len(OutputFormat) - 1},
            ]
        }
    ),
]
UserPath = Annotated[Path, BeforeValidator(_expand_path)]
SecretField = Annotated[
    Secret,
    BeforeValidator(_as_secret),
    PlainSerializer(lambda _value: "***", return_type=str),
    WithJsonSchema({"type": "string"}),
]


_Section = Section


class PlanLimitsConfig(_Section):
    """How long and how large an input one of MVSEP's plans takes."""

    max_minutes: float = Field(gt=0, description="Longest input, in minutes.")
    max_upload_mb: float = Field(gt=0, description="Largest file as sent, in MB (MiB).")


class PlansConfig(_Section):
    """What MVSEP's plans allow (mvsep.com/plans; not in its API, so settings)."""

    free: PlanLimitsConfig = Field(
        default_factory=lambda: PlanLimitsConfig(max_minutes=10, max_upload_mb=100),
        description="The free plan (premium usage off, or no credits).",
    )
    premium: PlanLimitsConfig = Field(
        default_factory=lambda: PlanLimitsConfig(max_minutes=100, max_upload_mb=1000),
        description="Premium usage with credits.",
    )
    premium_only_orientations: list[int] = Field(
        default_factory=lambda: [2],
        description="Catalog 'orientation' values of models only premium accounts may use.",
    )
    premium_only_formats: list[OutputFormatField] = Field(
        default_factory=lambda: [OutputFormat.WAV32, OutputFormat.FLAC24],
        description="Output formats MVSEP may keep from free accounts (warned about).",
    )

    def limits(self, premium: bool) -> PlanLimits:
        """The limits of the free or the premium plan."""
        chosen, name = (self.premium, "premium") if premium else (self.free, "free")
        return PlanLimits(name, chosen.max_minutes, chosen.max_upload_mb)

    def premium_rules(self) -> PremiumRules:
        return PremiumRules(
            frozenset(self.premium_only_orientations), frozenset(self.premium_only_formats)
        )


class AccountConfig(_Section):
    """Who mvsepd is at MVSEP and which server it talks to."""

    token_env: str = Field(
        DEFAULT_TOKEN_ENV, description="Environment variable that holds the API token."
    )
    token_file: UserPath | None = Field(
        None, description="File holding the API token (mvsepd login writes one, mode 0600)."
    )
    token: SecretField | None = Field(
        None, description="The API token itself (discouraged: prefer token_env or token_file)."
    )
    server: str = Field(
        "mvsep.com",
        description="mvsep.com, a regional host (de, de2, hk, sg) or a URL such as the emulator.",
    )
    concurrency: Literal["auto"] | Annotated[int, Field(ge=1, le=100)] = Field(
        "auto",
        description="Unfinished jobs the plan allows at once: auto asks MVSEP (free: 1).",
    )
    max_upload_mb: Literal["auto"] | Annotated[float, Field(gt=0)] = Field(
        "auto",
        description="Largest file MVSEP takes, in MB (MiB): auto is the account's plan's "
        "(plans.free or plans.premium); a file still larger after compression is refused.",
    )
    plans: PlansConfig = Field(
        default_factory=PlansConfig,
        description="What MVSEP's plans allow: input length and size, premium-only models and "
        "output formats.",
    )

    @field_validator("server")
    @classmethod
    def _server_shape(cls, value: str) -> str:
        text = value.strip()
        if text in ("mvsep.com", "de", "de2", "hk", "sg", "mirror"):
            return text
        if text.startswith(("http://", "https://")) and len(text) > len("https://"):
            return text.rstrip("/")
        raise ValueError(
            f"unknown server {value!r}; accepted: mvsep.com, de, de2, hk, sg, or an http(s) URL"
        )


class PresetConfig(_Section):
    """One way of separating: an algorithm, its options and an output format."""

    sep_type: int | str = Field(description="The algorithm's id (render_id) or its name.")
    options: dict[str, str] = Field(
        default_factory=dict,
        description="add_opt1.. by key or label; values by key or label.",
    )
    output_format: OutputFormatField = Field(
        OutputFormat.WAV16, description="mp3, wav16, flac16, m4a, wav32, flac24 (or 0-5)."
    )

    @field_validator("options", mode="before")
    @classmethod
    def _option_values_as_text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {
                str(key): (str(item) if isinstance(item, int | float | str) else item)
                for key, item in value.items()
            }
        return value

    def spec(self, name: str) -> PresetSpec:
        """Return the preset as the domain's ``PresetSpec``."""
        return PresetSpec(
            name=name,
            sep_type=self.sep_type,
            options=dict(self.options),
            output_format=self.output_format,
        )


def _preset_names(value: object) -> object:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


class FolderConfig(FolderOverrides):
    """One hot folder."""

    path: UserPath = Field(description="The folder to watch.")
    preset: Annotated[str | tuple[str, ...], BeforeValidator(_preset_names)] = Field(
        description="A preset or chain for files dropped here, or a list of them (one job each)."
    )
    reference: UserPath | None = Field(
        None,
        description="Matchering: the reference track every file dropped here is matched to "
        "(without it, Song.wav pairs with Song.reference.wav).",
    )
    patterns: tuple[str, ...] = Field(
        DEFAULT_PATTERNS, description="File names to take (shell patterns, case-insensitive)."
    )
    ignore: tuple[str, ...] = Field((), description="Extra file-name patterns to skip.")
    recursive: bool = Field(False, description="Also take files in sub-folders.")
    watch: Literal["native", "poll"] = Field(
        "native", description="native file-system events, or poll (network shares)."
    )
    poll_interval: float = Field(
        DEFAULT_POLL_INTERVAL_SECONDS, ge=1, description="Seconds between polls (watch: poll)."
    )
    stability_seconds: float | None = Field(
        None,
        ge=0,
        description="Quiet time before a file counts as complete (default 5 s, 30 s polled).",
    )
    stability_seconds_after_close: float = Field(
        DEFAULT_STABILITY_SECONDS_AFTER_CLOSE,
        ge=0,
        description="Where the system reports that a writer closed the file (Linux, native "
        "watching): the quiet time after that close (or a move into the folder) instead.",
    )
    output: str = Field(
        naming.DEFAULT_OUTPUT_TEMPLATE, description="Where stems go (see the placeholders)."
    )
    on_collision: Literal["unique", "replace", "fail"] = Field(
        "unique", description="When a stem's file exists: unique (add ' (2)'), replace, fail."
    )
    after_success: Literal["keep", "move"] = Field(
        "keep", description="What to do with the original once its stems are written."
    )
    move_to: UserPath | None = Field(
        None, description="Folder (outside every watched tree) for after_success: move."
    )
    existing_files: Literal["process", "skip"] = Field(
        "skip",
        description="Files already there the first time this folder is watched: process or skip.",
    )
    shared: str | None = Field(
        None,
        description="Studio mode: the id of the share this folder is on (store.shares maps it "
        "to this host's mount); its files are claimed once for every host.",
    )
    paused: bool = Field(
        False,
        description="Take no new files from this folder for now (they wait there and are "
        "taken once it is resumed); its jobs already made go on.",
    )

    @property
    def preset_names(self) -> tuple[str, ...]:
        """The presets (or chains) of this folder, one job each per file."""
        return (self.preset,) if isinstance(self.preset, str) else self.preset

    @field_validator("preset")
    @classmethod
    def _some_preset(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        names = (value,) if isinstance(value, str) else value
        if not names or any(not name.strip() for name in names):
            raise ValueError("name a preset (or a chain), or list several")
        if len(set(names)) != len(names):
            raise ValueError("a preset is listed twice")
        return value

    @property
    def effective_stability_seconds(self) -> float:
        """The stability window in force (the default depends on native vs polled watching)."""
        if self.stability_seconds is not None:
            return self.stability_seconds
        if self.watch == "poll":
            return DEFAULT_POLLED_STABILITY_SECONDS
        return DEFAULT_STABILITY_SECONDS

    @field_validator("output")
    @classmethod
    def _template_usable(cls, value: str) -> str:
        try:
            naming.check_template(value)
        except naming.TemplateProblem as problem:
            raise ValueError(str(problem)) from None
        return value

    def output_root(self) -> Path:
        """The directory this folder's stems are written below."""
        path = self.path
        return naming.output_root(self.output, parent=path.parent, folder=path.name).expanduser()


class LimitsConfig(_Section):
    """Limits on spending and parallel work."""

    max_concurrent_jobs: Annotated[int, Field(ge=1)] | None = Field(
        None, description="At most this many unfinished jobs, whatever the plan allows."
    )
    daily_credit_budget: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Credits mvsepd may spend per day (UTC); jobs beyond it are held."
    )


class DaemonConfig(_Section):
    """How the daemon runs."""

    rescan_seconds: float = Field(
        DEFAULT_RESCAN_SECONDS, ge=5, description="Full scan of every folder this often."
    )
    incomplete_after_seconds: float | None = Field(
        None,
        ge=0,
        description="Older place of defaults.incomplete_after_seconds, still read (the "
        "defaults section wins when both are set).",
    )
    lost_upload_grace_seconds: float = Field(
        60.0,
        ge=0,
        description="An upload whose answer was lost is looked for this long before resending.",
    )
    poll_first_seconds: float = Field(
        5.0, ge=0.05, description="First status check of a submitted job after this long."
    )
    poll_max_seconds: float = Field(
        30.0, ge=0.05, description="Status checks back off up to this interval."
    )
    publish_wait_minutes: float = Field(
        30.0,
        gt=0,
        description="How long to wait for MVSEP to publish a finished job's stems (it says "
        "done before it has exported every file) before leaving the job for `mvsepd retry`.",
    )
    catalog_refresh_hours: float = Field(
        DEFAULT_CATALOG_REFRESH_HOURS, gt=0, description="Refetch the algorithm catalog after."
    )
    parallel_downloads: int = Field(
        1,
        ge=1,
        le=8,
        description="Stems of one job downloaded at the same time (1 to 8); one at a time, "
        "each is conformed while the next comes down.",
    )
    status_host: str = Field("127.0.0.1", description="Address of the local status API.")
    status_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of the status API (0: the page's port when the daemon serves the "
        "page, else any free port).",
    )
    page_port: int = Field(
        DEFAULT_PAGE_PORT,
        ge=0,
        le=65535,
        description="Port of mvsepd's page, served with the status API on status_host: fixed, "
        "so a bookmark keeps working (taken: a free port instead, and the log says so); 0: "
        "any free port.",
    )
    allow_remote_status: bool = Field(
        False, description="Allow status_host to be a non-loopback address (not recommended)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least important log level written."
    )


DEFAULT_DSN_ENV = "MVSEPD_DSN"


class StoreConfig(_Section):
    """Where jobs are kept: SQLite on this machine, or (studio mode) a PostgreSQL database that
    several hosts share."""

    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite", description="sqlite (one machine) or postgres (studio mode: several hosts)."
    )
    dsn: SecretField | None = Field(
        None,
        description="PostgreSQL connection string (libpq: 'host=db dbname=mvsepd user=room'); "
        "prefer dsn_file or the environment variable, since it may hold a password.",
    )
    dsn_file: UserPath | None = Field(None, description="File holding the connection string.")
    dsn_env: str = Field(
        DEFAULT_DSN_ENV, description="Environment variable holding the connection string."
    )
    host_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="This host's name in the studio (default: the machine's host name).",
    )
    shares: dict[str, UserPath] = Field(
        default_factory=dict,
        description="This host's mount of each studio share, by share id (folders say shared:).",
    )
    lease_seconds: float = Field(
        30.0, ge=3, le=3600, description="A silent host's jobs are taken over after this long."
    )
    takeover_upload_grace_seconds: float = Field(
        600.0,
        ge=0,
        description="A job a silent host was uploading is sent again only after its lease ran "
        "out, it is not in MVSEP's history, and this long passed (its upload could still land).",
    )

    @field_validator("shares")
    @classmethod
    def _share_ids(cls, value: dict[str, Path]) -> dict[str, Path]:
        for share in value:
            if not share or ":" in share or "/" in share:
                raise ValueError(f"share id {share!r}: use letters, digits, '-' or '_'")
        return value


class Config(_Section):
    """The whole configuration file."""

    account: AccountConfig = Field(default_factory=AccountConfig)  # type: ignore[arg-type]
    presets: dict[str, PresetConfig] = Field(default_factory=dict)
    folders: tuple[FolderConfig, ...] = ()
    limits: LimitsConfig = Field(default_factory=LimitsConfig)  # type: ignore[arg-type]
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)  # type: ignore[arg-type]
    store: StoreConfig = Field(default_factory=StoreConfig)  # type: ignore[arg-type]
    defaults: FolderSettings = Field(
        default_factory=FolderSettings,  # type: ignore[arg-type]
        description="Stem settings for every folder that does not set them itself.",
    )
    chains: dict[str, ChainConfig] = Field(
        default_factory=dict,
        description="Several MVSEP jobs in a row; a folder's preset may name a chain.",
    )

    @model_validator(mode="after")
    def _incomplete_after_in_defaults(self) -> Config:
        """``daemon.incomplete_after_seconds`` (where the setting lived before folders could
        set it) is the default's value unless the ``defaults`` section sets one itself."""
        older = self.daemon.incomplete_after_seconds
        if older is None or "incomplete_after_seconds" in self.defaults.model_fields_set:
            return self
        defaults = self.defaults.model_copy(update={"incomplete_after_seconds": older})
        return self.model_copy(update={"defaults": defaults})

    @model_validator(mode="after")
    def _default_templates(self) -> Config:
        """A folder that leaves ``output`` out gets the layout its presets need: a folder per
        preset when there are several, the step in the name for a chain."""
        folders = []
        for folder in self.folders:
            if "output" not in folder.model_fields_set:
                names = folder.preset_names
                if len(names) > 1:
                    folder = folder.model_copy(update={"output": naming.FAN_OUT_OUTPUT_TEMPLATE})
                elif names[0] in self.chains and names[0] not in self.presets:
                    folder = folder.model_copy(update={"output": naming.CHAIN_OUTPUT_TEMPLATE})
            folders.append(folder)
        if folders == list(self.folders):
            return self
        return self.model_copy(update={"folders": tuple(folders)})

    def preset_specs(self) -> dict[str, PresetSpec]:
        """Return every preset as a ``PresetSpec``, by name."""
        return {name: preset.spec(name) for name, preset in self.presets.items()}

    def folder_settings(self, folder: FolderConfig) -> FolderSettings:
        """The settings in force for ``folder`` (upload, stems): its own, else the defaults."""
        return folder.settings_over(self.defaults)


def json_schema() -> dict[str, Any]:
    """Return a JSON Schema of the configuration file, for editors."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mvsepd configuration"
    return schema

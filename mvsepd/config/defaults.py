"""The settings a folder takes from the ``defaults`` section unless it sets them itself.

Domain layer, part of the configuration model (``mvsepd.config.model``): how a folder's files are
sent to MVSEP (as FLAC or as they are), how its stems are written (conformed to their source
or as MVSEP sent them), and how long an unfinished file waits before it is reported.
``FolderSettings`` is the ``defaults`` section; ``FolderOverrides`` the same keys on one
folder, each None until set.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Section(BaseModel):
    """A part of the configuration file: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _boolean_words(when_false: str, when_true: str) -> BeforeValidator:
    """YAML 1.1 reads a bare ``off`` or ``no`` as false (and ``on``, ``yes`` as true): take
    them as the words written."""

    def word(value: object) -> object:
        if value is False:
            return when_false
        if value is True:
            return when_true
        return value

    return BeforeValidator(word)


ConformMode = Annotated[Literal["source", "off"], _boolean_words("off", "source")]
TagsChoice = Annotated[Literal["copy", "none"], _boolean_words("none", "copy")]
ContainerChoice = Literal["source", "wav", "flac", "aiff"]
SampleFormatChoice = Literal["source", "pcm16", "pcm24", "float"]
ChannelsChoice = Literal["source", "stereo"]
UploadEncodingChoice = Literal["flac", "original"]
UploadFloatChoice = Literal["original", "flac24"]

#: How long a file may stay unchanged yet unfinished before it is reported incomplete. What is
#: known of DAWs pausing while they write an export (README, "Arriving and incomplete files"):
#: the pauses come from whole passes that write nothing into the file (Ableton's "Render as
#: Loop" renders once without writing; Logic's "Bounce 2nd Cycle Pass"; normalising, which
#: needs the whole mix's peak first; Pro Tools' "Convert After Bounce"). A pass played in real
#: time lasts as long as the music, so 10 minutes fits such a pause for songs up to 10 minutes.
#: A longer pause costs only a report that goes away when the file is done.
DEFAULT_INCOMPLETE_AFTER_SECONDS = 600.0


class FolderSettings(Section):
    """How a folder's files are sent and its stems written. The ``defaults`` section holds
    these for every folder; a folder may set any of them itself."""

    conform: ConformMode = Field(
        "source",
        description="source: stems in the source's rate, channels, length, sample format, "
        "container and BWF timestamp; off: MVSEP's files unchanged.",
    )
    container: ContainerChoice = Field(
        "source", description="source (WAV, AIFF or FLAC as the source; WAV for others), or one."
    )
    sample_format: SampleFormatChoice = Field(
        "source", description="source (lossy sources: pcm24), pcm16, pcm24 or float."
    )
    channels: ChannelsChoice = Field(
        "source", description="source (mono stems for a mono source), or stereo as MVSEP sends."
    )
    residual: bool = Field(
        False, description="Also write a Residual stem: the source minus the stems."
    )
    keep_mvsep_files: bool = Field(
        False, description="Also keep MVSEP's files as sent, in a 'MVSEP files' subfolder."
    )
    tags: TagsChoice = Field(
        "copy",
        description="copy: conformed stems get the source's tags (title '<title> - <stem>', "
        "no cover art); none: no tags.",
    )
    upload_encoding: UploadEncodingChoice = Field(
        "flac",
        description="flac: integer PCM (8/16/24-bit WAV, AIFF, W64, CAF) is sent as lossless "
        "FLAC of the same depth; original: every file as it is.",
    )
    upload_float_as: UploadFloatChoice = Field(
        "original",
        description="original: 32-bit float sources are sent as they are; flac24: as 24-bit "
        "FLAC when they have no samples over full scale.",
    )
    incomplete_after_seconds: float = Field(
        DEFAULT_INCOMPLETE_AFTER_SECONDS,
        ge=0,
        description="A file that stays unchanged yet unfinished (empty, or its audio header "
        "disagrees with its size) this long is reported incomplete in `mvsepd status`; it is "
        "still taken once complete.",
    )


FOLDER_SETTING_KEYS = tuple(FolderSettings.model_fields)


class FolderOverrides(Section):
    """The ``defaults`` keys set on one folder (None: the default's value)."""

    conform: ConformMode | None = Field(None, description="As defaults.conform, for this folder.")
    container: ContainerChoice | None = Field(
        None, description="As defaults.container, for this folder."
    )
    sample_format: SampleFormatChoice | None = Field(
        None, description="As defaults.sample_format, for this folder."
    )
    channels: ChannelsChoice | None = Field(
        None, description="As defaults.channels, for this folder."
    )
    residual: bool | None = Field(None, description="As defaults.residual, for this folder.")
    keep_mvsep_files: bool | None = Field(
        None, description="As defaults.keep_mvsep_files, for this folder."
    )
    tags: TagsChoice | None = Field(None, description="As defaults.tags, for this folder.")
    upload_encoding: UploadEncodingChoice | None = Field(
        None, description="As defaults.upload_encoding, for this folder."
    )
    upload_float_as: UploadFloatChoice | None = Field(
        None, description="As defaults.upload_float_as, for this folder."
    )
    incomplete_after_seconds: Annotated[float, Field(ge=0)] | None = Field(
        None, description="As defaults.incomplete_after_seconds, for this folder."
    )

    def settings_over(self, defaults: FolderSettings) -> FolderSettings:
        """The settings in force: this folder's own keys, else ``defaults``."""
        own = {
            key: getattr(self, key) for key in FOLDER_SETTING_KEYS if getattr(self, key) is not None
        }
        return defaults.model_copy(update=own) if own else defaults

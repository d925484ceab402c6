"""Output formats MVSEP offers, with their wire numbers, labels and file extensions."""

from __future__ import annotations

import enum

from mvsepd.suggest import did_you_mean

#: Audio file types: those soundfile reads, plus the compressed formats MVSEP accepts. Hot
#: folders take these by default, and a stem is saved only under one of them.
AUDIO_EXTENSIONS = (
    "wav",
    "wave",
    "aif",
    "aiff",
    "flac",
    "ogg",
    "oga",
    "opus",
    "mp3",
    "m4a",
    "aac",
    "caf",
    "w64",
)

#: Results of MVSEP's models that are not audio (MIDI of the transcription models, text of
#: the speech and lyrics models): placed with their own extension, never converted.
OTHER_RESULT_EXTENSIONS = ("mid", "midi", "txt", "srt", "vtt", "lrc", "json")


class OutputFormat(enum.IntEnum):
    """MVSEP's ``output_format`` numbers (API page, "output formats" table)."""

    MP3 = 0
    WAV16 = 1
    FLAC16 = 2
    M4A = 3
    WAV32 = 4
    FLAC24 = 5

    @property
    def label(self) -> str:
        """The label MVSEP echoes in a finished job's ``output_format`` field."""
        return _LABELS[self]

    @property
    def extension(self) -> str:
        """File extension of the stems, without the dot."""
        return _EXTENSIONS[self]

    @property
    def config_name(self) -> str:
        """The short name used in mvsepd's configuration (``wav16``, ``flac24``, ...)."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> OutputFormat:
        """Return the format for a number (0-5), a short name (``wav16``) or a MVSEP label.

        Raise ValueError naming the accepted values otherwise.
        """
        if isinstance(value, bool):
            raise ValueError(_accepted_message(value))
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise ValueError(_accepted_message(value)) from None
        if isinstance(value, str):
            text = value.strip().lower()
            if text.isdigit():
                return cls.parse(int(text))
            aliases = {"mp3": cls.MP3, "wav": cls.WAV16, "flac": cls.FLAC16, "m4a": cls.M4A}
            if text in aliases:
                return aliases[text]
            for member in cls:
                if text in (member.config_name, member.label.lower()):
                    return member
        raise ValueError(_accepted_message(value))


_LABELS = {
    OutputFormat.MP3: "mp3 (320 kbps)",
    OutputFormat.WAV16: "wav (uncompressed, 16 bit)",
    OutputFormat.FLAC16: "flac (lossless, 16 bit)",
    OutputFormat.M4A: "m4a (lossy)",
    OutputFormat.WAV32: "wav (uncompressed, 32 bit)",
    OutputFormat.FLAC24: "flac (lossless, 24 bit)",
}

_EXTENSIONS = {
    OutputFormat.MP3: "mp3",
    OutputFormat.WAV16: "wav",
    OutputFormat.FLAC16: "flac",
    OutputFormat.M4A: "m4a",
    OutputFormat.WAV32: "wav",
    OutputFormat.FLAC24: "flac",
}


def _accepted_message(value: object) -> str:
    names = ", ".join(f"{member.config_name} ({member.value})" for member in OutputFormat)
    hint = did_you_mean(str(value), [member.config_name for member in OutputFormat])
    return f"unknown output format {value!r}; {hint + ' ' if hint else ''}accepted: {names}"

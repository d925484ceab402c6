"""Decoding audio files in blocks: libsndfile for what it reads, ffmpeg for m4a/AAC.

A ``Reader`` gives float64 blocks of (frames × channels) until the end, so memory stays flat
for any length. libsndfile decodes mp3 gaplessly (mpg123 with ``MPG123_GAPLESS``: the LAME
delay and padding are removed). ffmpeg is run as a pipe (``-f f32le -``), never through a
shell; its rate and channels come from ffprobe. A file that does not decode to its end, or a
WAV/AIFF/FLAC that ends before its header says, raises ``AudioError`` with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np
import numpy.typing as npt
import soundfile

from mvsepd.errors import AudioError

Audio = npt.NDArray[np.float64]

#: Containers whose header frame count is exact: decoding fewer frames means a cut file.
_EXACT_LENGTH = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF", "FLAC", "CAF"})
_PROBE_TIMEOUT = 60


def ffmpeg_program() -> str | None:
    """The ffmpeg program on PATH, or None."""
    return shutil.which("ffmpeg")


class Reader:
    """Blocks of one file's audio as float64 (frames × channels); a context manager."""

    rate: int
    channels: int
    container: str
    subtype: str | None

    def read(self, frames: int) -> Audio:
        """Up to ``frames`` frames; fewer only at the end, an empty block after it."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (and the decoder process)."""

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SoundfileReader(Reader):
    """A file libsndfile reads."""

    def __init__(self, path: Path, name: str | None = None) -> None:
        self._name = name or path.name
        try:
            self._file = soundfile.SoundFile(str(path))
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
            raise AudioError(f"{self._name}: {_reason(error)}") from None
        self.rate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.container = str(self._file.format)
        self.subtype = str(self._file.subtype)
        self._announced = int(self._file.frames)
        self._read = 0

    def read(self, frames: int) -> Audio:
        try:
            block: Audio = self._file.read(frames, dtype="float64", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise AudioError(
                f"{self._name}: decoding failed after {self._read} frames ({_reason(error)})"
            ) from None
        self._read += block.shape[0]
        if (
            block.shape[0] < frames
            and self.container in _EXACT_LENGTH
            and self._read < self._announced
        ):
            raise AudioError(
                f"{self._name}: the file ends after {self._read} of the "
                f"{self._announced} frames its header announces (truncated)"
            )
        return block

    def close(self) -> None:
        self._file.close()


class FfmpegReader(Reader):
    """Anything ffmpeg decodes (m4a/AAC), streamed from its standard output."""

    def __init__(self, path: Path, program: str, name: str | None = None) -> None:
        self._name = name or path.name
        self.rate, self.channels = _ffprobe(path, program, self._name)
        self.container, self.subtype = "MP4", None
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [program, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-f", "f32le",
             "-acodec", "pcm_f32le", "-"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self._pending = b""
        self._done = False

    def read(self, frames: int) -> Audio:
        process = self._process
        if self._done or process is None:
            return np.zeros((0, self.channels))
        stdout: IO[bytes] = process.stdout  # type: ignore[assignment]
        wanted = frames * self.channels * 4
        data = self._pending
        while len(data) < wanted:
            more = stdout.read(wanted - len(data))
            if not more:
                self._finish()
                break
            data += more
        usable = len(data) - len(data) % (self.channels * 4)
        self._pending = data[usable:]
        samples = np.frombuffer(data[:usable], dtype="<f4").astype(np.float64)
        return samples.reshape(-1, self.channels)

    def _finish(self) -> None:
        self._done = True
        process = self._process
        if process is None:
            return
        stderr = process.stderr.read() if process.stderr is not None else b""
        status = process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        self._process = None
        if status != 0:
            words = stderr.decode("utf-8", "replace").strip().splitlines()
            raise AudioError(
                f"{self._name}: ffmpeg cannot decode it ({words[-1] if words else status})"
            )

    def close(self) -> None:
        process = self._process
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
            self._process = None


def open_reader(path: Path, name: str | None = None) -> Reader:
    """A reader for ``path`` (``name`` in messages): libsndfile when it can, else ffmpeg;
    AudioError when neither can."""
    try:
        return SoundfileReader(path, name)
    except AudioError as error:
        first = error
    program = ffmpeg_program()
    if program is None:
        if path.suffix.lower() in (".m4a", ".mp4", ".aac"):
            raise AudioError(
                f"{name or path.name}: decoding m4a/AAC needs ffmpeg, which is not installed"
            )
        raise first
    try:
        return FfmpegReader(path, program, name)
    except AudioError:
        raise first from None


def count_frames(path: Path, name: str | None = None) -> tuple[int, int, int]:
    """Rate, channels and the number of frames that really decode, read to the end."""
    with open_reader(path, name) as reader:
        frames = 0
        while True:
            block = reader.read(1 << 16)
            if block.shape[0] == 0:
                return reader.rate, reader.channels, frames
            frames += block.shape[0]


def _ffprobe(path: Path, program: str, name: str) -> tuple[int, int]:
    probe = str(Path(program).with_name("ffprobe"))
    if shutil.which(probe) is None:
        probe_found = shutil.which("ffprobe")
        if probe_found is None:
            raise AudioError(f"{name}: reading m4a/AAC needs ffprobe (part of ffmpeg)")
        probe = probe_found
    try:
        answer = subprocess.run(
            [probe, "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=sample_rate,channels", "-of", "json", str(path)],
            capture_output=True, timeout=_PROBE_TIMEOUT, check=False,
        )  # fmt: skip
        stream = json.loads(answer.stdout or b"{}").get("streams", [{}])[0]
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError):
        raise AudioError(f"{name}: ffprobe finds no audio stream in it") from None
    if rate <= 0 or channels <= 0:
        raise AudioError(f"{name}: ffprobe reports {channels} channels at {rate} Hz")
    return rate, channels


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    if "Format not recognised" in text or "unknown format" in text.lower():
        return "not an audio format libsndfile reads"
    return text.splitlines()[0] if text else type(error).__name__

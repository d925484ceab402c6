"""Test helpers for intake: a scripted readiness check, a hand-driven clock, result collection,
and a way to make permission bits bite when the tests run as root."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mvsepd.intake import Intake, Readiness, ReadinessVerdict, ReadyFile, WatchSpec

READY = ReadinessVerdict(Readiness.READY)

#: The ``make_intake`` fixture: builds an Intake (readiness defaults to the test's script) that
#: is stopped when the test ends.
MakeIntake = Callable[..., Intake]
AUDIO_PATTERNS = ("*.wav", "*.flac", "*.aiff")


class ScriptedReadiness:
    """Answers READY unless a file name has scripted answers (used in order, the last repeats).

    Records every call, so tests can say that a file was never read.
    """

    def __init__(self) -> None:
        self.calls: list[Path] = []
        self.script: dict[str, list[ReadinessVerdict]] = {}
        self.hook: Callable[[Path], None] | None = None
        self._lock = threading.Lock()

    def answer(self, name: str, *verdicts: ReadinessVerdict) -> None:
        self.script[name] = list(verdicts)

    def calls_for(self, name: str) -> int:
        return sum(1 for path in self.calls if path.name == name)

    def __call__(self, path: Path) -> ReadinessVerdict:
        with self._lock:
            self.calls.append(path)
            answers = self.script.get(path.name)
        if self.hook is not None:
            self.hook(path)
        if not answers:
            return READY
        return answers.pop(0) if len(answers) > 1 else answers[0]


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def spec(path: Path, **overrides: object) -> WatchSpec:
    """A spec for tests: audio patterns and a short stability window."""
    values: dict[str, object] = {"patterns": AUDIO_PATTERNS, "stability_seconds": 0.3}
    values.update(overrides)
    return WatchSpec(path, **values)  # type: ignore[arg-type]  # values typed per key above


def collect(
    intake: Intake,
    *,
    until: Callable[[list[ReadyFile]], bool],
    timeout: float,
    settle: float = 0.0,
) -> list[ReadyFile]:
    """Call take_ready the way the engine does until ``until`` holds, then ``settle`` seconds
    more (to catch anything returned twice)."""
    results: list[ReadyFile] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        results.extend(intake.take_ready())
        if until(results):
            break
        intake.wait(0.05)
    end = time.monotonic() + settle
    while time.monotonic() < end:
        results.extend(intake.take_ready())
        intake.wait(0.05)
    return results


def count(n: int) -> Callable[[list[ReadyFile]], bool]:
    return lambda results: len(results) >= n


def names(results: Sequence[ReadyFile]) -> list[str]:
    return sorted(result.relative_path for result in results)


def run_until(predicate: Callable[[], bool], intake: Intake, timeout: float) -> bool:
    """Drive take_ready until ``predicate`` holds; True if it did within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        intake.take_ready()
        if predicate():
            return True
        intake.wait(0.05)
    return predicate()


def write(path: Path, data: bytes = b"RIFF-not-really-but-nonempty") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# Permission bits when running as root.

_CAPABILITY_VERSION_3 = 0x20080522
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


class _CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapabilityData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@contextlib.contextmanager
def permission_bits_enforced() -> Iterator[None]:
    """Make permission bits apply to this thread (and threads it starts) even as root.

    Root reads any folder through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH. Linux keeps
    capabilities per thread, so dropping those two from this thread's *effective* set (they
    stay permitted and are raised again afterwards) makes a chmod 000 folder unreadable here,
    exactly as it is for a normal user. Not root: nothing to do.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapabilityHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapabilityData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    saved = data[0].effective
    data[0].effective &= ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    try:
        yield
    finally:
        header = _CapabilityHeader(_CAPABILITY_VERSION_3, 0)
        data[0].effective = saved
        if libc.capset(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capset (restore) failed")

"""The C allocator's settings for a process that runs for weeks (process layer).

glibc's malloc, left to its defaults, lets a long-running, many-threaded Python process creep:
each worker thread that allocates gets an arena of its own (up to eight per core), and after a
large buffer (a download chunk, an upload block) is freed, glibc raises its mmap threshold so
that the next ones are carved from those arenas, where the gaps they leave behind are seldom
given back. The 1,000-job soak measured +9.9 MB of resident memory over 900 jobs with the
defaults and +4.7 to +5.1 MB with two arenas and a fixed 128 KiB threshold (three runs of
tests/chaos/test_soak.py, seed 20261125).

``tune`` applies those two settings through ``mallopt(3)`` before the daemon starts its threads.
It does nothing on other C libraries (macOS, Windows, musl), where these knobs do not exist or
mean something else. Settings given in the environment (``MALLOC_ARENA_MAX``,
``MALLOC_MMAP_THRESHOLD_``) win. (A periodic ``malloc_trim`` was tried as well: the soak's
figure did not move, so it is not done.)
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

#: mallopt(3) parameter numbers, from glibc's malloc.h.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: Two arenas: the engine thread and the workers contend a little, memory stays compact.
ARENA_MAX = 2
#: glibc's own starting value, kept fixed so that large buffers always go back to the system.
MMAP_THRESHOLD = 128 * 1024


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def tune(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Apply the settings the user did not set in the environment; return what was applied."""
    environment = os.environ if environ is None else environ
    library = _glibc()
    if library is None:
        return {}
    applied: dict[str, int] = {}
    wanted = (
        ("MALLOC_ARENA_MAX", _M_ARENA_MAX, ARENA_MAX),
        ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    )
    for variable, parameter, value in wanted:
        if variable in environment:
            continue
        if library.mallopt(ctypes.c_int(parameter), ctypes.c_int(value)) == 1:
            applied[variable] = value
    return applied

"""The daemon's allocator settings: applied on glibc, left alone where the user set them, and
nothing at all on a C library without these knobs."""

from __future__ import annotations

import platform

from mvsepd.process import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_both_settings_are_applied_when_the_environment_names_neither() -> None:
    expected = {
        "MALLOC_ARENA_MAX": allocator.ARENA_MAX,
        "MALLOC_MMAP_THRESHOLD_": allocator.MMAP_THRESHOLD,
    }
    assert allocator.tune({}) == (expected if GLIBC else {})


def test_a_setting_from_the_environment_wins() -> None:
    applied = allocator.tune({"MALLOC_ARENA_MAX": "4"})
    assert applied == ({"MALLOC_MMAP_THRESHOLD_": allocator.MMAP_THRESHOLD} if GLIBC else {})
    assert allocator.tune({"MALLOC_ARENA_MAX": "4", "MALLOC_MMAP_THRESHOLD_": "65536"}) == {}

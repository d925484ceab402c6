"""The daemon's allocator settings: applied on glibc, left alone where the user set them."""

from __future__ import annotations

import platform

import pytest

from mvsepd import allocator

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt(3) settings exist only in glibc",
)


@glibc_only
def test_both_settings_are_applied_when_the_environment_names_neither() -> None:
    assert allocator.tune({}) == {
        "MALLOC_ARENA_MAX": allocator.ARENA_MAX,
        "MALLOC_MMAP_THRESHOLD_": allocator.MMAP_THRESHOLD,
    }


@glibc_only
def test_a_setting_from_the_environment_wins() -> None:
    applied = allocator.tune({"MALLOC_ARENA_MAX": "4"})
    assert applied == {"MALLOC_MMAP_THRESHOLD_": allocator.MMAP_THRESHOLD}
    assert allocator.tune({"MALLOC_ARENA_MAX": "4", "MALLOC_MMAP_THRESHOLD_": "65536"}) == {}

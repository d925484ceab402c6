"""Orchestration: drives jobs from finished files to stems in place.

``core`` schedules; ``ingest``, ``remote`` and ``fetch`` are the steps; ``context`` holds what
they share; ``catalog`` keeps MVSEP's algorithm catalog; ``feed`` tells status clients that
something changed.
"""

from mvsepd.engine.catalog import CatalogCache
from mvsepd.engine.context import (
    HOLD_BUDGET,
    HOLD_TOKEN,
    Context,
    EngineSettings,
    FolderRuntime,
)
from mvsepd.engine.core import Engine
from mvsepd.engine.feed import ChangeFeed

__all__ = [
    "HOLD_BUDGET",
    "HOLD_TOKEN",
    "CatalogCache",
    "ChangeFeed",
    "Context",
    "Engine",
    "EngineSettings",
    "FolderRuntime",
]

"""A local, faithful MVSEP (mvsep.com) API server for tests, benchmarks and the offline demo.

It copies the real service's wire behaviour as recorded in the project's reference material
(response shapes, status codes, headers, PHP-style JSON escaping, limits, credits, file naming),
produces real audio stems by simple DSP, and can inject faults. See ``README.md`` in this
package for every fidelity decision and its source.

It is a *peer* of the daemon: it imports nothing from mvsepd, and nothing in the daemon imports it.
"""

from __future__ import annotations

from mvsepd.emulator.clock import Clock, ManualClock, system_clock
from mvsepd.emulator.faults import FAULT_NAMES
from mvsepd.emulator.server import EmulatorServer
from mvsepd.emulator.settings import EmulatorSettings

__all__ = [
    "FAULT_NAMES",
    "Clock",
    "EmulatorServer",
    "EmulatorSettings",
    "ManualClock",
    "system_clock",
]

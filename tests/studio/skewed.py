"""Run mvsepd with a wall clock that is off: ``python skewed.py SECONDS mvsepd-arguments...``.

Shifts ``time.time`` (what mvsepd reads as the wall clock) before mvsepd is imported; monotonic
time stays the machine's, as on a workstation whose clock is simply set wrong.
"""

from __future__ import annotations

import sys
import time

offset = float(sys.argv.pop(1))
_real_time = time.time
time.time = lambda: _real_time() + offset

from mvsepd.cli import main  # noqa: E402 (after the clock is shifted)

sys.exit(main(sys.argv[1:]))

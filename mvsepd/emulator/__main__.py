"""``python -m mvsepd.emulator``: run the emulator from the command line."""

from mvsepd.emulator.cli import main

raise SystemExit(main())

"""``python -m mvsepd``: the same as the ``mvsepd`` command."""

from mvsepd.cli import main

raise SystemExit(main())

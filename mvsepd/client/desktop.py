"""Opening a folder, a file or an address with this desktop's own application: the file
manager (xdg-open on Linux, open on macOS, Explorer on Windows) or the default browser.

The tray opens stems folders and the page with it; the page (served inside the daemon) opens
a take's stems folder with it ("Show in folder"). It never waits for the application.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def open_in_file_manager(path: Path | str) -> None:
    """Open a folder, a file or an address with the desktop's default application (the file
    manager, the browser), never waiting for it."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606 (Windows' own opener)
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    subprocess.Popen(
        [opener, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

"""The Windows logon task runs ``pythonw.exe``, which has no stdout or stderr at all: logging must
still work and the lines must reach the rotating log file (``--log-file``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WITHOUT_CONSOLE = """
import sys
sys.stdout = None
sys.stderr = None
from pathlib import Path
import structlog
from mvsepd.process import logsetup
logsetup.configure(json_lines=None, log_file=Path(sys.argv[1]))
structlog.get_logger("mvsepd.test").info("hello_without_console", folder="Exports")
"""


def test_logging_without_a_console_writes_the_log_file(tmp_path: Path) -> None:
    log_file = tmp_path / "Logs" / "mvsepd.log"
    completed = subprocess.run(
        [sys.executable, "-c", WITHOUT_CONSOLE, str(log_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in log_file.read_text("utf-8").splitlines()]
    assert [line["event"] for line in lines] == ["hello_without_console"]
    assert lines[0]["folder"] == "Exports"

"""The reference service files in the source tree's ``service/`` folder, from the renderers.

``reference_files()`` renders every file with placeholder paths (``/usr/local/bin/mvsepd``,
``%h/.config/mvsepd/config.yaml``, ...); a test checks the checked-in copies equal it, so they
cannot drift from what ``mvsepd service install`` writes. ``python -m mvsepd.service.reference
service`` rewrites them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mvsepd.service import launchd, systemd, taskxml
from mvsepd.service.spec import ServiceSpec

PLACEHOLDER_PROGRAM = ("/usr/local/bin/mvsepd",)
MACOS_HOME = "/Users/you"
WINDOWS_PYTHONW = "C:\\Users\\you\\AppData\\Local\\Programs\\Python\\Python312\\pythonw.exe"
WINDOWS_CONFIG = "C:\\Users\\you\\AppData\\Local\\mvsepd\\config.yaml"
WINDOWS_USER = "DESKTOP\\you"
TASK_FILE_NAME = "mvsepd-task.xml"


def reference_files() -> dict[str, bytes]:
    """File name in ``service/`` -> content."""
    user_spec = ServiceSpec(program=PLACEHOLDER_PROGRAM, config=systemd.USER_DEFAULT_CONFIG)
    system_spec = ServiceSpec(program=PLACEHOLDER_PROGRAM, config=systemd.SYSTEM_DEFAULT_CONFIG)
    macos_spec = ServiceSpec(
        program=PLACEHOLDER_PROGRAM,
        config=f"{MACOS_HOME}/Library/Application Support/mvsepd/config.yaml",
    )
    windows_spec = ServiceSpec(
        program=(WINDOWS_PYTHONW, "-m", "mvsepd"), config=WINDOWS_CONFIG, log_file=True
    )
    plist = launchd.agent_plist(macos_spec, log_path=f"{MACOS_HOME}/Library/Logs/mvsepd/agent.log")
    return {
        systemd.USER_UNIT_NAME: systemd.user_unit(user_spec).encode("utf-8"),
        systemd.SYSTEM_TEMPLATE_NAME: systemd.system_template(system_spec).encode("utf-8"),
        launchd.PLIST_NAME: launchd.plist_bytes(plist),
        TASK_FILE_NAME: taskxml.task_xml(windows_spec, user_id=WINDOWS_USER, encoding="UTF-8"),
    }


def write_reference_files(directory: Path) -> list[Path]:
    """Write every reference file into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in reference_files().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("service")
    for path in write_reference_files(target):
        sys.stdout.write(f"wrote {path}\n")

"""Running mvsepd as a service (entry layer): unit files, a LaunchAgent, a logon task, and
installing them with the platform's own tool.

- ``spec``: the explicit inputs of a service definition; how this installation is started.
- ``systemd``, ``launchd``, ``taskxml``: pure renderers (unit text, plist, Task Scheduler XML).
- ``platforms``: which file goes where and which tool commands manage it, per platform.
- ``host``: the machine and user, and the injectable runner that executes the tool.
- ``manifest``: the record of what install wrote, so uninstall removes only that.
- ``installer``: install, uninstall and status, refusing bad input before changing anything.
- ``reference``: the reference files in the source tree's ``service/`` folder.
"""

from __future__ import annotations

from mvsepd.service.host import CommandResult, Host, Runner, run_tool
from mvsepd.service.installer import Output, Request, install, status, uninstall
from mvsepd.service.spec import ServiceSpec, UnitText, current_program

__all__ = [
    "CommandResult",
    "Host",
    "Output",
    "Request",
    "Runner",
    "ServiceSpec",
    "UnitText",
    "current_program",
    "install",
    "run_tool",
    "status",
    "uninstall",
]

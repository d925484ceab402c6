"""The Windows Task Scheduler definition for mvsepd: run at logon, as the user, no admin rights.

A pure renderer built with xml.etree. The task starts ``pythonw.exe -m mvsepd run`` (no console
window) when the user logs on, in the user's own session, so the daemon sees mapped drives and
can show a tray; ``LeastPrivilege`` means no elevation and no admin rights to register it.

Task Scheduler's ``RestartOnFailure`` only retries a task that failed to *start*; it does not
watch the process afterwards. So the logon trigger also repeats every few minutes, and
``MultipleInstancesPolicy`` ``IgnoreNew`` turns each repetition into a no-op while the daemon
runs: a daemon that crashed is started again at the next repetition. Stdout and stderr of a
task go nowhere, so the daemon writes its rotating log file (``--log-file``).

A Windows *service* (Session 0) is not the default: it has no desktop, so no tray, and no
mapped network drives, and runs with a separate environment from the user's.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ElementTree

from mvsepd.service.spec import ServiceSpec

TASK_NAME = "mvsepd"
TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
#: A crashed daemon is started again within this interval (ISO 8601 duration).
REPETITION_INTERVAL = "PT5M"
#: Retries when the task cannot be started at all (Task Scheduler's minimum interval is 1 min).
RESTART_INTERVAL = "PT1M"
RESTART_COUNT = 3
#: A short delay after logon lets network drives get mapped first.
LOGON_DELAY = "PT30S"


def _add(parent: ElementTree.Element, tag: str, text: str | None = None) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def task_element(spec: ServiceSpec, *, user_id: str, description: str = "") -> ElementTree.Element:
    """The ``<Task>`` element: a logon trigger for ``user_id`` (``DOMAIN\\user``)."""
    task = ElementTree.Element("Task", {"version": "1.2", "xmlns": TASK_NAMESPACE})
    info = _add(task, "RegistrationInfo")
    _add(info, "Author", user_id)
    _add(
        info,
        "Description",
        description
        or "mvsepd: hot folders for MVSEP. Starts at logon; `mvsepd service uninstall` removes it.",
    )
    _add(info, "URI", f"\\{TASK_NAME}")

    triggers = _add(task, "Triggers")
    logon = _add(triggers, "LogonTrigger")
    _add(logon, "Enabled", "true")
    _add(logon, "UserId", user_id)
    _add(logon, "Delay", LOGON_DELAY)
    repetition = _add(logon, "Repetition")
    _add(repetition, "Interval", REPETITION_INTERVAL)
    _add(repetition, "StopAtDurationEnd", "false")

    principals = _add(task, "Principals")
    principal = _add(principals, "Principal")
    principal.set("id", "Author")
    _add(principal, "UserId", user_id)
    _add(principal, "LogonType", "InteractiveToken")
    _add(principal, "RunLevel", "LeastPrivilege")

    settings = _add(task, "Settings")
    _add(settings, "MultipleInstancesPolicy", "IgnoreNew")
    _add(settings, "DisallowStartIfOnBatteries", "false")
    _add(settings, "StopIfGoingOnBatteries", "false")
    _add(settings, "AllowHardTerminate", "true")
    _add(settings, "StartWhenAvailable", "true")
    _add(settings, "RunOnlyIfNetworkAvailable", "false")
    idle = _add(settings, "IdleSettings")
    _add(idle, "StopOnIdleEnd", "false")
    _add(idle, "RestartOnIdle", "false")
    _add(settings, "AllowStartOnDemand", "true")
    _add(settings, "Enabled", "true")
    _add(settings, "Hidden", "false")
    _add(settings, "RunOnlyIfIdle", "false")
    _add(settings, "WakeToRun", "false")
    # PT0S: no time limit (the default, 72 hours, would stop the daemon every three days).
    _add(settings, "ExecutionTimeLimit", "PT0S")
    _add(settings, "Priority", "7")
    restart = _add(settings, "RestartOnFailure")
    _add(restart, "Interval", RESTART_INTERVAL)
    _add(restart, "Count", str(RESTART_COUNT))

    actions = _add(task, "Actions")
    actions.set("Context", "Author")
    execute = _add(actions, "Exec")
    _add(execute, "Command", spec.program[0])
    _add(execute, "Arguments", subprocess.list2cmdline(spec.run_arguments()))
    return task


def task_xml(spec: ServiceSpec, *, user_id: str, encoding: str = "UTF-16") -> bytes:
    """The task as an XML document in ``encoding``.

    ``schtasks /Create /XML`` reads UTF-16 (with its byte order mark) reliably, which is what
    Task Scheduler itself exports; the reference copy in the source tree is UTF-8 for reading.
    """
    element = task_element(spec, user_id=user_id)
    ElementTree.indent(element, space="  ")
    body = ElementTree.tostring(element, encoding="unicode")
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n{body}\n'
    if encoding.upper() == "UTF-16":
        return "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    return text.encode(encoding)

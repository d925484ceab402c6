"""Install, uninstall and query mvsepd's service, saying exactly what was done.

Install refuses (and changes nothing) when the platform tool is missing, root is needed and
absent, a service is already there (an identical one is reported and left as it is), the
configuration would not start, or a daemon already runs for this user. Then it writes the file
atomically, records it in a manifest and runs the tool; if the tool fails, everything it did is
undone. Uninstall removes only what the manifest names, and only while the file still has the
content install wrote. ``--dry-run`` prints the file on stdout and the commands on stderr.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mvsepd import __version__
from mvsepd.config.file import load_config, resolve_token
from mvsepd.errors import ConfigError, ServiceError
from mvsepd.exits import ExitStatus
from mvsepd.process.instancelock import InstanceLock
from mvsepd.service.host import Host
from mvsepd.service.manifest import (
    Manifest,
    atomic_write,
    digest,
    file_digest,
    manifest_path,
    read_manifest,
    write_manifest,
)
from mvsepd.service.platforms import Plan, Step, build_plan

Say = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    """What the user asked for."""

    system: bool = False
    dry_run: bool = False
    config: Path | None = None
    run_as: str | None = None

    @property
    def scope(self) -> str:
        """``system`` or ``user``."""
        return "system" if self.system else "user"


@dataclass(frozen=True)
class Output:
    """Where words go: ``say`` for what was done (stdout), ``aside`` for remarks (stderr)."""

    say: Say
    aside: Say


def install(host: Host, request: Request, output: Output) -> int:
    """Install and start the service; return the exit status. Raise on refusal."""
    plan = build_plan(host, system=request.system, config=request.config, run_as=request.run_as)
    record = manifest_path(host.manifest_dir, request.scope)
    if request.dry_run:
        output.say(plan.preview.rstrip("\n"))
        # Only the file goes to stdout, so `--dry-run > file` gives the file itself.
        output = Output(say=output.aside, aside=output.aside)
        output.say(f"would write {plan.file} (printed on stdout)")
        output.say(f"would record it in {record}")
        for step in plan.install:
            output.say(f"would run: {plan.command_text(step.argv)}")
        if plan.needs_root and not host.is_root:
            output.say("note: the real install needs root (run it with sudo)")
    if plan.needs_root and not host.is_root and not request.dry_run:
        raise ServiceError(
            f"installing the system unit writes {plan.file} and needs root: run "
            f"`sudo {' '.join(host.program)} service install --system`"
        )
    _require_tool(host, plan)
    if _already_installed(plan, record, output):
        return int(ExitStatus.OK)
    _check_config(host, plan, output)
    if plan.local_daemon:
        _check_no_daemon(host)
    if request.dry_run:
        output.say("checks passed: the tool is there, nothing is installed, the config is valid")
        return int(ExitStatus.OK)
    if plan.probe is not None and plan.probe.succeeded(host.runner(plan.probe.argv)):
        raise ServiceError(
            f"{plan.tool} already knows {plan.name}, but `mvsepd service install` did not "
            f"install it (`{plan.command_text(plan.probe.argv)}` shows it); remove it first"
        )
    _apply(host, plan, record, output)
    return int(ExitStatus.OK)


def _require_tool(host: Host, plan: Plan) -> None:
    if host.which(plan.tool) is None:
        raise ServiceError(
            f"{plan.tool} is not on PATH, so this machine cannot run a {_kind(plan)}; "
            "nothing was changed (start `mvsepd run` from your session's autostart instead)"
        )


def _kind(plan: Plan) -> str:
    return {
        ("linux", "user"): "systemd user service",
        ("linux", "system"): "systemd service",
        ("darwin", "user"): "launchd agent",
        ("windows", "user"): "scheduled task",
    }.get((plan.platform, plan.scope), "service")


def _already_installed(plan: Plan, record: Path, output: Output) -> bool:
    manifest = read_manifest(record)
    if manifest is not None:
        same = (
            manifest.sha256 == digest(plan.content)
            and file_digest(Path(manifest.file)) == manifest.sha256
            and manifest.file == str(plan.file)
            and manifest.name == plan.name
        )
        if same:
            output.say(
                f"already installed, identical: {plan.file} ({plan.name}); nothing changed "
                "(`mvsepd service status` says whether it runs)"
            )
            return True
        raise ServiceError(
            f"already installed with other settings ({manifest.file}, {manifest.name}); "
            "nothing was changed: run `mvsepd service uninstall"
            f"{' --system' if plan.scope == 'system' else ''}` first, then install again"
        )
    if plan.file.exists():
        raise ServiceError(
            f"{plan.file} already exists and `mvsepd service install` did not write it; "
            "nothing was changed: move it away first if mvsepd should replace it"
        )
    return False


def _check_config(host: Host, plan: Plan, output: Output) -> None:
    """Refuse a configuration the service could not start with (ConfigError lists why)."""
    loaded = load_config(plan.config)
    for warning in loaded.warnings:
        output.aside(f"warning: {warning}")
    source = str(plan.config)
    try:
        # A service does not inherit this shell's environment: look as the service will.
        resolve_token(loaded.config, default_token_file=plan.token_file, environ={}, source=source)
    except ConfigError:
        resolve_token(
            loaded.config,
            default_token_file=plan.token_file,
            environ=dict(host.environ),
            source=source,
        )
        variable = loaded.config.account.token_env
        raise ConfigError(
            source,
            [
                f"the API token comes only from ${variable} in this shell, which the service "
                f"will not see: run `mvsepd login` (it writes {plan.token_file}) or set "
                "account.token_file"
            ],
        ) from None


def _check_no_daemon(host: Host) -> None:
    holder = InstanceLock(host.paths.lock_file).holder()
    if holder is not None:
        raise ServiceError(
            f"an mvsepd daemon (pid {holder}) already runs for this user "
            f"({host.paths.state_dir}); the service would refuse to start next to it: "
            "stop it, then install again; nothing was changed"
        )


def _apply(host: Host, plan: Plan, record: Path, output: Output) -> None:
    for directory in plan.directories:
        directory.mkdir(parents=True, exist_ok=True)
    atomic_write(plan.file, plan.content)
    output.say(f"wrote {plan.file}")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    write_manifest(
        record,
        Manifest(
            platform=plan.platform,
            scope=plan.scope,
            name=plan.name,
            file=str(plan.file),
            sha256=digest(plan.content),
            config=str(plan.config),
            installed_at=now,
            mvsepd_version=__version__,
        ),
    )
    for step in plan.install:
        result = host.runner(step.argv)
        if step.succeeded(result):
            output.say(f"ran: {plan.command_text(step.argv)}")
            continue
        _undo(host, plan, record, output)
        raise ServiceError(
            f"`{plan.command_text(step.argv)}` failed (exit {result.returncode}): "
            f"{result.output() or 'no message'}; everything was undone, nothing is installed"
            + (f" (the log may say why: {plan.log_hint})" if "enable" in step.argv else "")
        )
    output.say(f"installed and started {plan.name}, using {plan.config}")
    output.say(f"log: {plan.log_hint}")
    for note in plan.notes:
        output.say(f"note: {note}")


def _undo(host: Host, plan: Plan, record: Path, output: Output) -> None:
    for step in plan.stop:
        host.runner(step.argv)
    with contextlib.suppress(FileNotFoundError):
        plan.file.unlink()
    for step in plan.after_remove:
        host.runner(step.argv)
    with contextlib.suppress(FileNotFoundError):
        record.unlink()
    output.aside(f"undid the install: removed {plan.file}")


def uninstall(host: Host, request: Request, output: Output) -> int:
    """Stop and remove what install wrote; a no-op with a message when nothing was."""
    record = manifest_path(host.manifest_dir, request.scope)
    manifest = read_manifest(record)
    run_as = _instance_user(manifest) if manifest is not None else request.run_as
    plan = build_plan(host, system=request.system, config=request.config, run_as=run_as)
    if manifest is None:
        output.say(f"nothing to uninstall: `mvsepd service install` installed no {_kind(plan)}")
        if plan.file.exists():
            output.say(f"{plan.file} exists but was not written by it; left alone")
        return int(ExitStatus.OK)
    file = Path(manifest.file)
    if request.dry_run:
        for step in plan.stop:
            output.say(f"would run: {plan.command_text(step.argv)}")
        output.say(f"would remove {file} and {record}")
        for step in plan.after_remove:
            output.say(f"would run: {plan.command_text(step.argv)}")
        return int(ExitStatus.OK)
    if plan.needs_root and not host.is_root:
        raise ServiceError(
            f"removing the system unit {file} needs root: run "
            f"`sudo {' '.join(host.program)} service uninstall --system`"
        )
    _require_tool(host, plan)
    present = file.exists()
    known = plan.probe is None or plan.probe.succeeded(host.runner(plan.probe.argv))
    _run_stop_steps(host, plan, output, strict=present and known)
    if present and file_digest(file) == manifest.sha256:
        file.unlink()
        output.say(f"removed {file}")
    elif present:
        output.aside(f"left {file}: it changed since install (your edits?); remove it yourself")
    else:
        output.say(f"{file} was already gone")
    for step in plan.after_remove:
        _run_tolerant(host, plan, step, output)
    record.unlink()
    output.say(f"uninstalled {manifest.name}; the config, token, jobs and logs are kept")
    return int(ExitStatus.OK)


def _instance_user(manifest: Manifest) -> str | None:
    name = manifest.name
    if name.startswith("mvsepd@") and name.endswith(".service"):
        return name[len("mvsepd@") : -len(".service")]
    return None


def _run_stop_steps(host: Host, plan: Plan, output: Output, *, strict: bool) -> None:
    for step in plan.stop:
        result = host.runner(step.argv)
        if step.succeeded(result):
            output.say(f"ran: {plan.command_text(step.argv)}")
        elif step.required and strict:
            raise ServiceError(
                f"`{plan.command_text(step.argv)}` failed (exit {result.returncode}): "
                f"{result.output() or 'no message'}; nothing was removed"
            )
        else:
            _report_tolerated(plan, step, result.returncode, result.output(), output)


def _run_tolerant(host: Host, plan: Plan, step: Step, output: Output) -> None:
    result = host.runner(step.argv)
    if step.succeeded(result):
        output.say(f"ran: {plan.command_text(step.argv)}")
    else:
        _report_tolerated(plan, step, result.returncode, result.output(), output)


def _report_tolerated(plan: Plan, step: Step, status: int, words: str, output: Output) -> None:
    output.aside(
        f"`{plan.command_text(step.argv)}` answered exit {status}"
        + (f" ({words.splitlines()[0]})" if words else "")
        + "; carrying on"
    )


def status(host: Host, request: Request, output: Output) -> int:
    """Say what is installed and whether it runs: 0 running, 3 not running or not installed."""
    record = manifest_path(host.manifest_dir, request.scope)
    manifest = read_manifest(record)
    run_as = _instance_user(manifest) if manifest is not None else request.run_as
    plan = build_plan(host, system=request.system, config=request.config, run_as=run_as)
    if manifest is None:
        output.say(f"not installed by `mvsepd service install` (no {record})")
    else:
        output.say(
            f"installed: {manifest.file} ({manifest.name}), config {manifest.config}, "
            f"on {manifest.installed_at} by mvsepd {manifest.mvsepd_version}"
        )
        if file_digest(Path(manifest.file)) != manifest.sha256:
            output.say(f"note: {manifest.file} changed since install, or is gone")
    if request.dry_run:
        output.say(f"would run: {plan.command_text(plan.status.argv)}")
        return int(ExitStatus.OK)
    if host.which(plan.tool) is None:
        output.say(f"{plan.tool} is not on PATH; cannot ask whether it runs")
        return int(ExitStatus.DAEMON_UNREACHABLE)
    result = host.runner(plan.status.argv)
    words = result.output()
    if words:
        output.say(f"{plan.command_text(plan.status.argv)}:")
        for line in words.splitlines():
            output.say(f"  {line}")
    running = plan.is_running(result)
    state = {True: "running", False: "not running", None: "registered"}[running]
    output.say(f"{plan.name}: {state}; log: {plan.log_hint}")
    if running is False or (running is None and manifest is None):
        return int(ExitStatus.DAEMON_UNREACHABLE)
    return int(ExitStatus.OK)

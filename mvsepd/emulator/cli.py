"""Command line of the emulator (``python -m mvsepd.emulator``, later ``mvsepd emulator``).

    mvsepd emulator [--host 127.0.0.1] [--port N] [--account TOKEN[:free|premium[:CREDITS]]]...
                    [--queue-seconds S] [--processing-seconds S] [--fault NAME=RATE]... [--seed N]
                    [--workers N] [--output-rate HZ|source] [--no-rate-limit] [--no-range]
                    [--upload-rate BYTES_PER_S] [--download-rate BYTES_PER_S] [--latency-ms N]
                    [--allow-remote]

Prints ``listening on http://HOST:PORT`` once the socket is bound, then one line per account
with its token, and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from mvsepd.emulator.faults import FAULT_NAMES
from mvsepd.emulator.server import EmulatorServer
from mvsepd.emulator.settings import EmulatorSettings

DEFAULT_PORT = 8787


@dataclasses.dataclass(frozen=True)
class AccountSpec:
    token: str | None
    plan: str
    credits: int


def parse_account(text: str) -> AccountSpec:
    """``TOKEN[:free|premium[:CREDITS]]``; an empty TOKEN means "make one up"."""
    parts = text.split(":")
    if len(parts) > 3:
        raise argparse.ArgumentTypeError(f"expected TOKEN[:PLAN[:CREDITS]], got {text!r}")
    token = parts[0] or None
    plan = parts[1] if len(parts) > 1 and parts[1] else "free"
    if plan not in ("free", "premium"):
        raise argparse.ArgumentTypeError(f"plan must be free or premium, got {plan!r}")
    try:
        credits = int(parts[2]) if len(parts) > 2 and parts[2] else 0
    except ValueError:
        raise argparse.ArgumentTypeError(f"credits must be a whole number in {text!r}") from None
    if credits < 0:
        raise argparse.ArgumentTypeError("credits must not be negative")
    return AccountSpec(token, plan, credits)


def parse_fault(text: str) -> tuple[str, float]:
    """``NAME=RATE`` with RATE in 0..1 (``NAME`` alone means 1)."""
    name, _, rate_text = text.partition("=")
    if name not in FAULT_NAMES:
        raise argparse.ArgumentTypeError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
    try:
        rate = float(rate_text) if rate_text else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"rate must be a number in {text!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError("rate must be between 0 and 1")
    return name, rate


def parse_byte_rate(text: str) -> float:
    """A link rate in bytes per second (``2500000`` is 20 Mbit/s)."""
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not rate > 0:
        raise argparse.ArgumentTypeError(
            f"expected bytes per second above 0 (2500000 is 20 Mbit/s), got {text!r}"
        )
    return rate


def parse_latency(text: str) -> float:
    """Milliseconds of delay before each answer, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected milliseconds, 0 or more, got {text!r}")
    return value


def parse_output_rate(text: str) -> int | None:
    """``source`` (echo the input's rate, channels and length) or a rate in Hz."""
    if text.strip().lower() == "source":
        return None
    try:
        rate = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a rate in Hz (44100 is MVSEP's) or 'source', got {text!r}"
        ) from None
    if not 1000 <= rate <= 768_000:
        raise argparse.ArgumentTypeError(f"rate {rate} Hz is outside 1000..768000")
    return rate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mvsepd emulator", description="Run a local MVSEP-compatible server."
    )
    defaults = EmulatorSettings()
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--account",
        action="append",
        type=parse_account,
        default=[],
        metavar="TOKEN[:free|premium[:CREDITS]]",
        help="create an account (repeatable); default: one free account",
    )
    parser.add_argument("--queue-seconds", type=float, default=defaults.queue_seconds)
    parser.add_argument("--processing-seconds", type=float, default=defaults.processing_seconds)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument(
        "--output-rate",
        type=parse_output_rate,
        default=defaults.output_rate,
        metavar="HZ|source",
        help="rate of the stems: 44100 like MVSEP's models (default; stereo, ceil length), "
        "or 'source' to echo the input's rate, channels and length",
    )
    parser.add_argument(
        "--upload-rate",
        type=parse_byte_rate,
        default=None,
        metavar="BYTES_PER_S",
        help="shape each account's uploads, over all its connections, to this many bytes/s "
        "(default: loopback speed)",
    )
    parser.add_argument(
        "--download-rate",
        type=parse_byte_rate,
        default=None,
        metavar="BYTES_PER_S",
        help="shape each account's downloads of results likewise (default: loopback speed)",
    )
    parser.add_argument(
        "--latency-ms",
        type=parse_latency,
        default=0.0,
        metavar="N",
        help="wait N milliseconds before every answer (default: 0)",
    )
    parser.add_argument(
        "--publish-seconds",
        type=float,
        default=defaults.publish_seconds,
        metavar="S",
        help="after a job is done, its stems are published over about S seconds (files: [] "
        "first, then records with empty addresses filled one by one, as MVSEP does); 0: at once",
    )
    parser.add_argument(
        "--keepalive-seconds",
        type=float,
        default=defaults.keepalive_seconds,
        metavar="S",
        help="close a kept-alive connection after S seconds idle, as MVSEP's server does "
        "(default 5); 0 closes every connection after its answer",
    )
    parser.add_argument(
        "--chunked-uploads",
        choices=("accept", "empty_body", "length_required"),
        default=defaults.chunked_uploads,
        help="what a request body sent without a length (chunked) meets: accept (default), "
        "empty_body (the application gets none, as Apache with PHP-FPM), or length_required "
        "(a 411, as mod_fcgid)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        type=parse_fault,
        default=[],
        metavar="NAME=RATE",
        help=f"inject a fault (repeatable): {', '.join(FAULT_NAMES)}",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="fault random seed")
    parser.add_argument("--no-rate-limit", action="store_true", help="never answer 429")
    parser.add_argument("--no-range", action="store_true", help="ignore HTTP Range on files")
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow listening on a non-loopback address"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not _is_loopback(args.host):
        if not args.allow_remote:
            _say(
                f"refusing to listen on {args.host}: not a loopback address "
                "(use --allow-remote to do it anyway)",
                sys.stderr,
            )
            return 2
        _say(
            f"warning: listening on {args.host}; anyone who can reach it can use the emulator",
            sys.stderr,
        )
    try:
        settings = EmulatorSettings(
            queue_seconds=args.queue_seconds,
            processing_seconds=args.processing_seconds,
            workers=args.workers,
            output_rate=args.output_rate,
            upload_rate=args.upload_rate,
            download_rate=args.download_rate,
            latency_ms=args.latency_ms,
            seed=args.seed,
            rate_limit=not args.no_rate_limit,
            range_requests=not args.no_range,
            publish_seconds=args.publish_seconds,
            keepalive_seconds=args.keepalive_seconds or None,
            chunked_uploads=args.chunked_uploads,
        )
    except ValueError as error:
        parser.error(str(error))
    server = EmulatorServer(settings, host=args.host, port=args.port)
    for name, rate in args.fault:
        server.faults.set(name, rate)
    try:
        accounts = [
            server.add_account(token=spec.token, plan=spec.plan, credits=spec.credits)
            for spec in (args.account or [AccountSpec(None, "free", 0)])
        ]
    except ValueError as error:
        parser.error(str(error))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            server.start()
        except OSError as error:
            _say(f"cannot listen on {args.host}:{args.port}: {error}", sys.stderr)
            return 1
        _say(f"listening on {server.url}")
        for account in accounts:
            _say(f"account {account.token} plan={account.plan} credits={account.credits}")
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    _say("stopped")
    return 0


def _say(text: str, stream: TextIO | None = None) -> None:
    """One line to stdout (or ``stream``), flushed at once: a parent process waits for it."""
    target = stream or sys.stdout
    target.write(text + "\n")
    target.flush()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

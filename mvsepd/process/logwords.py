"""What ``mvsepd run`` says on a terminal: one line in words per event that matters to the
person who exported the file, in local time, with no event names and no JSON.

Process layer, beside ``logsetup``. The log keeps its events (``job_submitted``, with fields)
for the journal and the log file; here each event that matters becomes a sentence
("Take 3.wav: uploading to MVSEP (12.4 MB as FLAC)"), an event without words of its own is
said through its explanation (``note``, ``reason``, ``error``), and an event with neither is
left out at info level (``log_level: debug`` shows everything). Intake's lines, already words
with ``key=value`` details, are said the same way. Paths show ``~`` for the home folder and
lose their middle folders before they would overflow the terminal.
"""

from __future__ import annotations

import ast
import logging
import re
import shutil
import textwrap
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mvsepd.paths import shown

Fields = Mapping[str, Any]

#: ``words key=value key='quoted value'``: how intake writes its log lines.
_DETAIL = re.compile(r" (\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")
_LEVEL_WORDS = {"warning": "warning: ", "error": "error: ", "critical": "error: "}
#: Events that only developers need: never said on a terminal at info level.
_QUIET = frozenset(
    {
        "status_api_listening",
        "catalog_fetched",
        "staging_removed",
        "upload_encoding_removed",
        "job_ready",
        "chain_step_known",
        "studio_database_reached",
    }
)


def _megabytes(size: object) -> str:
    try:
        return f"{int(str(size)) / (1024 * 1024):.1f} MB"
    except ValueError:
        return "?"


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}{'' if str(count) == '1' else 's'}"


def _ready(fields: Fields) -> str:
    folders = fields.get("folders") or []
    server = str(fields.get("server") or "MVSEP")
    host = server.split("://", 1)[-1]
    return f"ready: watching {_plural(len(folders), 'hot folder')}; MVSEP at {host}"


def _uploading(fields: Fields) -> str:
    encoding = str(fields.get("encoding", ""))
    if encoding == "flac" and fields.get("bytes") is None:
        # Streamed: the FLAC's size is known once it is sent; the file's is known now.
        return (
            f"uploading to MVSEP ({_megabytes(fields.get('source_bytes'))} file, streamed as FLAC)"
        )
    how = " as FLAC" if encoding == "flac" else (" as it is" if encoding else "")
    return f"uploading to MVSEP ({_megabytes(fields.get('bytes'))}{how})"


def _config_refused(fields: Fields) -> str:
    problems = [str(problem) for problem in fields.get("problems") or ()]
    first = problems[0] if problems else "it does not pass `mvsepd config check`"
    more = f" (and {len(problems) - 1} more: mvsepd status)" if len(problems) > 1 else ""
    return f"refused: {first}{more}; the configuration in force stays until it is fixed"


def _config_applied(fields: Fields) -> str:
    changes = [
        f"{_plural(len(fields.get(key) or ()), 'folder')} {key}"
        for key in ("added", "removed", "changed")
        if fields.get(key)
    ]
    words = "applied" + (f" ({', '.join(changes)})" if changes else "")
    if fields.get("refusal_lifted"):
        words += "; the earlier refusal is lifted"
    if fields.get("at_next_start"):
        words += f"; {', '.join(fields['at_next_start'])}: at the next start"
    return words


def _publishing(fields: Fields) -> str:
    words = "separated at MVSEP; waiting for it to publish the stems"
    if not fields.get("listed"):
        return words  # none listed yet: a count of "0 of 0" says nothing
    return f"{words} ({fields.get('published')} of {fields.get('listed')} ready)"


def _stems_ready(fields: Fields) -> str:
    words = "stems ready in "
    return words + _path(fields.get("folder"), _used(fields) + len(words))


def _retry(fields: Fields) -> str:
    return f"{fields.get('reason')}; trying again in {fields.get('delay')} s"


#: What comes before the words: ``HH:MM:SS  warning: ``.
_PREFIX = len("00:00:00  warning: ")


def _used(fields: Fields) -> int:
    return int(fields.get("_used", _PREFIX))


def _path(value: object, used: int = _PREFIX) -> str:
    """A path that fits what is left of the terminal's line (``~``, middle folders elided)."""
    width = shutil.get_terminal_size().columns
    return shown(str(value), max(20, width - used))


#: Sentences of the events that matter, given their fields (the subject comes first).
_SENTENCES: dict[str, Callable[[Fields], str]] = {
    "daemon_ready": _ready,
    "job_created": lambda f: f"new file, preset {f.get('preset')}",
    "upload_started": _uploading,
    "job_submitted": lambda f: (
        "MVSEP is fetching the link" if f.get("link") else "sent; waiting in MVSEP's queue"
    ),
    "link_fetched": lambda f: "MVSEP has the audio; waiting in its queue",
    "job_finished_at_mvsep": lambda f: (
        f"separated at MVSEP; downloading {_plural(f.get('files'), 'stem')}"
    ),
    "stems_ready": _stems_ready,
    "stems_copied": _stems_ready,
    "chain_done": lambda f: f"chain {f.get('chain')} done ({_plural(f.get('steps'), 'step')})",
    "chain_step_ready": lambda f: f"next step of chain {f.get('chain')}: {f.get('step')}",
    "job_failed": lambda f: f"failed: {f.get('reason')}",
    "upload_retry": _retry,
    "download_retry": _retry,
    "retry_scheduled": _retry,
    "delivery_retry": lambda f: f"{f.get('reason')}; trying again in {f.get('delay')} s",
    "poll_failed": lambda f: (
        f"checking MVSEP failed ({f.get('reason')}); trying again in {f.get('retry_in')} s"
    ),
    "original_moved": lambda f: f"original moved to {_path(f.get('to'), _used(f) + 18)}",
    "paused": lambda f: "paused: nothing new is sent to MVSEP (mvsepd resume)",
    "resumed": lambda f: "resumed: new files are sent to MVSEP again",
    "job_retried": lambda f: (
        "retried: sent to MVSEP again"
        if not f.get("follows")
        else "retried: MVSEP still has it; fetching its stems again (no upload)"
    ),
    "stems_publishing": _publishing,
    "config_refused": _config_refused,
    "config_applied": _config_applied,
    "stems_unpublished": lambda f: f"{f.get('reason')}",
    "internal_error": lambda f: (
        f"failed on a defect of mvsepd ({f.get('error')}); the details follow"
    ),
    "preset_needs_premium": lambda f: (
        f"preset {f.get('preset')}: {f.get('problem')}; this account uses the free plan: "
        "its files wait until premium usage is on at mvsep.com"
    ),
    "failures_dismissed": lambda f: f"{_plural(f.get('count'), 'failure')} dismissed",
    "job_cancelled": lambda f: f"cancelled{': ' + str(f['detail']) if f.get('detail') else ''}",
    "stop_requested": lambda f: "stopping; every job is saved and goes on at the next start",
    "daemon_stopped": lambda f: "stopped",
    "second_signal": lambda f: "exiting now; jobs resume at the next start",
    "token_invalid": lambda f: (
        f"MVSEP refused the API token ({f.get('detail')}); nothing is sent until it works: "
        "run `mvsepd login`"
    ),
    "token_valid_again": lambda f: "the API token works again; sending goes on",
    "account_check_failed": lambda f: f"the account could not be checked: {f.get('error')}",
    "catalog_fetch_failed": lambda f: (
        f"MVSEP's list of models could not be fetched: {f.get('error')}"
    ),
    "preset_unusable": lambda f: f"{f.get('problem')}; files in its folders will fail",
    "existing_files_skipped": lambda f: (
        f"{_plural(f.get('files'), 'file')} already there the first time it was watched: "
        "skipped (existing_files: skip)"
    ),
    "file_waits": lambda f: f"waiting: {f.get('reason')}",
    "uncaught_exception": lambda f: "crashed (a bug in mvsepd; the details follow)",
    "uncaught_exception_in_thread": lambda f: (
        f"a worker crashed (a bug in mvsepd; the details follow): {f.get('thread')}"
    ),
}
#: Explanations an event without a sentence of its own is said through, in this order.
_EXPLAINING = ("note", "reason", "error", "detail", "problem")


def _subject(fields: Fields, used: int = _PREFIX) -> str:
    """Who the line is about: a file's name, a link, a folder (fitting the ``used`` line)."""
    for key in ("file", "prompt_file", "link"):
        value = fields.get(key)
        if value:
            return Path(str(value)).name if key == "file" else str(value)
    if fields.get("path"):
        return Path(str(fields["path"])).name
    if fields.get("folder"):
        return _path(fields["folder"], used)
    if fields.get("job") is not None:
        return f"job {fields['job']}"
    return ""


def sentence(fields: Fields, *, verbose: bool = False) -> str | None:
    """The words for one log event (its ``event`` and fields), or None when it is not said."""
    event = str(fields.get("event", ""))
    level = str(fields.get("level", "info"))
    details: dict[str, Any] = dict(fields)
    if " " in event:
        # Intake's own words, with key=value details after them.
        found = _DETAIL.findall(event)
        event = _DETAIL.sub("", event)
        details.update({key: _value(value) for key, value in found})
        extra = next((details[key] for key in _EXPLAINING if details.get(key)), None)
        text = f"{event} ({extra})" if extra else event
        subject = _subject(details, _PREFIX + len(text) + 2)
        return f"{subject}: {text}" if subject else text
    describe = _SENTENCES.get(event)
    subject = "" if event in ("daemon_ready", "preset_unusable") else _subject(details)
    details["_used"] = _PREFIX + len(subject) + 2
    if describe is not None:
        text = describe(details)
    elif event in _QUIET and not verbose:
        return None
    else:
        explanation = next((details[key] for key in _EXPLAINING if details.get(key)), None)
        if explanation is None and level in ("debug", "info") and not verbose:
            return None
        text = str(explanation) if explanation is not None else event.replace("_", " ")
    return f"{subject}: {text}" if subject else text


def _value(text: str) -> str:
    if text[:1] in "'\"":
        try:
            return str(ast.literal_eval(text))
        except (ValueError, SyntaxError):
            return text
    return text


def _local_time(fields: Fields) -> str:
    stamp = fields.get("timestamp")
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return "--:--:--"
    return moment.astimezone().strftime("%H:%M:%S")


class WordsRenderer:
    """The final step of the console's chain: ``HH:MM:SS  words`` (local time; none with
    ``timestamps`` off, for a command's own warnings), a warning or an error said so, a
    crash's traceback after it. With ``wrap`` (a terminal), a line longer than the terminal
    is wide goes on under its words, broken between words (the terminal would cut one)."""

    def __init__(self, *, timestamps: bool = True, wrap: bool = False) -> None:
        self.timestamps = timestamps
        self.wrap = wrap

    def __call__(self, logger: object, method: str, fields: Fields) -> str:
        text = sentence(fields, verbose=True) or ""
        level = _LEVEL_WORDS.get(str(fields.get("level", "info")), "")
        line = f"{_local_time(fields)}  {level}{text}" if self.timestamps else f"{level}{text}"
        if self.wrap:
            # Read for every line: the window may have been resized.
            width = shutil.get_terminal_size().columns
            indent = " " * (len("00:00:00  ") if self.timestamps else 2)
            line = "\n".join(
                textwrap.wrap(
                    line,
                    width=max(width, 40),
                    subsequent_indent=indent,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                or [line]
            )
        exception = fields.get("exception")
        return f"{line}\n{exception}" if exception else line


class WordsFilter(logging.Filter):
    """Lets through the records that have words on the terminal (``sentence`` is not None)."""

    def __init__(self, *, verbose: bool = False) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            fields: dict[str, Any] = {"level": record.levelname.lower(), **record.msg}
        else:
            fields = {"event": record.getMessage(), "level": record.levelname.lower()}
        return sentence(fields, verbose=self.verbose) is not None

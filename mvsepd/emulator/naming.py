"""MVSEP's identifiers and names: slugs, separation hashes, short hashes, file names, sizes, dates.

- Separation hash: ``YYYYMMDDHHMMSS-<md5(file)[:10]>-<slug>.<ext>`` [REC]; the time stamp is UTC
  creation time [INF], the 10 hex digits are the same for the same file on different days [REC].
- Slug: lowercase; every run of characters other than ``a-z0-9`` becomes ``-``; trimmed; other
  scripts are transliterated through NFKD or dropped [REC for ASCII, INF for the rest].
- Stem file: ``<hash without ext>_<algo-slug>_mt_<n>_<stem>.<ext>`` on the server and
  ``<original slug>_<algo-slug>_mt_<n>_<stem>.<ext>`` as the suggested download name [REC shape;
  INF for how ``algo-slug`` and ``n`` are derived].
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import string
import unicodedata
from pathlib import Path

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ALPHANUMERIC = string.ascii_letters + string.digits
TOKEN_LENGTH = 30
SHORT_HASH_LENGTH = 16
MAX_DOWNLOAD_STEM = 200
#: [INF] MVSEP stores files named after the hash, so the slug must leave room in 255 bytes for
#: the time stamp, the MD5 part and the ``_<algo>_mt_<n>_<stem>.<ext>`` suffix of the stems.
MAX_SLUG = 150


def slugify(text: str, fallback: str = "audio") -> str:
    """MVSEP-style slug of ``text``; ``fallback`` when nothing survives."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NON_ALNUM.sub("-", ascii_text.lower()).strip("-")
    return slug or fallback


def split_upload_name(filename: str) -> tuple[str, str]:
    """Return (slug of the name without extension, lowercase extension or '')."""
    name = Path(filename.replace("\\", "/")).name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return slugify(name), ""
    clean_extension = extension.lower() if extension.isalnum() and len(extension) <= 5 else ""
    return slugify(stem)[:MAX_SLUG].rstrip("-") or "audio", clean_extension


def file_md5_prefix(path: Path, chunk_bytes: int = 1024 * 1024) -> str:
    """First 10 hex digits of the MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()[:10]


def text_md5_prefix(text: str) -> str:
    """First 10 hex digits of the MD5 of a text (for jobs without an input file)."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]


def separation_hash(created_at: float, md5_prefix: str, slug: str, extension: str) -> str:
    """``YYYYMMDDHHMMSS-<md5 prefix>-<slug>.<ext>``."""
    stamp = utc(created_at).strftime("%Y%m%d%H%M%S")
    return f"{stamp}-{md5_prefix}-{slug}.{extension}"


def hash_stem(separation_hash_value: str) -> str:
    """The hash without its extension."""
    stem, dot, _extension = separation_hash_value.rpartition(".")
    return stem if dot else separation_hash_value


def new_token() -> str:
    """A 30-character API token of letters and digits."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(TOKEN_LENGTH))


def new_short_hash() -> str:
    """The short hash a URL create answers with (shaped like MVSEP's ``n2AwBjy4KsFZfqqR``)."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(SHORT_HASH_LENGTH))


def algorithm_slug(name: str) -> str:
    """Compact model name for stem file names: ``MelBand Roformer (...)`` → ``melbandroformer``."""
    base = name.split("(", 1)[0]
    compact = _NON_ALNUM.sub("", slugify(base, fallback="model"))
    return compact or "model"


def stem_file_name(prefix: str, algo_slug: str, model_number: str, stem: str, ext: str) -> str:
    """``<prefix>_<algo-slug>_mt_<n>_<stem>.<ext>``."""
    return f"{prefix}_{algo_slug}_mt_{model_number}_{stem}.{ext}"


def long_download_name(
    original_slug: str,
    algorithm_name: str,
    option_labels: list[str],
    model_number: str,
    stem: str,
    ext: str,
) -> str:
    """Download name in long-filenames mode: algorithm and chosen options spelled out [INF]."""
    parts = [original_slug, slugify(algorithm_name, fallback="model")]
    parts.extend(slugify(label, fallback="option") for label in option_labels)
    head = "_".join(parts)[:MAX_DOWNLOAD_STEM].rstrip("-_")
    return f"{head}_mt_{model_number}_{stem}.{ext}"


def input_download_name(separation_hash_value: str, host: str) -> str:
    """``<hash stem>_[<host>].<ext>``, the input copy's suggested name [REC]."""
    stem, dot, extension = separation_hash_value.rpartition(".")
    if not dot:
        return f"{separation_hash_value}_[{host}]"
    return f"{stem}_[{host}].{extension}"


def human_size(size_bytes: int) -> str:
    """``5.70 MB`` style sizes (binary multiples, two decimals) [REC shape, INF base]."""
    value = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def utc(epoch_seconds: float) -> datetime.datetime:
    """A UTC datetime from epoch seconds."""
    return datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.timezone.utc)


def format_datetime(epoch_seconds: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (Laravel's serialisation of timestamps) in UTC."""
    return utc(epoch_seconds).strftime("%Y-%m-%d %H:%M:%S")


def format_minute(epoch_seconds: float) -> str:
    """``YYYY-MM-DD HH:MM`` (the demo list's ``date``)."""
    return utc(epoch_seconds).strftime("%Y-%m-%d %H:%M")

"""Content hashes of files, read in blocks (leaf layer: standard library only)."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK_SIZE = 1024 * 1024


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, reading it in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()

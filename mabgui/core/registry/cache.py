"""A small on-disk cache of manifests and configs keyed by digest.

Content addressed by digest never changes, so a hit needs no revalidation; every read is hashed
again anyway, so a damaged file is dropped instead of trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

MAX_ENTRY_BYTES = 4 * 1024 * 1024


def default_cache_dir() -> Path:
    """``$MABGUI_CACHE_DIR`` or the platform's user cache folder (``~/.cache/mabgui/blobs``)."""
    override = os.environ.get("MABGUI_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mabgui", appauthor=False)) / "blobs"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class DigestCache:
    """Files under ``root/<algorithm>/<hex>``; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path | None:
        algorithm, _, hex_part = digest.partition(":")
        if not algorithm.isalnum() or not hex_part.isalnum():
            return None
        return self.root / algorithm / hex_part

    def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            ok = digest_of(data, digest.partition(":")[0]) == digest
        except ValueError:
            ok = False
        if not ok:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return data

    def put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path is None or len(data) > MAX_ENTRY_BYTES:
            return
        import tempfile  # only writers need it: keeps `mabgui inspect` start-up lean

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError:
            # A read-only or full disk only costs speed; never fail a look-up over the cache.
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)

"""Saved builds: every build's spec, outcome and raw progress stream, in the user data dir.

One folder per build under ``$MABGUI_DATA_DIR/builds`` (default: the platform's user data
folder, e.g. ``~/.local/share/mabgui/builds``): ``build.json`` (the spec without secret
values, start, duration, per-platform result, digest, summary) and ``progress.rawjson.gz``
(the stream exactly as buildx wrote it). Reopening re-parses the stream, so a past build looks
exactly like a live one. :func:`open_recording` does the same for any recorded rawjson file.

Blocking file I/O: call from the UI through ``asyncio.to_thread``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, ProgressParser

if TYPE_CHECKING:
    from mabgui.core.build import BuildSpec

KEEP_BUILDS = 200  # older builds are pruned on save
STREAM_FILE = "progress.rawjson.gz"
META_FILE = "build.json"
_CHUNK = 1 << 16


class HistoryError(MabguiError):
    """A saved build or recording that cannot be read."""


@dataclass(frozen=True)
class HistoryEntry:
    id: str
    path: Path
    spec: dict[str, Any]
    started: float  # epoch seconds
    duration_s: float | None
    ok: bool
    error: str
    digest: str
    exit_code: int | None
    canceled: bool
    platforms: dict[str, str] = field(default_factory=dict)  # platform -> lane state
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def stream_path(self) -> Path:
        return self.path / STREAM_FILE

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "started": self.started,
            "duration_s": self.duration_s,
            "ok": self.ok,
            "error": self.error,
            "digest": self.digest,
            "exit_code": self.exit_code,
            "canceled": self.canceled,
            "platforms": self.platforms,
            "spec": self.spec,
        }


def history_dir() -> Path:
    """``$MABGUI_DATA_DIR/builds``, else the platform's user data dir + ``builds``."""
    override = os.environ.get("MABGUI_DATA_DIR")
    if override:
        return Path(override) / "builds"
    from platformdirs import user_data_path

    return user_data_path("mabgui", appauthor=False) / "builds"


def save(
    spec: BuildSpec,
    progress: BuildProgress,
    raw_gz: bytes,
    *,
    started: float,
    root: Path | None = None,
) -> HistoryEntry:
    """Store a finished build; returns its entry. Prunes beyond :data:`KEEP_BUILDS`."""
    base = root or history_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    build_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder = base / build_id
    folder.mkdir(parents=True, exist_ok=False)
    result = progress.result
    saved_spec = spec.to_json(redact=True)
    for key in ("context", "dockerfile", "output_dest"):
        value = saved_spec.get(key)
        if value and "://" not in value and not value.startswith("git@"):
            saved_spec[key] = os.path.abspath(value)  # so the build can be re-run from anywhere
    meta = {
        "version": 1,
        "id": build_id,
        "spec": saved_spec,
        "started": started,
        "duration_s": progress.duration_s,
        "ok": bool(result and result.ok),
        "error": result.error if result else "",
        "digest": result.digest if result else "",
        "exit_code": result.exit_code if result else None,
        "canceled": bool(result and result.canceled),
        "platforms": {str(p): str(lane.state) for p, lane in progress.lanes.items()},
        "native": str(progress.native),
        "summary": progress.summary(),
    }
    (folder / STREAM_FILE).write_bytes(raw_gz)
    tmp = folder / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    tmp.replace(folder / META_FILE)
    prune(KEEP_BUILDS, root=base)
    return _entry(folder, meta)


def _entry(folder: Path, meta: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        id=str(meta.get("id") or folder.name),
        path=folder,
        spec=dict(meta.get("spec") or {}),
        started=float(meta.get("started") or 0.0),
        duration_s=meta.get("duration_s"),
        ok=bool(meta.get("ok")),
        error=str(meta.get("error") or ""),
        digest=str(meta.get("digest") or ""),
        exit_code=meta.get("exit_code"),
        canceled=bool(meta.get("canceled")),
        platforms=dict(meta.get("platforms") or {}),
        summary=dict(meta.get("summary") or {}),
    )


def _folders(base: Path) -> Iterator[Path]:
    if not base.is_dir():
        return
    for child in base.iterdir():
        if child.is_dir() and (child / META_FILE).is_file():
            yield child


def list_entries(limit: int | None = None, *, root: Path | None = None) -> list[HistoryEntry]:
    """Saved builds, newest first; unreadable folders are skipped."""
    entries: list[HistoryEntry] = []
    for folder in _folders(root or history_dir()):
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict):
            entries.append(_entry(folder, meta))
    entries.sort(key=lambda e: (e.started, e.id), reverse=True)
    return entries[:limit] if limit is not None else entries


def get(build_id: str, *, root: Path | None = None) -> HistoryEntry:
    folder = (root or history_dir()) / build_id
    if "/" in build_id or "\\" in build_id or build_id in ("", ".", ".."):
        raise HistoryError(f"{build_id!r} is not a build id")
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HistoryError(f"no saved build {build_id!r} in {folder.parent}") from None
    except (OSError, ValueError) as exc:
        raise HistoryError(f"saved build {build_id!r} cannot be read: {exc}") from None
    return _entry(folder, meta)


def load(entry: HistoryEntry | str, *, root: Path | None = None) -> BuildProgress:
    """Re-parse a saved build's stream into a model, with the result it ended with."""
    if isinstance(entry, str):
        entry = get(entry, root=root)
    platforms = []
    for text in entry.spec.get("platforms", []):
        parsed = Platform.try_parse(str(text))
        if parsed is not None:
            platforms.append(parsed)
    parser = ProgressParser(platforms)
    try:
        with gzip.open(entry.stream_path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                parser.feed(chunk)
    except (OSError, EOFError) as exc:
        raise HistoryError(
            f"saved build {entry.id!r}: the progress stream is damaged: {exc}"
        ) from None
    parser.close(
        entry.exit_code,
        digest=entry.digest,
        canceled=entry.canceled,
        duration_s=entry.duration_s,
        error=entry.error,
    )
    return parser.progress


def delete(entry: HistoryEntry | str, *, root: Path | None = None) -> None:
    if isinstance(entry, str):
        entry = get(entry, root=root)
    shutil.rmtree(entry.path, ignore_errors=True)


def prune(keep: int = KEEP_BUILDS, *, root: Path | None = None) -> int:
    """Remove all but the ``keep`` newest builds; returns how many were removed."""
    entries = list_entries(root=root)
    for old in entries[keep:]:
        shutil.rmtree(old.path, ignore_errors=True)
    return max(0, len(entries) - keep)


def open_recording(
    path: str | os.PathLike[str], platforms: list[Platform] | None = None
) -> BuildProgress:
    """Parse a recorded ``--progress=rawjson`` file (plain or gzip), e.g. a CI artifact.

    Raises :class:`HistoryError` when the file is missing or holds no build progress at all.
    """
    p = Path(path)
    try:
        with p.open("rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
    except FileNotFoundError:
        raise HistoryError(f"{str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise HistoryError(f"{str(p)!r} is a directory, not a recorded stream") from None
    except OSError as exc:
        raise HistoryError(f"cannot read {str(p)!r}: {exc}") from None
    parser = ProgressParser(platforms or [])
    try:
        with gzip.open(p, "rb") if gzipped else p.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                parser.feed(chunk)
    except (OSError, EOFError) as exc:
        raise HistoryError(f"cannot read {str(p)!r}: {exc}") from None
    parser.close()
    progress = parser.progress
    if not progress.steps and not progress.messages:
        raise HistoryError(
            f"{str(p)!r} holds no build progress "
            "(record one with: docker buildx build --progress=rawjson … 2> FILE)"
        )
    if not progress.steps:
        first = progress.messages[0].text[:80]
        raise HistoryError(
            f"{str(p)!r} is not a --progress=rawjson stream (no BuildKit step in it; "
            f"it starts with {first!r})"
        )
    return progress

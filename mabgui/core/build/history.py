"""Saved builds: every build's spec, outcome and raw progress stream, in the user data dir.

One folder per build under ``$MABGUI_DATA_DIR/builds`` (default: the platform's user data
folder, e.g. ``~/.local/share/mabgui/builds``): ``build.json`` (the spec with build-arg names
only, start, duration, per-platform result, digest, summary) and ``progress.rawjson.gz`` (the
stream as buildx wrote it, with every build-arg value and secret scrubbed). Reopening re-parses
the stream, so a past build looks exactly like a live one. :func:`open_recording` does the same
for any recorded rawjson file.

A build folder appears whole or not at all: it is written under a hidden temporary name and
renamed into place; folders are 0700 and files 0600 (a build's names and logs are private). A
saved entry that does not read as one (hand-edited, damaged) is skipped and reported, never
raised: the history must not stop a build from ending nor ``mabgui history`` from listing.

Blocking file I/O: call from the UI through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import stat
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from mabgui.core import log
from mabgui.core.build.scrub import scrub_gz, scrub_json
from mabgui.core.build.spec import BuildSpec
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, NativeArg, ProgressParser

KEEP_BUILDS = 200  # older builds are pruned on save
STREAM_FILE = "progress.rawjson.gz"
META_FILE = "build.json"
MAX_META_BYTES = 16 << 20  # a build.json larger than this is not one mabgui wrote
_CHUNK = 1 << 16
_TMP_PREFIX = ".tmp-"

_log = log.get("build")


class HistoryError(MabguiError):
    """A saved build or recording that cannot be read."""

    kind = "history"


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
    native: tuple[Platform, ...] = ()  # the builder's native platforms, when they were known

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


@dataclass
class Listing:
    """The readable saved builds (newest first) and why the others were skipped."""

    entries: list[HistoryEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def history_dir() -> Path:
    """``$MABGUI_DATA_DIR/builds``, else the platform's user data dir + ``builds``."""
    override = os.environ.get("MABGUI_DATA_DIR")
    if override:
        return Path(override) / "builds"
    from platformdirs import user_data_path

    return user_data_path("mabgui", appauthor=False) / "builds"


# --- writing ------------------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only (0600 whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)


def save(
    spec: BuildSpec,
    progress: BuildProgress,
    raw_gz: bytes,
    *,
    started: float,
    root: Path | None = None,
    secret_values: Sequence[str] = (),
) -> HistoryEntry:
    """Store a finished build; returns its entry. Prunes beyond :data:`KEEP_BUILDS`.

    ``secret_values`` (every build-arg value and secret content) are scrubbed from the stream
    and the summary. Raises OSError (full disk, unwritable folder) with nothing left behind.
    """
    base = root or history_dir()
    _private_dir(base)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    build_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
    result = progress.result
    saved_spec = spec.to_json()
    for key in ("context", "dockerfile", "output_dest"):
        value = saved_spec.get(key)
        if value and "://" not in value and not value.startswith("git@"):
            saved_spec[key] = os.path.abspath(value)  # so the build can be re-run from anywhere
    values = sorted({v for v in secret_values if v}, key=len, reverse=True)
    meta = scrub_json(
        {
            "version": 2,
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
            "native": [] if progress.native_assumed else [str(p) for p in progress.natives],
            "summary": progress.summary(),
        },
        values,
    )
    stream = scrub_gz(raw_gz, values)
    tmp = base / f"{_TMP_PREFIX}{build_id}"
    try:
        tmp.mkdir(mode=0o700)
        _write_private(tmp / STREAM_FILE, stream)
        _write_private(tmp / META_FILE, json.dumps(meta, indent=1).encode())
        tmp.rename(base / build_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(KEEP_BUILDS, root=base)
    return _entry(base / build_id, meta)


# --- reading ------------------------------------------------------------------------------------


def _number(meta: dict[str, Any], key: str, *, optional: bool) -> Any:
    value = meta.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise HistoryError(f"{key!r} is not a number")
    return value


def _entry(folder: Path, meta: Any) -> HistoryEntry:
    """One saved build from its ``build.json``; raises :class:`HistoryError` naming the first
    field that is not what mabgui writes there."""
    if not isinstance(meta, dict):
        raise HistoryError("build.json is not a JSON object")
    for key in ("spec", "platforms", "summary"):
        if not isinstance(meta.get(key) or {}, dict):
            raise HistoryError(f"{key!r} is not an object")
    for key in ("id", "error", "digest"):
        if not isinstance(meta.get(key) or "", str):
            raise HistoryError(f"{key!r} is not text")
    platforms = meta.get("platforms") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in platforms.items()):
        raise HistoryError("'platforms' does not map platforms to states")
    exit_code = meta.get("exit_code")
    if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
        raise HistoryError("'exit_code' is not an integer")
    native_raw = meta.get("native") or []
    if isinstance(native_raw, str):  # version 1 wrote the machine's platform: not trusted
        native_raw = []
    if not isinstance(native_raw, list):
        raise HistoryError("'native' is not a list")
    native = tuple(p for p in (Platform.try_parse(str(t)) for t in native_raw) if p)
    started = float(_number(meta, "started", optional=False))
    duration = _number(meta, "duration_s", optional=True)
    return HistoryEntry(
        id=str(meta.get("id") or folder.name),
        path=folder,
        spec=dict(meta.get("spec") or {}),
        started=started,
        duration_s=None if duration is None else float(duration),
        ok=bool(meta.get("ok")),
        error=str(meta.get("error") or ""),
        digest=str(meta.get("digest") or ""),
        exit_code=exit_code,
        canceled=bool(meta.get("canceled")),
        platforms=dict(platforms),
        summary=dict(meta.get("summary") or {}),
        native=native,
    )


def _read_meta(folder: Path) -> Any:
    path = folder / META_FILE
    with path.open("rb") as fh:
        data = fh.read(MAX_META_BYTES + 1)
    if len(data) > MAX_META_BYTES:
        raise HistoryError(f"{META_FILE} is larger than {MAX_META_BYTES >> 20} MiB")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise HistoryError(f"{META_FILE} is not JSON ({type(exc).__name__})") from None


def _folders(base: Path) -> Iterator[Path]:
    if not base.is_dir():
        return
    for child in base.iterdir():
        if child.name.startswith(_TMP_PREFIX):
            continue  # a save in progress (or one that a crash interrupted)
        if child.is_dir() and (child / META_FILE).is_file():
            yield child


def read_entries(limit: int | None = None, *, root: Path | None = None) -> Listing:
    """Saved builds, newest first, and a reason for each folder that was skipped."""
    if limit is not None and limit < 0:
        raise HistoryError(f"limit {limit} is negative", "give 0 or more (no limit: leave it out)")
    listing = Listing()
    for folder in _folders(root or history_dir()):
        try:
            listing.entries.append(_entry(folder, _read_meta(folder)))
        except (OSError, HistoryError) as exc:
            reason = f"saved build {folder.name!r} skipped: {exc}"
            listing.skipped.append(reason)
            _log.warning("%s", reason)
    listing.entries.sort(key=lambda e: (e.started, e.id), reverse=True)
    if limit is not None:
        listing.entries = listing.entries[:limit]
    return listing


def list_entries(limit: int | None = None, *, root: Path | None = None) -> list[HistoryEntry]:
    """Saved builds, newest first; unreadable ones are skipped (and logged)."""
    return read_entries(limit, root=root).entries


def get(build_id: str, *, root: Path | None = None) -> HistoryEntry:
    if "/" in build_id or "\\" in build_id or build_id in ("", ".", ".."):
        raise HistoryError(f"{build_id!r} is not a build id")
    folder = (root or history_dir()) / build_id
    try:
        return _entry(folder, _read_meta(folder))
    except FileNotFoundError:
        raise HistoryError(
            f"no saved build {build_id!r} in {folder.parent}",
            "`mabgui history` lists the saved builds",
        ) from None
    except (OSError, HistoryError) as exc:
        raise HistoryError(f"saved build {build_id!r} is damaged: {exc}") from None


@contextlib.contextmanager
def _open_stream(path: Path) -> Iterator[BinaryIO]:
    """A plain or gzip-compressed stream, opened once (a pipe cannot be reopened)."""
    with path.open("rb") as raw:
        gzipped = raw.peek(2)[:2] == b"\x1f\x8b"
        with gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw as fh:
            yield cast(BinaryIO, fh)


def _feed_file(parser: ProgressParser, path: Path) -> None:
    with _open_stream(path) as fh:
        while chunk := fh.read(_CHUNK):
            parser.feed(chunk)


def load(
    entry: HistoryEntry | str, *, root: Path | None = None, native: NativeArg = None
) -> BuildProgress:
    """Re-parse a saved build's stream into a model, with the result it ended with.

    ``native``: the builder's native platforms when the entry did not record them.
    """
    if isinstance(entry, str):
        entry = get(entry, root=root)
    platforms = []
    listed = entry.spec.get("platforms")
    for text in listed if isinstance(listed, list) else []:
        parsed = Platform.try_parse(str(text))
        if parsed is not None:
            platforms.append(parsed)
    parser = ProgressParser(platforms, entry.native or native)
    try:
        _feed_file(parser, entry.stream_path)
    except (OSError, EOFError, zlib.error) as exc:
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


_RECORDING_HINT = "give a rawjson file or a build id from `mabgui history`"


@contextlib.contextmanager
def _reading_recording(p: Path) -> Iterator[None]:
    """Refuse what is not a recording (missing, a folder, a device) before reading, and turn
    the read's errors into :class:`HistoryError`."""
    hint = _RECORDING_HINT
    try:
        info = p.stat()
    except FileNotFoundError:
        raise HistoryError(f"{str(p)!r} does not exist", hint) from None
    except OSError as exc:
        raise HistoryError(f"cannot read {str(p)!r}: {exc.strerror or exc}", hint) from None
    if stat.S_ISDIR(info.st_mode):
        raise HistoryError(f"{str(p)!r} is a directory, not a recorded stream", hint)
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
        # A device (/dev/zero, /dev/urandom) never ends; a pipe (<(zcat …)) does.
        raise HistoryError(f"{str(p)!r} is not a regular file (a device or a socket)", hint)
    try:
        yield
    except PermissionError as exc:
        raise HistoryError(f"cannot read {str(p)!r}: {exc.strerror or exc}", hint) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise HistoryError(
            f"{str(p)!r} is damaged: {exc}", "the recording was cut or corrupted"
        ) from None


def read_recording(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a recorded ``--progress=rawjson`` file (plain or gzip), unparsed.

    For a replay that feeds the stream itself (the GUI paces it by its own timestamps); the
    same files are refused as by :func:`open_recording`, with :class:`HistoryError`.
    """
    p = Path(path)
    with _reading_recording(p), _open_stream(p) as fh:
        return fh.read()


def open_recording(
    path: str | os.PathLike[str], platforms: list[Platform] | None = None, native: NativeArg = None
) -> BuildProgress:
    """Parse a recorded ``--progress=rawjson`` file (plain or gzip), e.g. a CI artifact.

    Raises :class:`HistoryError` when the file is missing, is a device (``/dev/zero`` never
    ends; a pipe is read), is damaged, or holds no build progress at all.
    """
    p = Path(path)
    parser = ProgressParser(platforms or [], native)
    with _reading_recording(p):
        _feed_file(parser, p)
    parser.close()
    progress = parser.progress
    if not progress.steps and not progress.messages:
        raise HistoryError(
            f"{str(p)!r} holds no build progress",
            "record one with: docker buildx build --progress=rawjson … 2> FILE",
        )
    if not progress.steps:
        first = progress.messages[0].text[:80]
        raise HistoryError(
            f"{str(p)!r} is not a --progress=rawjson stream (no BuildKit step in it; "
            f"it starts with {first!r})",
            "record one with: docker buildx build --progress=rawjson … 2> FILE",
        )
    return progress

"""BuildKit's own build records via ``docker buildx history``, merged with mabgui's store.

Every build a builder ran (from the CLI, bake, another terminal, mabgui) is listed with
``history ls --format json``; ``history inspect --format json`` adds platforms, materials and
attachments (cached on disk once a record is finished: records do not change); ``history logs
--progress rawjson`` replays it into the same lanes as a live build. What the installed buildx
offers is asked, not guessed from its version (0.13.1 has no ``history``: then mabgui's own
records are listed with a note, never an error).

mabgui's builds are matched to BuildKit's by the ref buildx writes to the metadata file
(``buildx.build.ref``), kept beside each saved build (:func:`store_ref`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mabgui.core import log, process
from mabgui.core.build import bkhistory_parse as P
from mabgui.core.build import bkpaging, history
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, ProgressParser

_log = log.get("bkhistory")
REF_FILE = "buildkit-ref"
TIMEOUT_S = 60.0
INSPECT_CONCURRENCY = 4
LS_CONCURRENCY = 8  # `history ls` pages asked at once (each ~0.15 s, mostly waiting)
HINTED_PAGES = 24  # pages asked with the first one where the last listing says they begin


class BkHistoryError(MabguiError):
    """A ``docker buildx history`` command failed (unknown ref, builder gone, old buildx)."""

    kind = "history"


# --- the ref of mabgui's own builds ----------------------------------------------------------


def metadata_ref(path: str) -> str:
    """``buildx.build.ref`` from a ``--metadata-file`` (buildx writes it on success only)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return P.read_metadata_ref(json.load(fh))
    except (OSError, ValueError):
        return ""


def store_ref(folder: Path, ref: str) -> None:
    """Keep a saved build's BuildKit ref beside its ``build.json``."""
    if ref:
        (folder / REF_FILE).write_text(ref + "\n", encoding="utf-8")


def entry_ref(entry: history.HistoryEntry) -> str:
    try:
        return (entry.path / REF_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


# --- running buildx --------------------------------------------------------------------------


async def _buildx(*args: str, timeout: float = TIMEOUT_S) -> process.CommandResult:
    docker = process.which("docker")
    return await process.run([docker, "buildx", *args], timeout=timeout)


def _split(ref: str) -> tuple[str | None, str]:
    """``builder/node/id`` → (builder, id); a bare id → (None, id)."""
    parts = ref.split("/")
    if len(parts) == 3 and all(parts):
        return parts[0], parts[2]
    if len(parts) == 1 and ref and ref.isalnum():
        return None, ref
    raise BkHistoryError(
        f"{ref!r} is not a build record ref", "give BUILDER/NODE/ID or an ID from `mabgui history`"
    )


def _builder_args(builder: str | None) -> list[str]:
    return ["--builder", builder] if builder else []


_caps: dict[str, P.Capabilities] = {}


async def capabilities() -> P.Capabilities:
    """What this buildx offers (asked once per process and ``DOCKER_CONFIG``)."""
    key = os.environ.get("DOCKER_CONFIG", "")
    if key in _caps:
        return _caps[key]
    # Asked together (each ~0.15 s of docker CLI start-up); `history ls --help` is only read
    # when `history` exists.
    version, help_res, ls_help = await asyncio.gather(
        _buildx("version", timeout=20),
        _buildx("history", "--help", timeout=20),
        _buildx("history", "ls", "--help", timeout=20),
    )
    parts = version.stdout.split()
    caps = P.parse_capabilities(
        help_res.stdout + help_res.stderr, "", parts[1] if len(parts) > 1 else ""
    )
    if caps.history:
        caps = P.parse_capabilities(
            help_res.stdout + help_res.stderr, ls_help.stdout + ls_help.stderr, caps.version
        )
    _caps[key] = caps
    _log.info("buildx %s: history=%s json=%s export=%s", caps.version, caps.history,
              caps.history_json, caps.export)  # fmt: skip
    return caps


async def builders() -> list[str]:
    res = await _buildx("ls", "--format", "json", timeout=30)
    if not res.ok:
        raise BkHistoryError(f"docker buildx ls failed: {res.message()[:300]}")
    return P.parse_builders(res.stdout)


async def _ls_page(builder: str | None, before: float | None) -> list[P.Record]:
    args = ["history", "ls", "--format", "json", *_builder_args(builder)]
    if before is not None:
        args += ["--filter", f"startedAt<{P.rfc3339_seconds(before)}"]
    res = await _buildx(*args)
    if not res.ok:
        raise BkHistoryError(
            f"docker buildx history ls failed: {res.message()[:300]}",
            "is the builder running? `mabgui builders` lists them",
        )
    try:
        return P.parse_ls(res.stdout)
    except ValueError as exc:
        raise BkHistoryError(f"docker buildx history ls printed unreadable JSON: {exc}") from None


async def list_buildkit(
    builder: str | None = None, *, max_records: int | None = None, pages: int | None = None
) -> list[P.Record]:
    """``history ls`` of one builder (the current one without ``builder``), newest first.

    buildx asks BuildKit for at most :data:`~bkhistory_parse.LS_PAGE` (50) records a node, so
    older ones are fetched with ``--filter startedAt<T`` (whole seconds), several pages at once
    (:mod:`~mabgui.core.build.bkpaging` plans them from the span of the first page); pages
    overlap, records are deduplicated by ref. When more than a page of records share one
    second, the rest of that second is skipped. With ``pages`` or ``max_records`` the pages are
    asked one after another instead, each below the previous one (no more than needed).
    """
    if pages is not None or max_records is not None:
        return await _list_in_turn(builder, max_records=max_records, pages=pages)
    hint = await asyncio.to_thread(_read_hint, builder)
    ahead = bkpaging.replay(hint, 0, max(hint, default=0) + 1)[:HINTED_PAGES]
    gate = asyncio.Semaphore(LS_CONCURRENCY)  # docker processes alive at once

    async def ask(bound: int | None) -> list[P.Record]:
        async with gate:
            return await _ls_page(builder, bound)

    first, *more = await asyncio.gather(ask(None), *(ask(b) for b in ahead))
    found = {r.ref: r for r in first}
    cov = bkpaging.start(bkpaging.by_node((r.ref, r.started) for r in first))
    for bound, page in zip(ahead, more, strict=True):
        cov.add(bound, bkpaging.by_node((r.ref, r.started) for r in page))
        found.update((r.ref, r) for r in page)
    asked = 1 + len(ahead)
    while cov.gaps() and asked < P.MAX_PAGES:
        bounds = cov.plan(LS_CONCURRENCY, hint)
        answers = await asyncio.gather(*(ask(b) for b in bounds))
        asked += len(bounds)
        for bound, page in zip(bounds, answers, strict=True):
            cov.add(bound, bkpaging.by_node((r.ref, r.started) for r in page))
            found.update((r.ref, r) for r in page)
    for second in cov.skipped:
        _log.info("history of %s: over %d records in one second at %s", builder,
                  P.LS_PAGE, P.rfc3339_seconds(second))  # fmt: skip
    _log.debug("history of %s: %d records in %d pages", builder, len(found), asked)
    seconds = [int(r.started) for r in found.values() if r.started is not None]
    await asyncio.to_thread(_write_hint, builder, seconds)
    return sorted(found.values(), key=lambda r: r.started or 0.0, reverse=True)


def _hint_file(builder: str | None) -> Path:
    return _cache_dir() / f"ls-{(builder or '@current').replace('/', '_')}.json"


def _read_hint(builder: str | None) -> list[int]:
    """The start seconds of the builder's records at its last listing (where pages begin)."""
    try:
        data = json.loads(_hint_file(builder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [s for s in data if isinstance(s, int)] if isinstance(data, list) else []


def _write_hint(builder: str | None, seconds: list[int]) -> None:
    path = _hint_file(builder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(seconds)), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a hint: best effort


async def _list_in_turn(
    builder: str | None, *, max_records: int | None, pages: int | None
) -> list[P.Record]:
    """Page after page, each below the previous page's oldest second (inclusive)."""
    out: list[P.Record] = []
    seen: set[str] = set()
    before: float | None = None
    stuck_at: float | None = None
    for page_no in range(P.MAX_PAGES):
        if pages is not None and page_no >= pages:
            break
        page = await _ls_page(builder, before)
        fresh = [r for r in page if r.ref not in seen]
        seen.update(r.ref for r in fresh)
        out.extend(fresh)
        if len(page) != P.LS_PAGE or (max_records is not None and len(out) >= max_records):
            break  # the last page (or a BuildKit that ignores the limit: all at once)
        oldest = min((r.started for r in page if r.started), default=None)
        if oldest is None:
            break
        second = float(int(oldest))
        if fresh and stuck_at != second:
            before, stuck_at = second + 1, second  # again from the oldest second, inclusive
        else:
            before, stuck_at = second, None  # a full page inside one second: skip past it
            _log.info("history of %s: over %d records in one second at %s", builder,
                      P.LS_PAGE, P.rfc3339_seconds(second))  # fmt: skip
    out.sort(key=lambda r: r.started or 0.0, reverse=True)
    return out[:max_records] if max_records is not None else out


def _cache_dir() -> Path:
    return history.history_dir().parent / "bkhistory-cache"


def _cache_file(ref: str) -> Path:
    return _cache_dir() / (ref.replace("/", "_") + ".json")


async def _require_history() -> None:
    caps = await capabilities()
    if not caps.history:
        raise BkHistoryError(
            caps.note.split(":")[0], "mabgui's own builds open by their id (`mabgui history`)"
        )


async def inspect_text(ref: str) -> str:
    """``history inspect --format json`` output of a record, from the cache when finished."""
    builder, build_id = _split(ref)
    cached = _cache_file(ref)
    try:
        return await asyncio.to_thread(cached.read_text, encoding="utf-8")
    except OSError:
        pass
    await _require_history()
    res = await _buildx("history", "inspect", "--format", "json", *_builder_args(builder), build_id)
    if not res.ok:
        raise BkHistoryError(
            f"no build record {ref!r}: {res.message()[:300]}",
            "list records with `mabgui history --all`",
        )
    if '"Status": "running"' not in res.stdout and "CompletedAt" in res.stdout:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(res.stdout, encoding="utf-8")
            tmp.replace(cached)
        except OSError:
            pass  # a cache: best effort
    return res.stdout


async def inspect(ref: str) -> P.Details:
    text = await inspect_text(ref)
    try:
        return P.parse_inspect(text)
    except ValueError as exc:
        raise BkHistoryError(f"history inspect of {ref!r} printed unreadable JSON: {exc}") from None


async def fill_platforms(records: list[P.Record]) -> list[P.Record]:
    """BuildKit records with their platforms (``ls`` has none): inspected, cached on disk."""
    sem = asyncio.Semaphore(INSPECT_CONCURRENCY)

    async def one(rec: P.Record) -> P.Record:
        if rec.source != "buildkit" or rec.platforms:
            return rec
        async with sem:
            try:
                details = await inspect(rec.ref)
            except MabguiError as exc:
                _log.info("inspect %s: %s", rec.ref, exc)
                return rec
        return replace(rec, platforms=details.platforms, error=rec.error or details.error)

    return list(await asyncio.gather(*(one(r) for r in records)))


@dataclass(frozen=True)
class Listing:
    records: list[P.Record]
    note: str  # '' or one line: why BuildKit's records are missing
    capabilities: P.Capabilities


def _own() -> list[tuple[history.HistoryEntry, str]]:
    return [(e, entry_ref(e)) for e in history.list_entries()]


async def merged(
    builder: str | None = None,
    *,
    all_builders: bool = False,
    limit: int | None = None,
    details: bool = True,
    pages: int | None = None,
) -> Listing:
    """BuildKit's records of the builder (or all builders) and mabgui's, newest first."""
    # One builder: its listing starts beside the capability probes (a round of docker calls
    # less); it is dropped when this buildx turns out to have no `history ls --format json`.
    early = (
        None
        if all_builders
        else asyncio.ensure_future(list_buildkit(builder, max_records=limit, pages=pages))
    )
    try:
        caps, own = await asyncio.gather(capabilities(), asyncio.to_thread(_own))
    except BaseException:
        if early is not None:
            early.cancel()
            await asyncio.gather(early, return_exceptions=True)
        raise
    bk: list[P.Record] = []
    note = caps.note if not (caps.history and caps.history_json) else ""
    if not (caps.history and caps.history_json) and early is not None:
        early.cancel()
        await asyncio.gather(early, return_exceptions=True)
    if caps.history and caps.history_json:
        names: Sequence[str | None] = await builders() if all_builders else [builder]
        listed = await asyncio.gather(
            *(
                early if early is not None else list_buildkit(n, max_records=limit, pages=pages)
                for n in names
            ),
            return_exceptions=True,
        )
        for name, got in zip(names, listed, strict=True):
            if isinstance(got, BkHistoryError) and all_builders:
                _log.info("history of builder %s: %s", name, got)
            elif isinstance(got, BaseException):
                raise got
            else:
                bk.extend(got)
    records = P.merge(bk, own)
    if builder and not all_builders:
        records = [r for r in records if r.source == "buildkit" or r.builder in ("", builder)]
    if limit is not None:
        records = records[:limit]
    if details:
        records = await fill_platforms(records)
    return Listing(records, note, caps)


async def logs(ref: str, platforms: Sequence[Platform] = ()) -> BuildProgress:
    """Replay a record's ``history logs --progress rawjson`` into lanes (closed)."""
    builder, build_id = _split(ref)
    await _require_history()
    res = await _buildx(
        "history", "logs", "--progress", "rawjson", *_builder_args(builder), build_id
    )
    if not res.ok:
        raise BkHistoryError(f"docker buildx history logs {ref} failed: {res.message()[:300]}")
    parser = ProgressParser(list(platforms))
    parser.feed(res.stderr.encode() + res.stdout.encode())  # buildx writes the stream to stderr
    parser.close(None)
    return parser.progress


async def show(ref: str) -> tuple[BuildProgress, P.Details]:
    """A record's lanes and its details (``history show``)."""
    details = await inspect(ref)
    platforms = [p for p in (Platform.try_parse(x) for x in details.platforms) if p is not None]
    progress = await logs(ref, platforms)
    if progress.result is not None and details.error and progress.result.ok:
        progress.result = replace(progress.result, ok=False, error=details.error)
    if progress.result is not None and details.duration_s is not None:
        progress.result = replace(progress.result, duration_s=details.duration_s)
    return progress, details


async def export(refs: Sequence[str], path: str) -> None:
    """``history export REF… -o FILE`` (all refs of one builder)."""
    caps = await capabilities()
    if not caps.export:
        raise BkHistoryError(
            f"buildx {caps.version} cannot export build records",
            f"`history export` came in buildx v{P.EXPORT_SINCE}",
        )
    split = [_split(r) for r in refs]
    builder_names = {b for b, _ in split if b}
    if len(builder_names) > 1:
        raise BkHistoryError("export records of one builder at a time")
    builder = next(iter(builder_names), None)
    ids = [i for _, i in split]
    res = await _buildx("history", "export", *_builder_args(builder), *ids, "-o", path, timeout=300)
    if not res.ok:
        raise BkHistoryError(f"docker buildx history export failed: {res.message()[:300]}")


async def remove(refs: Sequence[str]) -> None:
    """``history rm REF…`` per builder; the cached details go too."""
    await _require_history()
    groups: dict[str | None, list[str]] = {}
    for ref in refs:
        builder, build_id = _split(ref)
        groups.setdefault(builder, []).append(build_id)
    for builder, ids in groups.items():
        res = await _buildx("history", "rm", *_builder_args(builder), *ids)
        if not res.ok:
            raise BkHistoryError(f"docker buildx history rm failed: {res.message()[:300]}")
    for ref in refs:
        with contextlib.suppress(OSError):
            _cache_file(ref).unlink()


def show_json(
    progress: BuildProgress, details: P.Details | None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``history show --json``: the ``mabgui build --json`` shape + materials + attachments."""
    out = progress.summary()
    out["materials"] = [m.to_json() for m in details.materials] if details else []
    out["attachments"] = list(details.attachments) if details else []
    if details is not None:
        out["details"] = details.to_json()
    if extra:
        out.update(extra)
    return out

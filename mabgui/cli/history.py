"""``mabgui history``: every build the builder ran (BuildKit's records + mabgui's own).

``history`` lists, ``show`` replays one record into lanes, ``export``/``open`` write and read
``.dockerbuild`` bundles (opened without Docker Desktop), ``rm`` deletes, ``compare`` and
``trend`` put builds of one name side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from mabgui.cli.render import CliError, command, count, fmt_s, json_flag, print_json, safe


def _is_mabgui_id(ref: str) -> bool:
    from mabgui.core.build import history

    try:
        history.get(ref)
    except history.HistoryError:
        return False
    return True


async def _load(ref: str) -> tuple[Any, Any, dict[str, Any]]:
    """(progress, details or None, extra JSON) of a BuildKit ref or a mabgui build id."""
    from mabgui.core.build import bkhistory, history

    if await asyncio.to_thread(_is_mabgui_id, ref):
        entry = await asyncio.to_thread(history.get, ref)
        progress = await asyncio.to_thread(history.load, entry)
        return progress, None, {"ref": ref, "source": "mabgui", "name": _name_of(entry.spec)}
    progress, details = await bkhistory.show(ref)
    return progress, details, {"ref": ref, "source": "buildkit", "name": details.name}


def _name_of(spec: dict[str, Any]) -> str:
    return str(spec.get("context") or "").rstrip("/").rsplit("/", 1)[-1]


async def _list(args: argparse.Namespace) -> int:
    from mabgui.core.build import bkhistory, history
    from mabgui.core.build import bkhistory_parse as P

    # mabgui's own saved builds: a damaged one is skipped and reported, never fatal.
    local = await asyncio.to_thread(history.read_entries, args.limit if args.mine else None)
    for reason in local.skipped:
        print(f"mabgui: warning: {safe(reason)}", file=sys.stderr)
    if args.mine:
        records = [P.from_entry(e, bkhistory.entry_ref(e)) for e in local.entries]
        note = ""
    else:
        listing = await bkhistory.merged(
            args.builder, all_builders=args.all, limit=args.limit, details=not args.fast
        )
        records, note = listing.records, listing.note
    if note:
        print(f"mabgui: note: {note}", file=sys.stderr)
    if args.json:
        print_json([r.to_json() for r in records])
        return 0
    if not records:
        print(f"no saved builds in {history.history_dir()}")
        return 0
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started)) if r.started else ""
        state = {"completed": "ok", "failed": "FAILED"}.get(r.status, r.status)
        steps = f"{r.steps}/{r.cached_steps or 0}c" if r.steps is not None else ""
        plats = " ".join(r.platforms)
        took = fmt_s(r.duration_s)
        line = f"{r.ref}  {when}  {state:<8} {took:>7} {steps:>7}  {r.source:<8} {r.name}  {plats}"
        print(safe(line))
    return 0


async def _show(args: argparse.Namespace) -> int:
    from mabgui.core.build import bkhistory

    progress, details, extra = await _load(args.ref)
    data = bkhistory.show_json(progress, details, extra)
    if args.json:
        print_json(data)
        return 0
    print(f"{extra['name']}  ({extra['source']} {args.ref})")
    for platform, lane in data["platforms"].items():
        steps = lane["steps"]
        cached = sum(1 for s in steps if s["cached"])
        state = "ok" if lane["ok"] else "FAILED"
        print(f"{platform:<16} {state:<7} {len(steps):>3} steps ({cached} cached)")
        if lane["error"]:
            print(safe(f"{'':<16} {lane['error']}"))
    for m in data["materials"]:
        print(safe(f"material: {m['image'] or m['uri']}"))
    if data["error"]:
        print(safe(f"error: {data['error']}"))
    return 0


async def _export(args: argparse.Namespace) -> int:
    from mabgui.core.build import bkhistory

    await bkhistory.export(args.refs, args.output)
    if args.json:
        print_json({"ok": True, "file": args.output, "refs": args.refs})
    else:
        print(f"exported {len(args.refs)} record(s) to {args.output}")
    return 0


async def _open(args: argparse.Namespace) -> int:
    from mabgui.core.build import bkhistory, bundle

    records = await asyncio.to_thread(bundle.open_bundle, args.file)
    out = []
    for rec in records:
        extra: dict[str, Any] = {"ref": rec.ref, "source": "bundle", "name": rec.name}
        extra.update(status_messages=rec.status_messages, trace_bytes=rec.trace_bytes)
        out.append(bkhistory.show_json(rec.progress, rec.details(), extra))
    if args.json:
        print_json(out[0] if len(out) == 1 else out)
        return 0
    for data in out:
        print(f"record {data['ref']}: {'ok' if data['ok'] else 'FAILED'}")
        for platform, lane in data["platforms"].items():
            print(
                f"  {platform:<16} {len(lane['steps']):>3} steps  "
                + ("ok" if lane["ok"] else "FAILED")
            )
    return 0


async def _rm(args: argparse.Namespace) -> int:
    from mabgui.core.build import bkhistory, history

    if not args.force:
        if args.json or not sys.stdin.isatty():
            raise CliError(
                f"refusing to delete {len(args.refs)} record(s) without confirmation",
                "add --force to delete without asking",
            )
        question = f"delete {len(args.refs)} build record(s)? [y/N] "
        answer = await asyncio.to_thread(input, question)
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    own = [r for r in args.refs if await asyncio.to_thread(_is_mabgui_id, r)]
    for ref in own:
        await asyncio.to_thread(history.delete, ref)
    others = [r for r in args.refs if r not in own]
    if others:
        await bkhistory.remove(others)
    if args.json:
        print_json({"ok": True, "removed": args.refs})
    else:
        print(f"deleted {len(args.refs)} record(s)")
    return 0


async def _compare(args: argparse.Namespace) -> int:
    from mabgui.core.build import bkcompare

    (pa, _da, ea), (pb, _db, eb) = await asyncio.gather(_load(args.ref1), _load(args.ref2))
    result = bkcompare.compare(pa, pb)
    data = {"a": ea, "b": eb, "same_name": ea["name"] == eb["name"], **result.to_json()}
    if args.json:
        print_json(data)
        return 0
    if not data["same_name"]:
        print(
            f"mabgui: note: comparing builds of different names ({ea['name']} / {eb['name']})",
            file=sys.stderr,
        )
    for p in result.platforms:
        mark = "  SLOWER" if p.slower else ""
        delta = f"{p.delta_s:+.1f}s" if p.delta_s is not None else ""
        print(f"{p.platform:<16} {fmt_s(p.a_s):>7} → {fmt_s(p.b_s):>7} {delta:>8}{mark}")
        for s in p.steps:
            if s.cache_change or (s.delta_s is not None and abs(s.delta_s) >= 0.1):
                d = f"{s.delta_s:+.1f}s" if s.delta_s is not None else ""
                print(safe(f"    {d:>8} {s.cache_change or '':<8} {s.label[:90]}"))
    return 0


async def _trend(args: argparse.Namespace) -> int:
    from mabgui.core.build import bkcompare, bkhistory

    listing = await bkhistory.merged(args.builder, all_builders=args.all, details=False)
    same = [r for r in listing.records if r.name == args.name][: args.last]
    loaded = await asyncio.gather(
        *(_load(r.mabgui_id if r.source == "mabgui" else r.ref) for r in same)
    )
    points = bkcompare.trend(
        [(r.ref, r.started, p) for r, (p, _d, _e) in zip(same, loaded, strict=True)]
    )
    if args.json:
        print_json({"name": args.name, "points": [p.to_json() for p in points]})
        return 0
    for point in points:
        when = time.strftime("%m-%d %H:%M", time.localtime(point.started)) if point.started else ""
        cells = "  ".join(f"{k}={fmt_s(v)}" for k, v in point.platforms.items())
        print(f"{when}  {point.ref}  {cells}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui history [show|export|open|rm|compare|trend]``."""
    h = sub.add_parser(
        "history",
        help="every build the builder ran (BuildKit's records and mabgui's), newest first",
        description="List BuildKit's build records (docker buildx history, buildx >= 0.20) "
        "merged with the builds mabgui saved. With an older buildx, mabgui's own builds only.",
    )
    h.add_argument("--builder", default=None, help="builder (default: the current one)")
    h.add_argument("--all", action="store_true", help="the records of every builder")
    h.add_argument("--limit", type=count, default=None, metavar="N", help="at most N (≥ 0)")
    h.add_argument("--fast", action="store_true", help="skip `history inspect` (no platforms)")
    h.add_argument("--mine", action="store_true", help="mabgui's own builds only (no buildx)")
    json_flag(h)
    command(h, _list)
    hs = h.add_subparsers(dest="history_command", metavar="ACTION")

    s = hs.add_parser("show", help="a record's per-platform lanes, materials and attachments")
    s.add_argument("ref", metavar="REF", help="BUILDER/NODE/ID, an ID, or a mabgui build id")
    json_flag(s)
    command(s, _show)

    e = hs.add_parser("export", help="export records to a .dockerbuild bundle")
    e.add_argument("refs", nargs="+", metavar="REF")
    e.add_argument("-o", "--output", required=True, metavar="FILE")
    json_flag(e)
    command(e, _export)

    o = hs.add_parser("open", help="open a .dockerbuild bundle (no Docker Desktop needed)")
    o.add_argument("file", metavar="FILE")
    json_flag(o)
    command(o, _open)

    r = hs.add_parser("rm", help="delete build records (asks first unless --force)")
    r.add_argument("refs", nargs="+", metavar="REF")
    r.add_argument("-f", "--force", action="store_true", help="do not ask")
    json_flag(r)
    command(r, _rm)

    c = hs.add_parser("compare", help="two builds side by side, per platform and step")
    c.add_argument("ref1", metavar="REF1", help="the older build")
    c.add_argument("ref2", metavar="REF2", help="the newer build")
    json_flag(c)
    command(c, _compare)

    t = hs.add_parser("trend", help="duration per platform over the last builds of a name")
    t.add_argument("name", metavar="NAME")
    t.add_argument("--last", type=int, default=10, metavar="N")
    t.add_argument("--builder", default=None)
    t.add_argument("--all", action="store_true")
    json_flag(t)
    command(t, _trend)

"""``mabgui index create|append|remove``, ``mabgui copy``, ``mabgui tag rm``: registry writes.

Every command previews before it writes (``--dry-run`` stops there) and names the digest it
pushed. Errors are core's typed :class:`RegistryError`s, printed once by ``mabgui.cli.main``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mabgui.cli.render import CliError, command, json_flag, print_json, progress_printer, safe


def _fast_imports() -> None:
    # as in `mabgui inspect`: short-lived asyncio processes skip httpx's optional extras
    for optional in ("trio", "httpx._main"):
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]


def _insecure_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--insecure", action="append", metavar="REGISTRY",
        help="trust this registry without TLS certificate checks, or over plain HTTP"
        " (loopback registries always may use plain HTTP); repeatable",
    )  # fmt: skip


def _client(args: argparse.Namespace) -> Any:
    from mabgui.core.registry import RegistryClient

    return RegistryClient(insecure=args.insecure or (), deadline=600.0)


def _annotations(items: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items or ():
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise CliError(f"--annotation {item!r}: expected KEY=VALUE", code=2)
        result[key.strip()] = value
    return result


def _out(line: str) -> None:
    sys.stdout.write(safe(line) + "\n")


async def _index(args: argparse.Namespace) -> int:
    _fast_imports()
    from mabgui.core.platform import Platform
    from mabgui.core.registry import assemble
    from mabgui.core.registry.reference import parse_reference

    target = parse_reference(args.target)
    show = progress_printer(args.json)
    async with _client(args) as client:
        if args.index_command == "remove":
            platforms = [Platform.parse(p) for text in args.platform for p in text.split(",")]
            plan = await assemble.plan_remove(client, target, platforms)
        else:
            sources = [assemble.parse_source(s, target) for s in args.sources]
            make = assemble.plan_create if args.index_command == "create" else assemble.plan_append
            plan = await make(client, target, sources, _annotations(args.annotation))
        if args.dry_run:
            if args.json:
                print_json({"ok": True, "dryRun": True, **plan.to_json()})
            else:
                for line in plan.tree_lines():
                    _out(line)
                _out(f"media type: {plan.why}")
                _out(plan.data.decode())
                _out("dry run: nothing written")
            return 0
        if not args.json:
            for line in plan.tree_lines():
                _out(line)
            _out(f"media type: {plan.why}")
        result = await assemble.push_plan(client, plan, progress=show)
    if args.json:
        print_json(result.to_json())
    else:
        _out(f"pushed {target} = {result.digest}")
    return 0


def _copy_target(text: str, source: Any) -> Any:
    from mabgui.core.registry.reference import parse_reference

    target = parse_reference(text, default_tag="")
    if target.tag or target.digest:
        if target.digest:
            raise CliError(
                f"the copy target {text} names a digest; give a repository or a tag", code=2
            )
        return target
    return target.with_tag(source.tag) if source.tag else target


async def _copy(args: argparse.Namespace) -> int:
    _fast_imports()
    from mabgui.core.platform import Platform
    from mabgui.core.registry.copy import copy_image
    from mabgui.core.registry.reference import parse_reference

    source = parse_reference(args.source)
    target = _copy_target(args.target, source)
    platforms = [Platform.parse(p) for text in args.platform or () for p in text.split(",")]
    async with _client(args) as client:
        result = await copy_image(
            client, source, target, platforms=platforms, referrers=not args.no_referrers,
            attestations=not args.no_attestations, progress=progress_printer(args.json),
        )  # fmt: skip
    if args.json:
        print_json(result.to_json())
    else:
        s = result.stats
        _out(f"copied {source} → {target} = {result.digest}")
        _out(f"  platforms: {', '.join(result.platforms) or '-'}; attestations:"
             f" {result.attestations}; referrers: {len(result.referrers)}")  # fmt: skip
        _out(f"  blobs: {s.mounted} mounted, {s.uploaded} uploaded ({s.bytes_uploaded} bytes),"
             f" {s.existing} already there; {result.seconds:.2f} s")  # fmt: skip
        for note in result.notes:
            _out(f"  note: {note}")
    return 0


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} — not confirmed", hint="rerun with --yes to confirm", code=1)
    sys.stderr.write(f"{safe(question)} [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("cancelled", code=1)


async def _tag_rm(args: argparse.Namespace) -> int:
    _fast_imports()
    from mabgui.core.registry.reference import parse_reference
    from mabgui.core.registry.tags import remove_reference

    ref = parse_reference(args.ref, default_tag="")
    if not ref.tag and not ref.digest:
        raise CliError(f"{args.ref}: name a tag or a digest to remove", code=2)
    async with _client(args) as client:
        result = await remove_reference(
            client, ref, confirm=lambda question: _confirm(question, args.yes)
        )
    if args.json:
        print_json({"ok": True, **result})
    else:
        _out(f"removed {result['removed']} ({result['how']})")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui index …``, ``mabgui copy``, ``mabgui tag rm``."""
    p = sub.add_parser(
        "index",
        help="assemble a multi-platform index from per-platform images, or change one",
        description="Make and change indexes (manifest lists) in a registry: a preview of the"
        " exact index first, then a push that checks every digest and never leaves an index"
        " naming a manifest the registry lacks. Credentials come from your docker config.",
    )
    isub = p.add_subparsers(dest="index_command", metavar="ACTION")
    for name, help_text in (
        ("create", "make TARGET an index of the SOURCE images"),
        ("append", "add the SOURCE images' platforms to the index TARGET"),
    ):
        c = isub.add_parser(name, help=help_text, description=help_text + ". A SOURCE is a"
                            " tag or digest reference (`@sha256:…` or `:tag` mean the target's"
                            " repository); `PLATFORM=SOURCE` requires that platform.")  # fmt: skip
        c.add_argument("target", metavar="TARGET", help="the index's tag, e.g. host:5000/app:1")
        c.add_argument("sources", metavar="SOURCE", nargs="+", help="[PLATFORM=]REF")
        c.add_argument("--annotation", action="append", metavar="K=V",
                       help="an index annotation (makes it an OCI index); repeatable")  # fmt: skip
        c.add_argument("--dry-run", action="store_true", help="print the index; write nothing")
        json_flag(c)
        _insecure_flag(c)
        command(c, _index)
    r = isub.add_parser("remove", help="remove platforms (and their attestations) from TARGET")
    r.add_argument("target", metavar="TARGET")
    r.add_argument("--platform", action="append", required=True, metavar="P",
                   help="platform to remove (repeatable or comma-separated)")  # fmt: skip
    r.add_argument("--dry-run", action="store_true", help="print the index; write nothing")
    json_flag(r)
    _insecure_flag(r)
    command(r, _index)

    c = sub.add_parser(
        "copy",
        help="copy an image or index (all or some platforms) to another repository or registry",
        description="Copy SOURCE to TARGET with its attestations and referrers; every digest is"
        " kept (a platform subset makes a new index). Within one registry blobs are mounted.",
    )
    c.add_argument("source", metavar="SOURCE")
    c.add_argument("target", metavar="TARGET", help="repository[:tag] (default: SOURCE's tag)")
    c.add_argument("--platform", action="append", metavar="P",
                   help="copy only these platforms (repeatable or comma-separated)")  # fmt: skip
    c.add_argument("--no-referrers", action="store_true",
                   help="do not copy referrers (signatures, SBOMs by subject)")  # fmt: skip
    c.add_argument("--no-attestations", action="store_true",
                   help="leave out buildx's attestation manifests (makes a new index)")  # fmt: skip
    json_flag(c)
    _insecure_flag(c)
    command(c, _copy)

    t = sub.add_parser("tag", help="registry tags")
    tsub = t.add_subparsers(dest="tag_command", metavar="ACTION")
    rm = tsub.add_parser(
        "rm",
        help="delete a tag (or a manifest by digest) where the registry allows it",
        description="Delete REF from its registry after confirmation. A distribution registry"
        " deletes only with `storage: delete: enabled: true`, and only manifests by digest:"
        " a tag is then removed by deleting its manifest when no other tag names it.",
    )
    rm.add_argument("ref", metavar="REF")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    json_flag(rm)
    _insecure_flag(rm)
    command(rm, _tag_rm)

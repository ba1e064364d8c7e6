"""``mabgui inspect``: an image reference as a per-platform manifest tree."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mabgui.cli.render import (
    CliError,
    command,
    json_flag,
    print_json,
)


def _print_tree_text(tree: Any) -> None:
    from mabgui.core.registry.manifest import (
        ImageIndex,
        ImageManifest,
        human_size,
        media_type_label,
        predicate_label,
    )

    def manifest_lines(m: ImageManifest, indent: str) -> None:
        print(
            f"{indent}{m.platform_label:<22} {m.digest}  {media_type_label(m.media_type)}"
            f"  {human_size(m.total_size)}"
        )
        if m.error:
            print(f"{indent}    ! {m.error}")
        if m.config is not None:
            c = m.config
            extra = f"  created {c.created}" if c.created else ""
            print(f"{indent}    config {c.digest}  {human_size(c.size)}{extra}")
        for layer in m.layers:
            print(
                f"{indent}    layer  {layer.digest}  {human_size(layer.size)}"
                f"  {media_type_label(layer.media_type)}"
            )
        for a in m.attestations:
            kinds = ", ".join(predicate_label(p) for p in a.predicate_types) or "attestation"
            print(f"{indent}    attestation {a.digest}  {kinds}")

    def index_lines(index: ImageIndex, indent: str) -> None:
        for child in index.children:
            if isinstance(child, ImageIndex):
                print(f"{indent}{child.platform_label:<22} {child.digest}  (nested index)")
                index_lines(child, indent + "    ")
            else:
                manifest_lines(child, indent)

    root = tree.root
    print(f"{tree.reference}")
    print(f"  {media_type_label(root.media_type)}  {root.digest}  {human_size(root.size)}")
    if isinstance(root, ImageIndex):
        index_lines(root, "  ")
        for d in root.unattached:
            subject = d.annotations.get("vnd.docker.reference.digest", "?")
            print(f"  attestation {d.digest} for {subject} (not in the index)")
    else:
        manifest_lines(root, "  ")
    for d in tree.referrers:
        print(f"  referrer {d.digest}  {d.artifact_type or d.media_type}  {human_size(d.size)}")
    print(f"  total {human_size(tree.total_size)} unique")


async def _inspect(args: argparse.Namespace) -> int:
    # Start fast: httpcore probes for trio and httpx imports its own CLI (click, rich, pygments)
    # whenever those are installed, ~0.15 s of imports this short-lived asyncio process never
    # uses. A None entry makes those optional imports fail at once, as when not installed.
    for optional in ("trio", "httpx._main"):
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]
    from mabgui.core.registry import RegistryClient, RegistryError
    from mabgui.core.registry.cache import DigestCache, default_cache_dir
    from mabgui.core.registry.manifest import fetch_tree
    from mabgui.core.registry.reference import InvalidReference, parse_reference

    try:
        ref = parse_reference(args.ref)
    except InvalidReference as exc:
        raise CliError(str(exc), "e.g. busybox, ghcr.io/owner/app:1.0 or repo@sha256:…") from None
    cache = None if args.no_cache else DigestCache(default_cache_dir())
    try:
        async with RegistryClient(insecure=args.insecure or (), cache=cache) as client:
            if args.raw:
                fetched = await client.get_manifest(ref)
                sys.stdout.write(fetched.data.decode("utf-8", errors="replace"))
                sys.stdout.write("\n")
                return 0
            tree = await fetch_tree(client, ref)
    except RegistryError as exc:
        raise CliError(str(exc), exc.hint) from None
    if args.json:
        print_json(tree.to_json())
    else:
        _print_tree_text(tree)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui inspect REF``."""
    p = sub.add_parser(
        "inspect",
        help="show an image's per-platform manifest tree, straight from the registry",
        description="Fetch REF's index, platform manifests, configs, layers and attestations "
        "(every manifest verified against its digest). Credentials come from your docker config "
        "(docker login).",
    )
    p.add_argument("ref", metavar="REF", help="image reference, e.g. busybox or host:5000/app:1")
    json_flag(p)
    p.add_argument("--raw", action="store_true", help="print the root manifest as fetched")
    p.add_argument(
        "--insecure", action="append", metavar="REGISTRY",
        help="trust this registry without TLS certificate checks, or over plain HTTP, as docker's"
        " insecure-registries (loopback registries always may use plain HTTP); repeatable",
    )  # fmt: skip
    p.add_argument("--no-cache", action="store_true", help="do not use the on-disk digest cache")
    command(p, _inspect)

"""``mabgui inspect``: an image reference as a per-platform manifest tree."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mabgui.cli.render import command, json_flag, print_json, safe


def _print_tree_text(tree: Any) -> None:
    """The tree as indented text; every line through :func:`safe` since names, errors and
    labels come from the registry (an ANSI/OSC escape in them must not reach the terminal)."""
    from mabgui.core.registry.manifest import (
        ImageIndex,
        ImageManifest,
        human_size,
        media_type_label,
        predicate_label,
    )

    def out(line: str) -> None:
        sys.stdout.write(safe(line) + "\n")

    def manifest_lines(m: ImageManifest, indent: str) -> None:
        out(
            f"{indent}{m.platform_label:<22} {m.digest}  {media_type_label(m.media_type)}"
            f"  {human_size(m.total_size)}"
        )
        if m.error:
            out(f"{indent}    ! {m.error}")
        if m.config is not None:
            c = m.config
            extra = f"  created {c.created}" if c.created else ""
            out(f"{indent}    config {c.digest}  {human_size(c.size)}{extra}")
        for layer in m.layers:
            out(
                f"{indent}    layer  {layer.digest}  {human_size(layer.size)}"
                f"  {media_type_label(layer.media_type)}"
            )
        for a in m.attestations:
            kinds = ", ".join(predicate_label(p) for p in a.predicate_types) or "attestation"
            out(f"{indent}    attestation {a.digest}  {kinds}")

    def index_lines(index: ImageIndex, indent: str) -> None:
        for child in index.children:
            if isinstance(child, ImageIndex):
                out(f"{indent}{child.platform_label:<22} {child.digest}  (nested index)")
                index_lines(child, indent + "    ")
            else:
                manifest_lines(child, indent)

    root = tree.root
    out(f"{tree.reference}")
    out(f"  {media_type_label(root.media_type)}  {root.digest}  {human_size(root.size)}")
    if isinstance(root, ImageIndex):
        index_lines(root, "  ")
        for d in root.unattached:
            subject = d.annotations.get("vnd.docker.reference.digest", "?")
            out(f"  attestation {d.digest} for {subject} (not in the index)")
    else:
        manifest_lines(root, "  ")
    for d in tree.referrers:
        out(f"  referrer {d.digest}  {d.artifact_type or d.media_type}  {human_size(d.size)}")
    out(f"  total {human_size(tree.total_size)} unique")


async def _inspect(args: argparse.Namespace) -> int:
    # Start fast: httpcore probes for trio and httpx imports its own CLI (click, rich, pygments)
    # whenever those are installed, ~0.15 s of imports this short-lived asyncio process never
    # uses. A None entry makes those optional imports fail at once, as when not installed.
    for optional in ("trio", "httpx._main"):
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]
    # Errors are not converted here: InvalidReference and every RegistryError are MabguiErrors,
    # which `mabgui.cli.main` prints once (text, or the --json error object).
    from mabgui.core.registry import RegistryClient, UnsupportedMediaType
    from mabgui.core.registry.cache import DigestCache, default_cache_dir
    from mabgui.core.registry.manifest import fetch_tree
    from mabgui.core.registry.reference import parse_reference

    ref = parse_reference(args.ref)
    cache = None if args.no_cache else DigestCache(default_cache_dir())
    async with RegistryClient(insecure=args.insecure or (), cache=cache) as client:
        if args.raw:
            fetched = await client.get_manifest(ref)
            try:
                json.loads(fetched.data)  # JSON holds no raw control characters: safe to print
            except (ValueError, RecursionError):
                raise UnsupportedMediaType(
                    f"the manifest of {ref} is not valid JSON; not printed", fetched.media_type
                ) from None
            sys.stdout.write(fetched.data.decode("utf-8"))
            sys.stdout.write("\n")
            return 0
        tree = await fetch_tree(client, ref)
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

"""``mabgui bases``: the base × target-platform matrix of a Dockerfile, before a build."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mabgui.cli.render import CliError, command, json_flag, print_json, safe


async def _bases(args: argparse.Namespace) -> int:
    for optional in ("trio", "httpx._main"):
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]
    from mabgui.core.platform import host_platform, parse_platform_list
    from mabgui.core.registry import RegistryClient
    from mabgui.core.registry.bases import coverage, parse_stages

    context = Path(args.context)
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {dockerfile}: {exc.strerror or exc}", code=2) from None
    build_args: dict[str, str] = {}
    for item in args.build_arg or ():
        key, eq, value = item.partition("=")
        if not key:
            raise CliError(f"--build-arg {item!r}: expected NAME=VALUE", code=2)
        if not eq:  # `--build-arg NAME` takes the value from the environment, as docker does
            if key not in os.environ:
                continue
            value = os.environ[key]
        build_args[key] = value
    targets = parse_platform_list(",".join(args.platform))
    stages = parse_stages(text, build_args)
    async with RegistryClient(insecure=args.insecure or ()) as client:
        result = await coverage(client, stages, targets, host_platform())
    if args.json:
        print_json(result.to_json())
    else:
        for b in result.bases:
            state = (
                "error" if b.error else ("MISSING " + ", ".join(b.missing) if b.missing else "ok")
            )
            extra = f"  ({b.note})" if b.note else ""
            line = f"{b.stage.label:<16} {b.reference:<40} {state}{extra}"
            sys.stdout.write(safe(line) + "\n")
            if b.digest:
                sys.stdout.write(f"{'':<16} {b.digest}  has {', '.join(b.platforms) or '-'}\n")
            if b.error:
                sys.stdout.write(safe(f"{'':<16} {b.error}") + "\n")
    return 0 if result.ok else 1


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bases",
        help="check that every FROM of a Dockerfile exists for the target platforms",
        description="Resolve each FROM (stage names, ARG defaults and --build-arg,"
        " --platform=$BUILDPLATFORM stages, scratch) through the registry and show which target"
        " platforms each base lacks. Exits 1 when a base lacks one.",
    )
    p.add_argument("context", metavar="CONTEXT", help="the build context directory")
    p.add_argument("-f", "--file", metavar="DOCKERFILE", help="default: CONTEXT/Dockerfile")
    p.add_argument("--platform", action="append", required=True, metavar="LIST",
                   help="target platforms, comma-separated (repeatable)")  # fmt: skip
    p.add_argument("--build-arg", action="append", metavar="NAME=VALUE")
    p.add_argument("--insecure", action="append", metavar="REGISTRY",
                   help="trust this registry without TLS checks or over plain HTTP")  # fmt: skip
    json_flag(p)
    command(p, _bases)

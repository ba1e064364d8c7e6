"""``mabgui builders`` and ``mabgui builder …``: buildx builders.

Core's errors (:class:`~mabgui.core.buildx.BuildxError`, a
:class:`~mabgui.core.errors.MabguiError`) pass through: ``main`` prints them once, with their
hint, as text or as the ``--json`` error object.
"""

from __future__ import annotations

import argparse
from typing import Any

from mabgui.cli.render import (
    CliError,
    command,
    json_flag,
    print_json,
    progress_printer,
)


def _chip_text(chip: Any) -> str:
    marks = {"emulated": " (emulated)", "unlisted": " (emulator registered, not listed)"}
    return f"{chip.platform}{'*' if chip.pinned else ''}{marks.get(chip.kind, '')}"


def _print_builders_table(ov: Any) -> None:
    rows: list[tuple[str, str, str, str, str]] = []
    for b in ov.builders:
        rows.append((b.name + (" *" if b.current else ""), b.driver, b.status, "", ""))
        for n in b.nodes:
            chips = ", ".join(_chip_text(c) for c in ov.chips(n))
            rows.append((f"  {n.name}", f"  {n.endpoint}", n.status, n.buildkit, chips))
    header = ("NAME/NODE", "DRIVER/ENDPOINT", "STATUS", "BUILDKIT", "PLATFORMS")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    marks = {"error": "✘", "warning": "!", "info": "i"}
    notes = [(b, n) for b in ov.builders for n in ov.notes(b)]
    if notes:
        print()
    for b, note in notes:
        print(f"{marks.get(note.level, '-')} {b.name}: {note.title}")
        for line in note.detail.splitlines():
            print(f"    {line}")


async def _builders_list(args: argparse.Namespace) -> int:
    import dataclasses

    from mabgui.cli import nodes
    from mabgui.core import overview

    ov = await overview.overview()
    ov = dataclasses.replace(ov, builders=await nodes.with_pins(ov.builders))
    if args.json:
        data = ov.to_json()
        for b, item in zip(ov.builders, data, strict=True):
            item["warnings"] = nodes.warnings_json(b)
        print_json(data)
    else:
        _print_builders_table(ov)
        for b in ov.builders:
            nodes.print_warnings(b)
    return 0


async def _builder_create(args: argparse.Namespace) -> int:
    import contextlib
    import os
    import uuid

    from mabgui.cli import nodes
    from mabgui.core import buildx
    from mabgui.core.buildx import create_checks, registries
    from mabgui.core.platform import PlatformError, parse_platform_list

    req: Any = None
    try:
        opts = buildx.parse_driver_opts(args.driver_opt or [])
        if args.namespace:
            opts["namespace"] = args.namespace
        if args.replicas is not None:
            opts["replicas"] = str(args.replicas)
        platforms = tuple(parse_platform_list(args.platform)) if args.platform else ()
        req = buildx.CreateRequest(
            name=args.name or f"mabgui-{uuid.uuid4().hex[:8]}",
            driver=args.driver,
            nodes=(
                buildx.NodeSpec(
                    endpoint=args.endpoint or "",
                    name=args.node or "",
                    platforms=platforms,
                    driver_opts=opts,
                    buildkitd_flags=args.buildkitd_flags or "",
                ),
            ),
            append=args.append,
            bootstrap=args.bootstrap,
            use=args.use,
            keep_on_failure=args.keep,
        )
        req, setup, tmp_config = await registries.prepare_create(
            req, config_file=args.config or "", carry_daemon=not args.no_daemon_registries
        )
        await nodes.precheck_create(req)
        try:
            result = await buildx.create(req, progress=progress_printer(args.json))
        finally:
            if tmp_config:  # buildx keeps its own copy of the config
                with contextlib.suppress(OSError):
                    os.unlink(tmp_config)
    except PlatformError as exc:
        raise CliError(str(exc), "Platforms look like linux/arm64 or linux/arm/v7.", 2) from exc
    except buildx.BuildxError as exc:
        hint = nodes.create_hint(exc, req) or exc.hint
        refused = isinstance(exc, create_checks.CreateRefused) or "already exists" in str(exc)
        if args.bootstrap and not args.keep and not refused:
            hint = (hint + " " if hint else "") + "Nothing was left behind (use --keep to keep it)."
        exc.hint = hint
        raise
    if args.json:
        print_json(
            {
                "name": req.name,
                "bootstrapped": result.bootstrapped,
                "error": str(result.error) if result.error else "",
                "builder": result.builder.to_json() if result.builder else None,
                **setup.to_json(),
            }
        )
    elif result.error is None:
        state = "created and started" if result.bootstrapped else "created"
        print(f"builder {req.name} {state}" + (" (now the current builder)" if req.use else ""))
        if setup.hosts:
            net = " on the host network" if setup.host_network else ""
            print(f"registries over HTTP{net}: {', '.join(setup.hosts)}")
    if result.error is not None:
        raise CliError(
            f"{result.error} (builder {req.name!r} kept: "
            f"`mabgui builder rm {req.name}` removes it)",
            result.error.hint,
        )
    return 0


async def _builder_use(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    await buildx.use(args.name, default=args.default, global_=args.global_)
    print(f"current builder: {args.name}")
    return 0


async def _builder_stop(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    await buildx.stop(args.name)
    print(f"builder {args.name} stopped")
    return 0


async def _builder_rm(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    if args.all_inactive:
        if args.names:
            raise CliError("name builders or pass --all-inactive, not both", code=2)
        builders = await buildx.list_builders()
        inactive = [b.name for b in builders if b.name != "default" and b.status != "running"]
        if not inactive:
            print("no inactive builder to remove")
            return 0
        if not args.force:
            raise CliError(
                f"this would remove every builder that is not running: {', '.join(inactive)}",
                "Pass --force to confirm.",
            )
    elif not args.names:
        raise CliError("name the builder(s) to remove", "See `mabgui builders`.", 2)
    from mabgui.cli import nodes

    current = await nodes.current_builder()
    report = await buildx.remove(
        args.names,
        keep_state=args.keep_state,
        keep_daemon=args.keep_daemon,
        all_inactive=args.all_inactive,
    )
    print(report or "removed")
    nodes.print_after_remove(current, args.names)
    return 0


def _print_inspect(b: Any) -> None:
    print(f"Name:          {b.name}{' (current)' if b.current else ''}")
    print(f"Driver:        {b.driver}")
    if b.last_activity:
        print(f"Last activity: {b.last_activity}")
    if b.error:
        print(f"Error:         {b.error}")
    for n in b.nodes:
        print()
        print(f"Node:          {n.name}")
        print(f"  Endpoint:    {n.endpoint}")
        print(f"  Status:      {n.status}")
        if n.error:
            print(f"  Error:       {n.error}")
        if n.buildkit:
            print(f"  BuildKit:    {n.buildkit}")
        if n.driver_opts:
            opts = ", ".join(f"{k}={v}" for k, v in n.driver_opts.items())
            print(f"  Driver opts: {opts}")
        if n.flags:
            print(f"  Flags:       {' '.join(n.flags)}")
        if n.platforms:
            pinned = set(n.pinned)
            plats = ", ".join(f"{p}{'*' if p in pinned else ''}" for p in n.platforms)
            print(f"  Platforms:   {plats}")
        for i, rule in enumerate(n.gc_policy):
            print(f"  GC rule #{i}:  {rule}")
        if n.labels:
            print("  Labels:")
            for k, v in n.labels.items():
                print(f"    {k}: {v}")


def _inspect_json(b: Any) -> dict[str, Any]:
    data: dict[str, Any] = b.to_json()
    for node, nd in zip(b.nodes, data["nodes"], strict=True):
        nd.update(
            driver_opts=dict(node.driver_opts),
            flags=list(node.flags),
            labels=dict(node.labels),
            gc_policy=[
                {"all": r.all, "filters": list(r.filters), "keep_duration": r.keep_duration,
                 "keep_bytes": r.keep_bytes}
                for r in node.gc_policy
            ],
        )  # fmt: skip
    return data


async def _builder_inspect(args: argparse.Namespace) -> int:
    import contextlib
    import dataclasses

    from mabgui.core import buildx

    b = await buildx.inspect(
        args.name,
        bootstrap=args.bootstrap,
        progress=progress_printer(args.json) if args.bootstrap else None,
    )
    # inspect does not say whether the builder is the current one; ls does.
    current = args.name is None
    if not current:
        with contextlib.suppress(buildx.BuildxError):
            current = any(x.current and x.name == b.name for x in await buildx.list_builders())
    b = dataclasses.replace(b, current=current)
    from mabgui.cli import nodes

    if args.json:
        print_json({**_inspect_json(b), "warnings": nodes.warnings_json(b)})
    else:
        _print_inspect(b)
        if nodes.warnings_json(b):
            print()
        nodes.print_warnings(b)
    return 0


async def _builder_bootstrap(args: argparse.Namespace) -> int:
    args.bootstrap = True
    return await _builder_inspect(args)


async def _builder_du(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    du = await buildx.disk_usage(args.name)
    if args.json:
        print_json(du.to_json())
    else:
        print(f"builder:     {du.builder or '(current)'}")
        print(f"records:     {du.records}")
        for label, value in (("shared", du.shared), ("private", du.private),
                             ("reclaimable", du.reclaimable), ("total", du.total)):  # fmt: skip
            print(f"{label + ':':<12} {value / 1e6:.2f} MB")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui builders`` and ``mabgui builder create|use|stop|rm|inspect|bootstrap|du``."""
    p = sub.add_parser(
        "builders", help="list buildx builders, their nodes and platforms (emulated ones marked)"
    )
    json_flag(p)
    command(p, _builders_list)

    group = sub.add_parser("builder", help="create, bootstrap, use, stop, remove a buildx builder")
    actions = group.add_subparsers(dest="builder_command", metavar="ACTION")

    c = actions.add_parser(
        "create",
        help="create a builder (or --append a node to one)",
        description="Create a buildx builder. On this machine's network, a docker-container "
        "builder needs the moby/buildkit image; with --bootstrap a failure removes what was "
        "created unless --keep.",
    )
    c.add_argument(
        "endpoint", nargs="?", metavar="CONTEXT|ENDPOINT",
        help="docker context or endpoint of the node (tcp://, ssh://, unix://)",
    )  # fmt: skip
    c.add_argument("--name", help="builder name (generated when omitted)")
    c.add_argument("--driver", default="docker-container", choices=["docker-container", "remote",
                   "kubernetes"], help="driver (default: docker-container)")  # fmt: skip
    c.add_argument("--driver-opt", action="append", metavar="KEY=VALUE", help="driver option")
    c.add_argument("--platform", action="append", metavar="PLATFORM",
                   help="platforms of this node (repeat or comma-separate)")  # fmt: skip
    c.add_argument("--node", help="node name")
    c.add_argument("--buildkitd-flags", metavar="FLAGS", help="flags for buildkitd")
    c.add_argument("--append", action="store_true", help="add the node to an existing builder")
    c.add_argument("--namespace", help="kubernetes: namespace")
    c.add_argument("--replicas", type=int, help="kubernetes: number of BuildKit pods")
    c.add_argument("--bootstrap", action="store_true", help="start the builder now")
    c.add_argument("--use", action="store_true", help="make it the current builder")
    c.add_argument("--keep", action="store_true",
                   help="keep the builder when the bootstrap fails")  # fmt: skip
    c.add_argument(
        "--config", metavar="FILE",
        help="buildkitd.toml for the node (the daemon's insecure registries are added to it)",
    )  # fmt: skip
    c.add_argument(
        "--no-daemon-registries", action="store_true",
        help="docker-container: do not carry the daemon's insecure registries over (by default "
        "they are marked http in the buildkitd config, with the host network for loopback ones)",
    )  # fmt: skip
    json_flag(c)
    command(c, _builder_create)

    u = actions.add_parser("use", help="make a builder the current one")
    u.add_argument("name")
    u.add_argument("--default", action="store_true", help="for the current docker context")
    u.add_argument("--global", dest="global_", action="store_true",
                   help="keep it when the docker context changes")  # fmt: skip
    command(u, _builder_use)

    s = actions.add_parser("stop", help="stop a builder's BuildKit daemons")
    s.add_argument("name")
    command(s, _builder_stop)

    r = actions.add_parser("rm", help="remove builders")
    r.add_argument("names", nargs="*", metavar="NAME")
    r.add_argument("--keep-state", action="store_true", help="keep BuildKit state (cache)")
    r.add_argument("--keep-daemon", action="store_true", help="keep the BuildKit daemon running")
    r.add_argument("--all-inactive", action="store_true", help="remove every inactive builder")
    r.add_argument("-f", "--force", action="store_true", help="confirm --all-inactive")
    command(r, _builder_rm)

    i = actions.add_parser("inspect", help="show a builder's nodes, options, labels, GC policy")
    i.add_argument("name", nargs="?", help="builder (default: the current one)")
    i.add_argument("--bootstrap", action="store_true", help="start it first")
    json_flag(i)
    command(i, _builder_inspect)

    b = actions.add_parser("bootstrap", help="start a builder (buildx inspect --bootstrap)")
    b.add_argument("name")
    json_flag(b)
    command(b, _builder_bootstrap)

    d = actions.add_parser("du", help="build-cache disk usage of a builder")
    d.add_argument("name", nargs="?", help="builder (default: the current one)")
    json_flag(d)
    command(d, _builder_du)

    from mabgui.cli import nodes

    nodes.add_builder_actions(actions)

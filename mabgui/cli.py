"""The headless front end: ``mabgui SUBCOMMAND … [--json]`` over the same core as the window.

With no subcommand, ``mabgui`` opens the window. Each area registers its subcommands in its own
``_add_*`` function below; every command returns a process exit code (0 ok, 1 failure, 2 bad
usage) and prints errors to stderr as ``mabgui: error: …`` with a hint where one helps.
Heavy modules (Qt, httpx, the docker SDK) are imported inside the commands that need them, so
``mabgui inspect …`` starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from mabgui import __version__

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class CliError(Exception):
    """A failure to report on stderr with exit code ``code`` (and an optional hint)."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def error(message: str, hint: str = "") -> None:
    print(f"mabgui: error: {message}", file=sys.stderr)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)


def _command(parser: argparse.ArgumentParser, handler: Handler) -> None:
    parser.set_defaults(handler=handler)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


# --- doctor --------------------------------------------------------------------------------------


async def _doctor(args: argparse.Namespace) -> int:
    from mabgui.core import doctor

    diagnosis = await doctor.diagnose()
    if args.json:
        print_json(diagnosis.to_json())
    else:
        marks = {"ok": "✔", "warn": "!", "fail": "✘"}
        for check in diagnosis.checks:
            print(f"{marks[check.status]} {check.title}: {check.detail}")
            if check.fix and check.status != "ok":
                print(f"    fix: {check.fix}")
        print()
        print(
            "Multi-platform builds can run."
            if diagnosis.multiplatform_ready
            else "Multi-platform builds cannot run yet: fix the ✘ items above."
        )
    return 0 if diagnosis.multiplatform_ready else 1


def _add_doctor_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check what multi-platform builds need on this machine")
    _json_flag(p)
    _command(p, _doctor)


# --- builders (issue: Builders) -----------------------------------------------------------------


def _buildx_cli_error(exc: Any) -> CliError:
    return CliError(str(exc), getattr(exc, "hint", ""))


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
    from mabgui.core import buildx

    try:
        ov = await buildx.overview()
    except buildx.BuildxError as exc:
        raise _buildx_cli_error(exc) from exc
    if args.json:
        print_json(ov.to_json())
    else:
        _print_builders_table(ov)
    return 0


def _progress_printer(quiet: bool) -> Callable[[str], None]:
    def show(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    return show


async def _builder_create(args: argparse.Namespace) -> int:
    import uuid

    from mabgui.core import buildx
    from mabgui.core.platform import PlatformError, parse_platform_list

    try:
        opts = buildx.parse_driver_opts(args.driver_opt or [])
        if args.namespace:
            opts["namespace"] = args.namespace
        if args.replicas is not None:
            opts["replicas"] = str(args.replicas)
        platforms = tuple(parse_platform_list(",".join(args.platform))) if args.platform else ()
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
        result = await buildx.create(req, progress=_progress_printer(args.json))
    except PlatformError as exc:
        raise CliError(str(exc), "Platforms look like linux/arm64 or linux/arm/v7.", 2) from exc
    except buildx.BuildxError as exc:
        hint = exc.hint
        if args.bootstrap and not args.keep:
            hint = (hint + " " if hint else "") + "Nothing was left behind (use --keep to keep it)."
        raise CliError(str(exc), hint) from exc
    if args.json:
        print_json(
            {
                "name": req.name,
                "bootstrapped": result.bootstrapped,
                "error": str(result.error) if result.error else "",
                "builder": result.builder.to_json() if result.builder else None,
            }
        )
    elif result.error is None:
        state = "created and started" if result.bootstrapped else "created"
        print(f"builder {req.name} {state}" + (" (now the current builder)" if req.use else ""))
    if result.error is not None:
        raise CliError(
            f"{result.error} (builder {req.name!r} kept: "
            f"`mabgui builder rm {req.name}` removes it)",
            result.error.hint,
        )
    return 0


async def _builder_use(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    try:
        await buildx.use(args.name, default=args.default, global_=args.global_)
    except buildx.BuildxError as exc:
        raise _buildx_cli_error(exc) from exc
    print(f"current builder: {args.name}")
    return 0


async def _builder_stop(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    try:
        await buildx.stop(args.name)
    except buildx.BuildxError as exc:
        raise _buildx_cli_error(exc) from exc
    print(f"builder {args.name} stopped")
    return 0


async def _builder_rm(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    if args.all_inactive:
        if args.names:
            raise CliError("name builders or pass --all-inactive, not both", code=2)
        try:
            builders = await buildx.list_builders()
        except buildx.BuildxError as exc:
            raise _buildx_cli_error(exc) from exc
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
    try:
        report = await buildx.remove(
            args.names,
            keep_state=args.keep_state,
            keep_daemon=args.keep_daemon,
            all_inactive=args.all_inactive,
        )
    except buildx.BuildxError as exc:
        raise _buildx_cli_error(exc) from exc
    print(report or "removed")
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

    try:
        b = await buildx.inspect(
            args.name,
            bootstrap=args.bootstrap,
            progress=_progress_printer(args.json) if args.bootstrap else None,
        )
    except buildx.BuildxError as exc:
        raise _buildx_cli_error(exc) from exc
    # inspect does not say whether the builder is the current one; ls does.
    current = args.name is None
    if not current:
        with contextlib.suppress(buildx.BuildxError):
            current = any(x.current and x.name == b.name for x in await buildx.list_builders())
    b = dataclasses.replace(b, current=current)
    if args.json:
        print_json(_inspect_json(b))
    else:
        _print_inspect(b)
    return 0


async def _builder_bootstrap(args: argparse.Namespace) -> int:
    args.bootstrap = True
    return await _builder_inspect(args)


async def _builder_du(args: argparse.Namespace) -> int:
    from mabgui.core import buildx

    try:
        du = await buildx.disk_usage(args.name)
    except buildx.BuildxError as exc:
        raise _buildx_cli_error(exc) from exc
    if args.json:
        print_json(du.to_json())
    else:
        print(f"builder:     {du.builder or '(current)'}")
        print(f"records:     {du.records}")
        for label, value in (("shared", du.shared), ("private", du.private),
                             ("reclaimable", du.reclaimable), ("total", du.total)):  # fmt: skip
            print(f"{label + ':':<12} {value / 1e6:.2f} MB")
    return 0


def _add_builders_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui builders`` and ``mabgui builder create|use|stop|rm|inspect|bootstrap|du``."""
    p = sub.add_parser(
        "builders", help="list buildx builders, their nodes and platforms (emulated ones marked)"
    )
    _json_flag(p)
    _command(p, _builders_list)

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
    _json_flag(c)
    _command(c, _builder_create)

    u = actions.add_parser("use", help="make a builder the current one")
    u.add_argument("name")
    u.add_argument("--default", action="store_true", help="for the current docker context")
    u.add_argument("--global", dest="global_", action="store_true",
                   help="keep it when the docker context changes")  # fmt: skip
    _command(u, _builder_use)

    s = actions.add_parser("stop", help="stop a builder's BuildKit daemons")
    s.add_argument("name")
    _command(s, _builder_stop)

    r = actions.add_parser("rm", help="remove builders")
    r.add_argument("names", nargs="*", metavar="NAME")
    r.add_argument("--keep-state", action="store_true", help="keep BuildKit state (cache)")
    r.add_argument("--keep-daemon", action="store_true", help="keep the BuildKit daemon running")
    r.add_argument("--all-inactive", action="store_true", help="remove every inactive builder")
    r.add_argument("-f", "--force", action="store_true", help="confirm --all-inactive")
    _command(r, _builder_rm)

    i = actions.add_parser("inspect", help="show a builder's nodes, options, labels, GC policy")
    i.add_argument("name", nargs="?", help="builder (default: the current one)")
    i.add_argument("--bootstrap", action="store_true", help="start it first")
    _json_flag(i)
    _command(i, _builder_inspect)

    b = actions.add_parser("bootstrap", help="start a builder (buildx inspect --bootstrap)")
    b.add_argument("name")
    _json_flag(b)
    _command(b, _builder_bootstrap)

    d = actions.add_parser("du", help="build-cache disk usage of a builder")
    d.add_argument("name", nargs="?", help="builder (default: the current one)")
    _json_flag(d)
    _command(d, _builder_du)


# --- emulators (issue: Emulators) ---------------------------------------------------------------


def _emulators_backend(args: argparse.Namespace) -> Any:
    from mabgui.core import binfmt, binfmt_backend

    try:
        backend = binfmt_backend.make_backend(
            args.backend, args.root, args.image, args.installer_image
        )
    except binfmt.BinfmtError as exc:
        raise _binfmt_cli_error(exc) from None
    if isinstance(backend, binfmt.LocalBinfmt):
        backend.flags = getattr(args, "flags", None) or backend.flags
    return backend


def _binfmt_cli_error(exc: Any) -> CliError:
    hint = exc.hint
    if exc.command:
        by_hand = "\n      ".join(exc.command.splitlines())
        hint = (hint + "\n  " if hint else "") + f"to do it by hand, run:\n      {by_hand}"
    return CliError(str(exc), hint)


def _binfmt_handler_line(handler: Any, builders: list[str] | None) -> str:
    platforms = ", ".join(str(p) for p in handler.platforms) or f"({handler.kind}: {handler.match})"
    state = "enabled" if handler.enabled else "disabled"
    line = f"{handler.name:<16} {state:<9} {platforms:<28} {handler.flags or '-':<5} "
    line += str(handler.interpreter)
    if builders is not None:
        line += f"  [{', '.join(builders) or 'no builder'}]"
    return line


async def _emulators_list(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt, binfmt_builders

    backend = _emulators_backend(args)
    builders_task = (
        None if args.no_builders else asyncio.ensure_future(binfmt_builders.list_builders())
    )
    try:
        state = await backend.read()
    except binfmt.BinfmtError as exc:
        if builders_task is not None:
            builders_task.cancel()
        raise _binfmt_cli_error(exc) from None
    builders: list[binfmt_builders.BuilderPlatforms] = []
    warnings: list[str] = []
    if builders_task is not None:
        try:
            builders = await builders_task
        except (binfmt.BinfmtError, OSError) as exc:
            warnings.append(f"builders unknown: {exc}")
    stale = binfmt_builders.stale_builders(state, builders)
    warnings += [f"{h.name}: {w}" for h in state.handlers for w in h.warnings()]
    warnings += [s.message for s in stale]
    listing = {h.name: binfmt_builders.listing_builders(h, builders) for h in state.handlers}
    if args.json:
        data = {"backend": backend.kind, **state.to_json()}
        for item in data["handlers"]:
            item["builders"] = listing[item["name"]]
        data["builders"] = [
            {"name": b.name, "driver": b.driver, "status": b.status,
             "platforms": [str(p) for p in b.platforms]}
            for b in builders
        ]  # fmt: skip
        data["warnings"] = warnings
        print_json(data)
        return 0 if state.mounted else 1
    if not state.mounted:
        cmd = backend.command_for("mount") if isinstance(backend, binfmt.LocalBinfmt) else ""
        raise _binfmt_cli_error(
            binfmt.BinfmtError(
                f"binfmt_misc is not mounted at {state.root}: no emulator can run",
                "mabgui emulators mount",
                cmd,
            )
        )
    status = "enabled" if state.enabled else "DISABLED globally (no handler runs)"
    access = "" if state.writable else "; read-only for this user (changes need root)"
    print(f"binfmt_misc of {backend.describe()}: {status}{access}")
    if not state.handlers:
        print("no handler is registered: `mabgui emulators install arm64 riscv64 …`")
    for handler in state.handlers:
        print(_binfmt_handler_line(handler, None if args.no_builders else listing[handler.name]))
    for warning in warnings:
        print(f"! {warning}")
    return 0


async def _emulators_toggle(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    try:
        handler = await backend.set_enabled(args.name, args.emulators_action == "enable")
    except binfmt.BinfmtError as exc:
        raise _binfmt_cli_error(exc) from None
    if args.json:
        print_json(handler.to_json())
    else:
        print(_binfmt_handler_line(handler, None))
    return 0


async def _emulators_remove(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    if args.all:
        if args.names:
            raise CliError("give handler names or --all, not both")
        if not isinstance(backend, binfmt.LocalBinfmt):
            raise CliError("--all is only available with the local backend")
        if not args.yes:
            raise CliError(
                "--all unregisters EVERY binfmt_misc handler (writes -1 to status), "
                "not only the QEMU ones",
                "Add --yes to confirm.",
            )
        try:
            state = await backend.remove_all(binfmt.REMOVE_ALL_CONFIRMATION)
        except binfmt.BinfmtError as exc:
            raise _binfmt_cli_error(exc) from None
        removed = "every handler"
    else:
        if not args.names:
            raise CliError("name the handler(s) to remove", "See `mabgui emulators`.", code=2)
        try:
            for name in args.names:
                await backend.remove(name)
            state = await backend.read()
        except binfmt.BinfmtError as exc:
            raise _binfmt_cli_error(exc) from None
        removed = ", ".join(args.names)
    if args.json:
        print_json({"removed": args.names or ["*"], **state.to_json()})
    else:
        print(f"removed {removed}")
    return 0


async def _emulators_install(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    try:
        platforms = binfmt.parse_platforms(args.platforms)
        result = await backend.install(platforms)
    except binfmt.BinfmtError as exc:
        raise _binfmt_cli_error(exc) from None
    if args.json:
        data = {"installed": result.installed, "already": result.already, "output": result.output}
        print_json({**data, **result.state.to_json()})
    else:
        print(f"installed: {', '.join(result.installed) or 'nothing new'}")
        if result.already:
            print(f"already installed and enabled: {', '.join(result.already)}")
        for name in result.installed:
            handler = result.state.handler(name)
            if handler is not None:
                print(_binfmt_handler_line(handler, None))
    return 0


async def _emulators_register(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    if not isinstance(backend, binfmt.LocalBinfmt):
        raise CliError("register is only available with the local backend")
    try:
        if args.conf:
            specs = binfmt.read_conf(args.conf)
        elif args.line:
            specs = [binfmt.parse_register_line(args.line)]
        else:
            raise CliError("give a registration line or --conf FILE", code=2)
        handlers = [await backend.register(spec) for spec in specs]
    except OSError as exc:
        raise CliError(f"cannot read {args.conf}: {exc.strerror or exc}") from None
    except binfmt.BinfmtError as exc:
        raise _binfmt_cli_error(exc) from None
    if args.json:
        print_json([h.to_json() for h in handlers])
    else:
        for handler in handlers:
            print(_binfmt_handler_line(handler, None))
    return 0


async def _emulators_fix_binary(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    if not isinstance(backend, binfmt.LocalBinfmt):
        raise CliError("fix-binary is only available with the local backend")
    try:
        state = await backend.read()
        handler = state.handler(args.name)
        if handler is None:
            raise binfmt.BinfmtError(f"no handler named {args.name!r}")
        if not handler.fix_binary:
            handler = await backend.reregister(args.name, handler.flags + "F")
    except binfmt.BinfmtError as exc:
        raise _binfmt_cli_error(exc) from None
    if args.json:
        print_json(handler.to_json())
    else:
        print(_binfmt_handler_line(handler, None))
    return 0


async def _emulators_mount(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    if not isinstance(backend, binfmt.LocalBinfmt):
        raise CliError("mount is only available with the local backend")
    try:
        state = await backend.mount()
    except binfmt.BinfmtError as exc:
        raise _binfmt_cli_error(exc) from None
    if args.json:
        print_json(state.to_json())
    else:
        print(f"binfmt_misc is mounted at {state.root}")
    return 0


def _emulator_options(p: argparse.ArgumentParser, top: bool) -> None:
    """Backend options, on `emulators` and again on each action (so they go before or after)."""
    from mabgui.core import binfmt_daemon

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    p.add_argument(
        "--backend", choices=("auto", "local", "daemon"), default=default("auto"),
        help="local: this host's /proc/sys/fs/binfmt_misc (Linux, root); daemon: privileged "
        "containers on the Docker daemon (remote engines, Docker Desktop); auto: local when the "
        "daemon runs on this Linux host",
    )  # fmt: skip
    p.add_argument(
        "--root", default=default("/proc/sys/fs/binfmt_misc"), metavar="PATH",
        help="binfmt_misc mount point for the local backend",
    )  # fmt: skip
    p.add_argument(
        "--image", default=default(binfmt_daemon.DEFAULT_SHELL_IMAGE),
        help="image with a shell that the daemon backend reads/toggles handlers with "
        "(default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--installer-image", default=default(binfmt_daemon.DEFAULT_INSTALLER_IMAGE),
        help="installer image for `install` with the daemon backend (default: %(default)s)",
    )  # fmt: skip
    _json_flag(p)


def _add_emulators_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui emulators [enable|disable|remove|install|register|fix-binary|mount] …``."""
    p = sub.add_parser(
        "emulators",
        help="QEMU emulators in binfmt_misc: list, enable, disable, install, remove",
        description="List the binfmt_misc handlers (QEMU user emulators) and the platforms "
        "they give each builder; enable, disable, remove or install them.",
    )
    _emulator_options(p, top=True)
    p.add_argument(
        "--no-builders", action="store_true", help="do not ask buildx which builders list what"
    )
    _command(p, _emulators_list)
    actions = p.add_subparsers(dest="emulators_action", metavar="ACTION")
    for action, text in (
        ("enable", "enable a handler (writes 1 to its file)"),
        ("disable", "disable a handler (writes 0 to its file); it stays registered"),
    ):
        a = actions.add_parser(action, help=text)
        a.add_argument("name", metavar="NAME", help="handler name, e.g. qemu-aarch64")
        _emulator_options(a, top=False)
        _command(a, _emulators_toggle)
    a = actions.add_parser("remove", help="unregister handlers (writes -1 to their files)")
    a.add_argument("names", nargs="*", metavar="NAME")
    a.add_argument(
        "--all", action="store_true",
        help="unregister EVERY handler (writes -1 to binfmt_misc/status); needs --yes",
    )  # fmt: skip
    a.add_argument("--yes", action="store_true", help="confirm --all")
    _emulator_options(a, top=False)
    _command(a, _emulators_remove)
    a = actions.add_parser(
        "install",
        help="register QEMU emulators for platforms (local: from the host's qemu-*-static "
        "with flag F; daemon: the installer image)",
    )
    a.add_argument("platforms", nargs="+", metavar="PLATFORM", help="arm64, linux/arm/v7, … or all")
    a.add_argument("--flags", default=None, help="binfmt_misc flags for local registration (F)")
    _emulator_options(a, top=False)
    _command(a, _emulators_install)
    a = actions.add_parser("register", help="register a raw :name:type:…:flags line (local)")
    a.add_argument("line", nargs="?", help="the registration line")
    a.add_argument("--conf", metavar="FILE", help="register every line of a binfmt.d file")
    _emulator_options(a, top=False)
    _command(a, _emulators_register)
    a = actions.add_parser(
        "fix-binary", help="register a handler again with flag F added (local, root)"
    )
    a.add_argument("name", metavar="NAME")
    _emulator_options(a, top=False)
    _command(a, _emulators_fix_binary)
    a = actions.add_parser("mount", help="mount binfmt_misc when it is not (local, root)")
    _emulator_options(a, top=False)
    _command(a, _emulators_mount)


# --- builds (issue: Builds) ---------------------------------------------------------------------


def _fmt_s(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


class _BuildPrinter:
    """Compact per-platform progress: live lane lines on a terminal, step lines otherwise."""

    def __init__(self, stream: Any, live: bool) -> None:
        self.out = stream
        self.live = live and stream.isatty()
        self._drawn = 0
        self._last = 0.0
        self._printed: set[Any] = set()

    def batch(self, progress: Any, events: list[Any]) -> None:
        from mabgui.core import progress as P

        if self.live:
            for ev in events:
                if isinstance(ev, P.MessageAdded) and ev.message.level != "info":
                    self._clear()
                    print(ev.message.text, file=self.out)
            self._redraw(progress, force=any(isinstance(e, P.BuildFinished) for e in events))
            return
        for ev in events:
            if isinstance(ev, P.StepChanged):
                step = ev.step
                state = step.state
                if state in (P.StepState.QUEUED, P.StepState.RUNNING):
                    continue
                if step in self._printed and state is not P.StepState.ERROR:
                    continue  # print a finished step once (cached after done is no news)
                self._printed.add(step)
                where = str(step.platform) if step.platform is not None else "shared"
                line = f"{where:<14} {step.state.value:<8} {_fmt_s(step.duration_s):>7}  "
                print(line + step.label[:100], file=self.out)
                if step.state is P.StepState.ERROR:
                    print(f"{'':<14} error: {step.error}", file=self.out)
            elif isinstance(ev, P.MessageAdded) and ev.message.level != "info":
                print(ev.message.text, file=self.out)
        self.out.flush()

    def _clear(self) -> None:
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(self, progress: Any, force: bool) -> None:
        import shutil
        import time

        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = max(40, shutil.get_terminal_size((100, 20)).columns - 1)
        lines = []
        wall = time.time()
        for platform, lane in progress.lanes.items():
            bar_len = 12
            filled = round(lane.progress * bar_len)
            bar = "█" * filled + "·" * (bar_len - filled)
            step = lane.failed_step or lane.current_step
            what = step.label if step is not None else ""
            elapsed = ""
            if lane.started is not None:
                end = lane.completed if lane.completed is not None else wall
                elapsed = _fmt_s(end - lane.started)
            emu = "*" if lane.emulated else " "
            text = f"{platform!s:<14}{emu}{bar} {lane.state.value:<8} {elapsed:>6}  {what}"
            lines.append(text[:width])
        self._clear()
        for line in lines:
            print(line, file=self.out)
        self._drawn = len(lines)
        self.out.flush()


def _print_build_summary(progress: Any) -> None:
    summary = progress.summary()
    for platform, lane in progress.lanes.items():
        steps = lane.steps
        cached = sum(1 for s in steps if s.cached)
        total = sum(s.duration_s or 0.0 for s in steps)
        state = "ok" if lane.ok else "FAILED" if lane.error else lane.state.value
        emu = " (emulated)" if lane.emulated else ""
        counts = f"{len(steps):>3} steps ({cached} cached)"
        print(f"{platform!s:<16} {state:<9} {counts} {total:7.1f}s{emu}")
        if lane.error:
            print(f"{'':<16} {lane.error}")
    print(f"{'shared':<16} {'':<9} {len(summary['shared']):>3} steps")
    _print_emulation_cost(progress)
    if summary["duration_s"] is not None:
        print(f"duration: {summary['duration_s']:.1f}s")
    if summary["digest"]:
        print(f"digest: {summary['digest']}")
    if summary["error"]:
        print(f"error: {summary['error']}")


def _print_emulation_cost(progress: Any, top: int = 3) -> None:
    from mabgui.core import progress as P

    costs = [c for c in P.emulation_insight(progress) if c.ratio >= 1.2 and c.extra_s >= 0.1]
    costs = costs[:top]
    if not costs:
        return
    native = costs[0].native.platform
    print(f"emulation cost (same step, native {native} vs QEMU):")
    for c in costs:
        label = c.label if len(c.label) <= 60 else c.label[:59] + "…"
        print(f"  {c.emulated.platform!s:<14} {c.ratio:5.1f}× slower (+{c.extra_s:.1f}s)  {label}")
    if any(c.cross_compile_hint for c in costs):
        print("  hint: run such steps once, natively: FROM --platform=$BUILDPLATFORM … AS build,")
        print("        cross-compile for $TARGETPLATFORM there and COPY --from=build the result")


def _build_failure(progress: Any) -> CliError:
    """Name the failing platform(s) and step(s) for stderr."""
    result = progress.result
    failed = [(p, lane.failed_step) for p, lane in progress.lanes.items() if lane.failed_step]
    if failed:
        parts = [f"{p} at {step.label}: {step.error}" for p, step in failed]
        message = "build failed on " + "; ".join(parts)
    elif result is not None and result.canceled:
        message = "build canceled"
    else:
        message = f"build failed: {(result.error if result else '') or progress.error_text}"
    hint = ""
    if failed:
        step = failed[0][1]
        tail = [progress.log.text(i) for i in step.log_indexes[-5:]]
        if tail:
            hint = "last log lines of that step:\n    " + "\n    ".join(tail)
    return CliError(message, hint)


def _build_spec_from_args(args: argparse.Namespace) -> Any:
    from mabgui.core import build as B
    from mabgui.core.platform import PlatformError

    try:
        platforms = B.parse_platforms(args.platform or [])
    except PlatformError as exc:
        raise CliError(
            f"invalid --platform: {exc}", "e.g. --platform linux/amd64,linux/arm64"
        ) from None
    try:
        build_args = dict(B.parse_build_arg(a) for a in args.build_arg or [])
        secrets = [B.Secret.parse(s) for s in args.secret or []]
    except ValueError as exc:
        raise CliError(str(exc)) from None
    output, dest = B.OutputKind.DEFAULT, ""
    chosen = [o for o in (args.push and "push", args.load and "load", args.output) if o]
    if len(chosen) > 1:
        raise CliError("give only one of --push, --load, --output")
    if args.push:
        output = B.OutputKind.PUSH
    elif args.load:
        output = B.OutputKind.LOAD
    elif args.output:
        fields = dict(part.partition("=")[::2] for part in args.output.split(",") if "=" in part)
        kind = fields.get("type", "")
        dest = fields.get("dest", "")
        kinds = {
            "local": B.OutputKind.LOCAL,
            "oci": B.OutputKind.OCI,
            "cacheonly": B.OutputKind.CACHE,
            "registry": B.OutputKind.PUSH,
            "docker": B.OutputKind.LOAD,
        }
        if kind not in kinds:
            raise CliError(
                f"--output {args.output!r}: unsupported type {kind!r}",
                "use type=local,dest=DIR | type=oci,dest=FILE.tar | type=cacheonly | "
                "type=registry | type=docker",
            )
        output = kinds[kind]
    return B.BuildSpec(
        context=args.context,
        dockerfile=args.file or "",
        target=args.target or "",
        platforms=platforms,
        tags=list(args.tag or []),
        build_args=build_args,
        secrets=secrets,
        output=output,
        output_dest=dest,
        no_cache=args.no_cache,
        pull=args.pull,
        provenance=args.provenance,
        sbom=args.sbom,
        builder=args.builder,
    )


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


async def _build(args: argparse.Namespace) -> int:
    from mabgui.core import build as B

    spec = _build_spec_from_args(args)
    validation = await B.validate(spec)
    for warning in validation.warnings:
        print(f"mabgui: warning: {warning}", file=sys.stderr)
    if not validation.ok:
        if len(validation.errors) == 1:
            raise CliError(validation.errors[0], "nothing was started")
        raise CliError(
            "the build was refused:\n  - " + "\n  - ".join(validation.errors),
            "nothing was started",
        )
    run = B.BuildRun(spec, save_history=not args.no_history, validate_first=False)
    printer = _BuildPrinter(sys.stderr if args.json else sys.stdout, live=not args.quiet)
    try:
        async for batch in run.events():
            if not args.quiet:
                printer.batch(run.progress, batch)
    finally:
        if args.record:
            await asyncio.to_thread(_write_bytes, args.record, run.raw_stream)
    progress = run.progress
    if args.json:
        print_json(progress.summary())
    else:
        print()
        _print_build_summary(progress)
        if run.history_id:
            print(f"saved as build {run.history_id}")
    if progress.result is None or not progress.result.ok:
        raise _build_failure(progress)
    return 0


def _open_replay(target: str) -> Any:
    """A recorded file, else a saved build's id (``mabgui history`` lists them)."""
    import os

    from mabgui.core import history

    if not os.path.exists(target) and os.sep not in target and "/" not in target:
        try:
            return history.load(target)
        except history.HistoryError:
            pass  # not a saved build either: report the missing file below
    return history.open_recording(target)


async def _replay(args: argparse.Namespace) -> int:
    from mabgui.core import history

    try:
        progress = await asyncio.to_thread(_open_replay, args.file)
    except history.HistoryError as exc:
        raise CliError(
            str(exc), "give a rawjson file or a build id from `mabgui history`"
        ) from None
    if args.json:
        print_json(progress.summary())
    else:
        _print_build_summary(progress)
    if progress.result is None or not progress.result.ok:
        raise _build_failure(progress)
    return 0


async def _history(args: argparse.Namespace) -> int:
    import time as _time

    from mabgui.core import history

    entries = await asyncio.to_thread(history.list_entries, args.limit)
    if args.json:
        print_json([e.to_json() for e in entries])
        return 0
    if not entries:
        print(f"no saved builds in {history.history_dir()}")
        return 0
    for e in entries:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(e.started))
        state = "ok" if e.ok else "canceled" if e.canceled else "FAILED"
        lanes = " ".join(f"{p}:{s}" for p, s in e.platforms.items())
        took = _fmt_s(e.duration_s)
        print(f"{e.id}  {when}  {state:<8} {took:>7}  {e.spec.get('context', '')}  {lanes}")
    return 0


def _bool_flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def _add_build_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui build …`` and ``mabgui replay FILE``."""
    p = sub.add_parser(
        "build",
        help="run a (multi-platform) docker buildx build with per-platform progress",
        description="Build like `docker buildx build`, showing one progress line per platform. "
        "The build is saved in the history (spec without secret values, raw progress stream).",
    )
    p.add_argument("context", metavar="CONTEXT", help="the build context directory")
    p.add_argument("-f", "--file", metavar="DOCKERFILE", help="default: CONTEXT/Dockerfile")
    p.add_argument("--target", metavar="STAGE", help="the stage to build")
    p.add_argument(
        "--platform", action="append", metavar="LIST",
        help="target platforms, comma-separated or repeated (linux/amd64,linux/arm64)",
    )  # fmt: skip
    p.add_argument("-t", "--tag", action="append", metavar="NAME:TAG", help="image name (repeat)")
    p.add_argument("--build-arg", action="append", metavar="KEY=VALUE", help="(repeat)")
    p.add_argument(
        "--secret", action="append", metavar="id=ID,src=PATH",
        help="a file secret for RUN --mount=type=secret (its value is never stored)",
    )  # fmt: skip
    p.add_argument("--push", action="store_true", help="push the image to its registry")
    p.add_argument("--load", action="store_true", help="load the image into the image store")
    p.add_argument(
        "-o", "--output", metavar="type=…",
        help="type=local,dest=DIR | type=oci,dest=FILE | type=cacheonly "
        "(default: as buildx, e.g. into the image store with the docker driver)",
    )  # fmt: skip
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--pull", action="store_true", help="always pull referenced images")
    p.add_argument("--provenance", type=_bool_flag, metavar="true|false", default=None)
    p.add_argument("--sbom", type=_bool_flag, metavar="true|false", default=None)
    p.add_argument("--builder", default="default", help="buildx builder (default: default)")
    p.add_argument("--no-history", action="store_true", help="do not save this build")
    p.add_argument("--record", metavar="FILE", help="also write the raw rawjson stream to FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress")
    _json_flag(p)
    _command(p, _build)

    r = sub.add_parser(
        "replay",
        help="summarise a recorded --progress=rawjson stream (plain or .gz)",
        description="Read a stream recorded with `docker buildx build --progress=rawjson … "
        "2> FILE` (or a saved build, by id) and print its per-platform summary; exit 1 if that "
        "build failed.",
    )
    r.add_argument("file", metavar="FILE", help="a rawjson file (plain or .gz) or a build id")
    _json_flag(r)
    _command(r, _replay)

    h = sub.add_parser("history", help="list saved builds (newest first)")
    h.add_argument("--limit", type=int, default=None, metavar="N")
    _json_flag(h)
    _command(h, _history)


# --- manifests (issue: Manifests) ---------------------------------------------------------------


def _print_tree_text(tree: Any) -> None:
    from mabgui.core.manifest import (
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
    from mabgui.core.manifest import fetch_tree
    from mabgui.core.reference import InvalidReference, parse_reference
    from mabgui.core.registry import RegistryClient, RegistryError
    from mabgui.core.registry_cache import DigestCache, default_cache_dir

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


def _add_manifest_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui inspect REF``."""
    p = sub.add_parser(
        "inspect",
        help="show an image's per-platform manifest tree, straight from the registry",
        description="Fetch REF's index, platform manifests, configs, layers and attestations "
        "(every manifest verified against its digest). Credentials come from your docker config "
        "(docker login).",
    )
    p.add_argument("ref", metavar="REF", help="image reference, e.g. busybox or host:5000/app:1")
    _json_flag(p)
    p.add_argument("--raw", action="store_true", help="print the root manifest as fetched")
    p.add_argument(
        "--insecure", action="append", metavar="REGISTRY",
        help="trust this registry without TLS certificate checks, or over plain HTTP, as docker's"
        " insecure-registries (loopback registries always may use plain HTTP); repeatable",
    )  # fmt: skip
    p.add_argument("--no-cache", action="store_true", help="do not use the on-disk digest cache")
    _command(p, _inspect)


# --- entry point ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mabgui",
        description="Build and inspect multi-architecture container images. "
        "Without a subcommand, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"mabgui {__version__}")
    parser.add_argument(
        "--self-test", action="store_true",
        help="start the window offscreen, check Qt plugins and resources, and exit",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_doctor_commands(sub)
    _add_builders_commands(sub)
    _add_emulators_commands(sub)
    _add_build_commands(sub)
    _add_manifest_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from mabgui.ui import app

        return app.main(self_test=args.self_test)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:  # a command group without its action, e.g. `mabgui builder`
        parser.parse_args([*(argv or sys.argv[1:]), "--help"])
        return 2
    try:
        return asyncio.run(handler(args))
    except CliError as exc:
        error(str(exc), exc.hint)
        return exc.code
    except KeyboardInterrupt:
        print("mabgui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`mabgui builders --json | head`): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())

"""``mabgui emulators …``: the binfmt_misc handlers."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from mabgui.cli.render import CliError, command, print_json, safe
from mabgui.core.platform import Platform


def _emulators_backend(args: argparse.Namespace) -> Any:
    from mabgui.core import binfmt
    from mabgui.core.binfmt import backend as binfmt_backend

    backend = binfmt_backend.make_backend(args.backend, args.root, args.image, args.installer_image)
    if isinstance(backend, binfmt.LocalBinfmt):
        backend.flags = getattr(args, "flags", None) or backend.flags
    return backend


async def _native_platform() -> Platform | None:
    """The daemon's platform (what its builders run without an emulator); None when the daemon
    does not answer (then no builder is called stale)."""
    from mabgui.core import engine

    try:
        info = await engine.daemon_info()
    except engine.EngineError:
        return None
    return Platform.try_parse(f"{info.os_type or 'linux'}/{info.architecture}")


def _binfmt_handler_line(handler: Any, builders: list[str] | None) -> str:
    platforms = ", ".join(str(p) for p in handler.platforms) or f"({handler.kind}: {handler.match})"
    state = "enabled" if handler.enabled else "disabled"
    line = f"{handler.name:<16} {state:<9} {platforms:<28} {handler.flags or '-':<5} "
    line += str(handler.interpreter)
    if builders is not None:
        line += f"  [{', '.join(builders) or 'no builder'}]"
    return safe(line)


async def _emulators_list(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt
    from mabgui.core import overview as binfmt_builders
    from mabgui.core.errors import MabguiError

    backend = _emulators_backend(args)
    builders_task = (
        None
        if args.no_builders
        else asyncio.ensure_future(binfmt_builders.list_builder_platforms())
    )
    native_task = None if args.no_builders else asyncio.ensure_future(_native_platform())
    try:
        state = await backend.read()
    except BaseException:
        for task in (builders_task, native_task):
            if task is not None:
                task.cancel()
        raise
    builders: list[binfmt_builders.BuilderPlatforms] = []
    warnings: list[str] = []
    native: Platform | None = None
    if builders_task is not None and native_task is not None:
        try:
            builders = await builders_task
        except (MabguiError, OSError) as exc:
            warnings.append(f"builders unknown: {exc}")
        native = await native_task
    stale = binfmt_builders.stale_builders(state, builders, native) if native else []
    warnings += [f"{h.name}: {w}" for h in state.handlers for w in h.warnings()]
    warnings += [s.message for s in stale]
    listing = {h.name: binfmt_builders.listing_builders(h, builders) for h in state.handlers}
    if args.json:
        data = {"ok": state.mounted, "backend": backend.kind, **state.to_json()}
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
        raise binfmt.BinfmtError(
            f"binfmt_misc is not mounted at {state.root}: no emulator can run",
            "mabgui emulators mount",
            cmd,
        )
    status = "enabled" if state.enabled else "DISABLED globally (no handler runs)"
    access = "" if state.writable else "; read-only for this user (changes need root)"
    print(f"binfmt_misc of {backend.describe()}: {status}{access}")
    if not state.handlers:
        print("no handler is registered: `mabgui emulators install arm64 riscv64 …`")
    for handler in state.handlers:
        print(_binfmt_handler_line(handler, None if args.no_builders else listing[handler.name]))
    for warning in warnings:
        print(f"! {safe(warning)}")
    return 0


def _handler_name(args: argparse.Namespace) -> str:
    """NAME is optional for argparse so that its absence, too, is answered in JSON with --json."""
    if not args.name:
        action = args.emulators_action
        verb = "add flag F to" if action == "fix-binary" else action
        raise CliError(f"name the handler to {verb}", f"e.g. mabgui emulators {action} "
                       "qemu-aarch64; `mabgui emulators` lists them", code=2)  # fmt: skip
    return str(args.name)


async def _emulators_toggle(args: argparse.Namespace) -> int:
    name = _handler_name(args)
    backend = _emulators_backend(args)
    handler = await backend.set_enabled(name, args.emulators_action == "enable")
    if args.json:
        print_json({"ok": True, **handler.to_json()})
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
        state = await backend.remove_all(binfmt.REMOVE_ALL_CONFIRMATION)
        removed = "every handler"
    else:
        if not args.names:
            raise CliError("name the handler(s) to remove", "See `mabgui emulators`.", code=2)
        for name in args.names:
            binfmt.check_handler_name(name)  # every name checked before the first write
        for name in args.names:
            await backend.remove(name)
        state = await backend.read()
        removed = ", ".join(args.names)
    if args.json:
        print_json({"ok": True, "removed": args.names or ["*"], **state.to_json()})
    else:
        print(safe(f"removed {removed}"))
    return 0


async def _emulators_install(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    result = await backend.install(binfmt.parse_platforms(args.platforms))
    if args.json:
        data = {"ok": True, "installed": result.installed, "already": result.already}
        print_json({**data, "output": result.output, **result.state.to_json()})
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
    if args.conf:
        try:
            specs = binfmt.read_conf(args.conf)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
            raise CliError(f"cannot read {args.conf}: {reason or exc}") from None
    elif args.line:
        specs = [binfmt.parse_register_line(args.line)]
    else:
        raise CliError("give a registration line or --conf FILE", code=2)
    handlers = [await backend.register(spec) for spec in specs]
    if args.json:
        print_json([h.to_json() for h in handlers])
    else:
        for handler in handlers:
            print(_binfmt_handler_line(handler, None))
    return 0


async def _emulators_fix_binary(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    name = binfmt.check_handler_name(_handler_name(args))
    backend = _emulators_backend(args)
    if not isinstance(backend, binfmt.LocalBinfmt):
        raise CliError("fix-binary is only available with the local backend")
    state = await backend.read()
    handler = state.handler(name)
    if handler is None:
        raise binfmt.BinfmtError(f"no handler named {name!r}")
    if not handler.fix_binary:
        handler = await backend.reregister(name, handler.flags + "F")
    if args.json:
        print_json({"ok": True, **handler.to_json()})
    else:
        print(_binfmt_handler_line(handler, None))
    return 0


async def _emulators_mount(args: argparse.Namespace) -> int:
    from mabgui.core import binfmt

    backend = _emulators_backend(args)
    if not isinstance(backend, binfmt.LocalBinfmt):
        raise CliError("mount is only available with the local backend")
    state = await backend.mount()
    if args.json:
        print_json({"ok": True, **state.to_json()})
    else:
        print(f"binfmt_misc is mounted at {state.root}")
    return 0


def _emulator_options(p: argparse.ArgumentParser, top: bool) -> None:
    """Backend options, on `emulators` and again on each action (so they go before or after).

    On an action every default is ``SUPPRESS``: a value given before the action is kept (an
    action's own default would overwrite it). So the help texts spell the defaults out instead
    of ``%(default)s``, which argparse cannot expand for a suppressed default.
    """
    from mabgui.core.binfmt import BINFMT_ROOT
    from mabgui.core.binfmt import daemon as binfmt_daemon

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    p.add_argument(
        "--backend", choices=("auto", "local", "daemon"), default=default("auto"),
        help="local: this host's /proc/sys/fs/binfmt_misc (Linux, root); daemon: privileged "
        "containers on the Docker daemon (remote engines, Docker Desktop); auto (default): local "
        "when the daemon runs on this Linux host",
    )  # fmt: skip
    p.add_argument(
        "--root", default=default(str(BINFMT_ROOT)), metavar="PATH",
        help=f"binfmt_misc mount point for the local backend (default: {BINFMT_ROOT})",
    )  # fmt: skip
    p.add_argument(
        "--image", default=default(binfmt_daemon.DEFAULT_SHELL_IMAGE),
        help="image with a shell that the daemon backend reads/toggles handlers with "
        f"(default: {binfmt_daemon.DEFAULT_SHELL_IMAGE})",
    )  # fmt: skip
    p.add_argument(
        "--installer-image", default=default(binfmt_daemon.DEFAULT_INSTALLER_IMAGE),
        help="installer image for `install` with the daemon backend "
        f"(default: {binfmt_daemon.DEFAULT_INSTALLER_IMAGE})",
    )  # fmt: skip
    p.add_argument(
        "--json", action="store_true", default=default(False),
        help="print machine-readable JSON (an error too: {\"ok\": false, \"error\": …})",
    )  # fmt: skip


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    command(p, _emulators_list)
    actions = p.add_subparsers(dest="emulators_action", metavar="ACTION")
    for action, text in (
        ("enable", "enable a handler (writes 1 to its file)"),
        ("disable", "disable a handler (writes 0 to its file); it stays registered"),
    ):
        a = actions.add_parser(action, help=text)
        a.add_argument("name", nargs="?", metavar="NAME", help="handler name, e.g. qemu-aarch64")
        _emulator_options(a, top=False)
        command(a, _emulators_toggle)
    a = actions.add_parser("remove", help="unregister handlers (writes -1 to their files)")
    a.add_argument("names", nargs="*", metavar="NAME")
    a.add_argument(
        "--all", action="store_true",
        help="unregister EVERY handler (writes -1 to binfmt_misc/status); needs --yes",
    )  # fmt: skip
    a.add_argument("--yes", action="store_true", help="confirm --all")
    _emulator_options(a, top=False)
    command(a, _emulators_remove)
    a = actions.add_parser(
        "install",
        help="register QEMU emulators for platforms (local: from the host's qemu-*-static "
        "with flag F; daemon: the installer image)",
    )
    a.add_argument("platforms", nargs="+", metavar="PLATFORM", help="arm64, linux/arm/v7, … or all")
    a.add_argument("--flags", default=None, help="binfmt_misc flags for local registration (F)")
    _emulator_options(a, top=False)
    command(a, _emulators_install)
    a = actions.add_parser("register", help="register a raw :name:type:…:flags line (local)")
    a.add_argument("line", nargs="?", help="the registration line")
    a.add_argument("--conf", metavar="FILE", help="register every line of a binfmt.d file")
    _emulator_options(a, top=False)
    command(a, _emulators_register)
    a = actions.add_parser(
        "fix-binary", help="register a handler again with flag F added (local, root)"
    )
    a.add_argument("name", nargs="?", metavar="NAME", help="handler name, e.g. qemu-arm")
    _emulator_options(a, top=False)
    command(a, _emulators_fix_binary)
    a = actions.add_parser("mount", help="mount binfmt_misc when it is not (local, root)")
    _emulator_options(a, top=False)
    command(a, _emulators_mount)

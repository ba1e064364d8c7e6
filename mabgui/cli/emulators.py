"""``mabgui emulators …``: the binfmt_misc handlers."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from mabgui.cli.render import (
    CliError,
    command,
    json_flag,
    print_json,
)


def _emulators_backend(args: argparse.Namespace) -> Any:
    from mabgui.core import binfmt
    from mabgui.core.binfmt import backend as binfmt_backend

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
    from mabgui.core import binfmt
    from mabgui.core import overview as binfmt_builders
    from mabgui.core.errors import MabguiError

    backend = _emulators_backend(args)
    builders_task = (
        None
        if args.no_builders
        else asyncio.ensure_future(binfmt_builders.list_builder_platforms())
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
        except (MabguiError, OSError) as exc:
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
    from mabgui.core.binfmt import daemon as binfmt_daemon

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
    json_flag(p)


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
        a.add_argument("name", metavar="NAME", help="handler name, e.g. qemu-aarch64")
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
    a.add_argument("name", metavar="NAME")
    _emulator_options(a, top=False)
    command(a, _emulators_fix_binary)
    a = actions.add_parser("mount", help="mount binfmt_misc when it is not (local, root)")
    _emulator_options(a, top=False)
    command(a, _emulators_mount)

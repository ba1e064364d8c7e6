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
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mabgui import __version__

Handler = Callable[[argparse.Namespace], Awaitable[int]]


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


def _add_builders_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui builders`` and ``mabgui builder create|use|stop|rm|inspect``."""


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
    """``mabgui emulators [enable|disable|remove|install|register|mount] …``."""
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
    a = actions.add_parser("mount", help="mount binfmt_misc when it is not (local, root)")
    _emulator_options(a, top=False)
    _command(a, _emulators_mount)


# --- builds (issue: Builds) ---------------------------------------------------------------------


def _add_build_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui build …`` and ``mabgui replay FILE``."""


# --- manifests (issue: Manifests) ---------------------------------------------------------------


def _add_manifest_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui inspect REF``."""


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


if __name__ == "__main__":
    raise SystemExit(main())

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


def _add_emulators_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui emulators [enable|disable|remove|install] …``."""


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

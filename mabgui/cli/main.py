"""The headless front end: ``mabgui SUBCOMMAND … [--json]`` over the same core as the window.

With no subcommand, ``mabgui`` opens the window. Each area registers its subcommands in its own
module (``add_commands``); every command returns a process exit code (0 ok, 1 failure, 2 bad
usage) and prints errors to stderr as ``mabgui: error: …`` with a hint where one helps.
Heavy modules (Qt, httpx, the docker SDK) are imported inside the commands that need them, and
only the chosen command's area module is imported at all (:data:`COMMANDS`: the others appear in
``mabgui --help`` by name and help line only), so ``mabgui copy …`` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, NoReturn

from mabgui.cli.render import CliError, Handler, error, print_json
from mabgui.core import log
from mabgui.core.errors import MabguiError

_log = log.get("cli")

# httpx imports its own command line (click, rich, pygments: about half of `import httpx`)
# whenever those happen to be installed; mabgui never runs it, so it is marked missing (httpx
# then defines a stub). Only the CLI process does this: it is where start-up is paid per call.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


class _UsageError(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors reach ``main`` (so ``--json`` gets JSON too)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self, message)


# Every subcommand: its area module (``mabgui.cli.<area>``, whose ``add_commands`` defines it
# fully) and its one-line help for ``mabgui --help``. Kept in sync with the areas by a unit test.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("doctor", "check what multi-platform builds need on this machine"),
    "builders": (
        "builders", "list buildx builders, their nodes and platforms (emulated ones marked)"
    ),
    "builder": ("builders", "create, bootstrap, use, stop, remove a buildx builder"),
    "emulators": (
        "emulators", "QEMU emulators in binfmt_misc: list, enable, disable, install, remove"
    ),
    "build": ("builds", "run a (multi-platform) docker buildx build with per-platform progress"),
    "replay": ("builds", "summarise a recorded --progress=rawjson stream (plain or .gz)"),
    "history": (
        "history", "every build the builder ran (BuildKit's records and mabgui's), newest first"
    ),
    "inspect": (
        "manifests", "show an image's per-platform manifest tree, straight from the registry"
    ),
    "index": ("index", "assemble a multi-platform index from per-platform images, or change one"),
    "copy": (
        "index", "copy an image or index (all or some platforms) to another repository or registry"
    ),
    "tag": ("index", "registry tags"),
    "bases": ("bases", "check that every FROM of a Dockerfile exists for the target platforms"),
}  # fmt: skip


class _VersionAction(argparse.Action):
    """``--version``, reading the version (importlib.metadata, ~10 ms) only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show the version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
        values: Any, option_string: str | None = None,
    ) -> None:  # fmt: skip
        from mabgui import __version__

        print(f"mabgui {__version__}")
        parser.exit()


def _chosen(words: Sequence[str]) -> str | None:
    """The subcommand in ``words``: the first word not an option (the top-level options take
    no value)."""
    for word in words:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def build_parser(words: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, it defines only the chosen command's area fully.

    Without ``words`` (tests, documentation) every area is imported and defined.
    """
    parser = _Parser(
        prog="mabgui",
        description="Build and inspect multi-architecture container images. "
        "Without a subcommand, opens the window.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--self-test", action="store_true",
        help="start the window offscreen, check Qt plugins and resources, and exit",
    )  # fmt: skip
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="log what is run to stderr (-vv: debug); the log file always has it",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = None if words is None else _chosen(words)
    wanted = (
        {area for area, _ in COMMANDS.values()}
        if words is None
        else {COMMANDS[chosen][0]}
        if chosen in COMMANDS
        else set()
    )
    for name, (area, help_text) in COMMANDS.items():
        if area in wanted:
            # __import__ rather than importlib.import_module: `-X importtime` reports it.
            __import__(f"mabgui.cli.{area}", fromlist=["add_commands"]).add_commands(sub)
            wanted.discard(area)
        elif name not in sub.choices:
            sub.add_parser(name, help=help_text)  # a name in the list only: not chosen
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    try:
        args = parser.parse_args(words)
    except _UsageError as exc:
        exc.parser.print_usage(sys.stderr)
        error(exc.message, f"see `{exc.parser.prog} --help`")
        if "--json" in words:
            print_json(
                {"ok": False, "error": exc.message, "hint": f"see `{exc.parser.prog} --help`",
                 "kind": "usage"}
            )  # fmt: skip
        return 2
    log_file = log.setup(verbose=args.verbose)
    if args.command is None:
        from mabgui.ui import app

        return app.main(self_test=args.self_test)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:  # a command group without its action, e.g. `mabgui builder`
        build_parser().parse_args([*words, "--help"])
        return 2
    as_json = bool(getattr(args, "json", False))
    _log.debug("command %s", args.command)
    try:
        return _run(handler(args))
    except MabguiError as exc:
        _log.info("command %s failed: %s", args.command, exc)
        if as_json:
            print_json(exc.to_json())
        error(str(exc), exc.hint)
        return exc.code if isinstance(exc, CliError) else 1
    except KeyboardInterrupt:
        if as_json:
            print_json({"ok": False, "error": "interrupted", "hint": "", "kind": "interrupted"})
        print("mabgui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`mabgui builders --json | head`): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug: say so plainly, keep the traceback in the log
        _log.exception("command %s crashed", args.command)
        where = f" (traceback in {log_file})" if log_file else ""
        message = f"internal error: {type(exc).__name__}: {exc}"
        if as_json:
            print_json({"ok": False, "error": message, "hint": "", "kind": "internal"})
        error(message + where, "please report it with the log")
        return 70


def _run(coro: Coroutine[Any, Any, int]) -> int:
    """Run a command; SIGTERM stops it as Ctrl+C does (cancel, clean up, exit 130)."""
    import asyncio  # here: `--help` and usage errors do not need it (~25 ms)
    import contextlib
    import signal

    with asyncio.Runner() as runner:
        loop = runner.get_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGTERM, signal.raise_signal, signal.SIGINT)
        return runner.run(coro)


if __name__ == "__main__":
    raise SystemExit(main())

"""What every CLI command shares: the error it raises, JSON and text output, flag helpers."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from mabgui.core.errors import MabguiError

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class CliError(MabguiError):
    """A failure of the CLI itself (bad usage, a file it cannot write), with its exit ``code``.

    Core's errors need no conversion: ``main`` catches every :class:`MabguiError` once.
    """

    kind = "usage"

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message, hint)
        self.code = code


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: str) -> str:
    """``text`` with control characters (ANSI/OSC escapes from a step name or a registry's
    error) shown as ``\\xNN`` instead of reaching the terminal raw."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def error(message: str, hint: str = "") -> None:
    print(f"mabgui: error: {safe(message)}", file=sys.stderr)
    if hint:
        print(f"  hint: {safe(hint)}", file=sys.stderr)


def command(parser: argparse.ArgumentParser, handler: Handler) -> None:
    parser.set_defaults(handler=handler)


def json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def progress_printer(quiet: bool) -> Callable[[str], None]:
    def show(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    return show


def fmt_s(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def bool_flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def _add_build_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui build …`` and ``mabgui replay FILE``."""


def count(text: str) -> int:
    """An argparse type for ``--limit N``: a whole number ≥ 0 in ASCII digits (not ``-1``,
    not ``٣``)."""
    digits = text.strip()
    if digits.startswith("-") and digits[1:].isascii() and digits[1:].isdigit():
        raise argparse.ArgumentTypeError(f"expected 0 or more, not {digits}")
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}")
    return int(digits)

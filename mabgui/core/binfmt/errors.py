"""The one error type of the binfmt area, and the one check of a handler's name.

A binfmt change that cannot be made says why (``hint``) and, where a person with the privileges
could do it, the exact command to run by hand (``command``). The CLI prints the hint once (its
``main`` catches every :class:`~mabgui.core.errors.MabguiError`), so the command is part of it;
the window shows :attr:`BinfmtError.advice` and the command in a block of its own.
"""

from __future__ import annotations

import re
from typing import Any

from mabgui.core.errors import MabguiError

# The two control files of the mount: never a handler, never written as one.
RESERVED_NAMES = frozenset({"register", "status"})
# What mabgui accepts as a handler name anywhere it reaches a file or a command: no '/' or ':'
# (the kernel's separators), no leading '-' or '.' (a flag or '..'), at most 64 characters.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")


class BinfmtError(MabguiError):
    """A binfmt_misc change that cannot be made; ``advice`` says why/how, ``command`` what to run
    by hand instead (for instance with sudo). ``hint`` holds both, for the CLI."""

    kind = "binfmt"

    def __init__(self, message: str, hint: str = "", command: str = "") -> None:
        self.advice = hint
        self.command = command
        if command:
            by_hand = "\n      ".join(command.splitlines())
            hint = (hint + "\n  " if hint else "") + f"to do it by hand, run:\n      {by_hand}"
        super().__init__(message, hint)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "command": self.command}


def is_handler_name(name: str) -> bool:
    """True for a name mabgui may read, write or register as a handler."""
    return bool(_NAME_RE.fullmatch(name)) and name not in RESERVED_NAMES


def check_handler_name(name: str) -> str:
    """``name`` when :func:`is_handler_name`; otherwise a :class:`BinfmtError` (nothing is
    written or run with a name that could be a path, a control file or a command-line flag)."""
    if not is_handler_name(name):
        raise BinfmtError(
            f"{name!r} is not a valid handler name",
            "Use letters, digits, '.', '_', '+' or '-' (not first; no '/' or ':'), at most 64 "
            "characters; 'register' and 'status' are binfmt_misc's own files.",
        )
    return name

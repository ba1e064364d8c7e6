"""binfmt_misc's text formats, both ways: handler files and dumps read, registration lines
(``:name:type:offset:magic:mask:interpreter:flags``, binfmt.d ``.conf`` files) read and written.

Reading is pure over a directory (``/proc/sys/fs/binfmt_misc`` or a recorded copy of it), so the
parser is tested on recorded handler files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mabgui.core.binfmt.errors import RESERVED_NAMES, BinfmtError, check_handler_name
from mabgui.core.binfmt.magic import (
    elf_magic,
    platforms_from_magic,
    platforms_from_name,
    qemu_handler_name,
)
from mabgui.core.binfmt.model import BINFMT_ROOT, BinfmtState, Handler
from mabgui.core.platform import Platform

VALID_FLAGS = "POCF"
BINPRM_BUF_SIZE = 256  # the kernel reads this many bytes of a file to match magics against
DUMP_MARK = "@@@mabgui-binfmt "
# A POSIX sh script listing every file of the binfmt_misc mount given as $1 (busybox sh is enough).
DUMP_SCRIPT = (
    'cd "$1" || exit 3; for f in *; do [ -e "$f" ] || continue; '
    f'echo "{DUMP_MARK}$f"; [ "$f" = register ] || cat "$f"; done'
)


def parse_handler(name: str, text: str) -> Handler:
    """Parse the contents of one handler file (``enabled``/``interpreter``/``flags:``/...)."""
    enabled = False
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line in ("enabled", "disabled"):
            enabled = line == "enabled"
        elif line.startswith("flags:"):
            fields["flags"] = line.split(":", 1)[1].strip()
        elif " " in line:
            key, value = line.split(" ", 1)
            fields[key] = value.strip()
        elif line:
            fields[line] = ""
    try:
        offset = int(fields.get("offset", "0") or 0)
    except ValueError:
        offset = 0
    magic, mask = fields.get("magic", ""), fields.get("mask", "")
    extension = fields.get("extension", "")
    platforms = platforms_from_magic(magic, mask, offset)
    if (
        not platforms
        and not extension
        and "qemu" in os.path.basename(fields.get("interpreter", ""))
    ):
        platforms = platforms_from_name(name)
    return Handler(
        name=name,
        enabled=enabled,
        interpreter=fields.get("interpreter", ""),
        flags=fields.get("flags", ""),
        offset=offset,
        magic=magic,
        mask=mask,
        extension=extension,
        platforms=platforms,
    )


def read_state(root: str | os.PathLike[str] = BINFMT_ROOT) -> BinfmtState:
    """Read every handler under ``root``. An unmounted root gives ``mounted=False``, no error."""
    path = Path(root)
    register = path / "register"
    if not register.exists():
        return BinfmtState(str(path), mounted=False, writable=False, enabled=False)
    status_file = path / "status"
    try:
        enabled = status_file.read_text().strip() == "enabled"
    except OSError:
        enabled = False
    handlers = []
    for entry in sorted(path.iterdir()):
        if entry.name in RESERVED_NAMES or not entry.is_file():
            continue
        try:
            handlers.append(parse_handler(entry.name, entry.read_text()))
        except OSError:
            continue
    return BinfmtState(
        str(path),
        mounted=True,
        writable=os.access(register, os.W_OK),
        enabled=enabled,
        handlers=handlers,
    )


def parse_dump(text: str, root: str, writable: bool = True) -> BinfmtState:
    """Parse what :data:`DUMP_SCRIPT` prints (one ``@@@mabgui-binfmt NAME`` line per file, then
    its contents): the daemon backend reads binfmt_misc this way from inside a container."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(DUMP_MARK):
            current = sections.setdefault(line[len(DUMP_MARK) :].strip(), [])
        elif current is not None:
            current.append(line)
    if "register" not in sections:
        return BinfmtState(root, mounted=False, writable=False, enabled=False)
    status = "\n".join(sections.get("status", [])).strip()
    handlers = [
        parse_handler(name, "\n".join(lines))
        for name, lines in sorted(sections.items())
        if name not in RESERVED_NAMES
    ]
    return BinfmtState(root, mounted=True, writable=writable, enabled=status == "enabled",
                       handlers=handlers)  # fmt: skip


# --- registration lines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterSpec:
    """A ``:name:type:offset:magic:mask:interpreter:flags`` line for binfmt_misc/register."""

    name: str
    interpreter: str
    flags: str = "F"
    kind: Literal["M", "E"] = "M"
    offset: int = 0
    magic: bytes = b""
    mask: bytes = b""
    extension: str = ""

    def validate(self) -> None:
        """Raise :class:`BinfmtError` for a line the kernel would refuse (or misread)."""
        check_handler_name(self.name)
        if not self.interpreter.startswith("/") or ":" in self.interpreter:
            raise BinfmtError(
                f"the interpreter {self.interpreter!r} must be an absolute path without ':'"
            )
        bad = sorted(set(self.flags) - set(VALID_FLAGS))
        if bad:
            raise BinfmtError(
                f"unknown flag(s) {''.join(bad)!r} for {self.name}",
                "binfmt_misc knows P (preserve argv0), O (open binary), C (credentials) and "
                "F (fix binary).",
            )
        if self.kind == "E":
            if not self.extension or "/" in self.extension or ":" in self.extension:
                raise BinfmtError(f"{self.extension!r} is not a file name extension")
            return
        if not self.magic:
            raise BinfmtError(f"handler {self.name}: a magic handler needs magic bytes")
        if self.mask and len(self.mask) != len(self.magic):
            raise BinfmtError(
                f"handler {self.name}: the mask ({len(self.mask)} bytes) must be as long as "
                f"the magic ({len(self.magic)} bytes)"
            )
        if self.offset < 0 or self.offset + len(self.magic) > BINPRM_BUF_SIZE:
            raise BinfmtError(
                f"handler {self.name}: offset {self.offset} + magic length must fit in "
                f"{BINPRM_BUF_SIZE} bytes"
            )

    def line(self) -> str:
        """The registration line, magic and mask fully ``\\x``-escaped."""
        self.validate()
        if self.kind == "E":
            return f":{self.name}:E::{self.extension}::{self.interpreter}:{self.flags}"
        return (
            f":{self.name}:M:{self.offset or ''}:{_escape_bytes(self.magic)}:"
            f"{_escape_bytes(self.mask)}:{self.interpreter}:{self.flags}"
        )

    @property
    def platforms(self) -> tuple[Platform, ...]:
        if self.kind == "E":
            return ()
        return platforms_from_magic(self.magic.hex(), self.mask.hex(), self.offset)


def _escape_bytes(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def _unescape(text: str) -> bytes:
    """binfmt_misc's field decoding: ``\\xHH`` is a byte, ``\\\\`` a backslash, the rest literal."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 2 : i + 4]):
                out.append(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            if nxt == "\\":
                out.append(0x5C)
                i += 2
                continue
        out.extend(ch.encode())
        i += 1
    return bytes(out)


def parse_register_line(line: str) -> RegisterSpec:
    """Parse a registration line (binfmt.d ``.conf``); its first character is the separator."""
    text = line.strip()
    if len(text) < 2:
        raise BinfmtError(f"{line!r} is not a binfmt_misc registration line")
    sep = text[0]
    parts = text[1:].split(sep)
    if len(parts) < 6:
        raise BinfmtError(
            f"{line!r} is not a binfmt_misc registration line",
            "Expected :name:type:offset:magic:mask:interpreter:flags",
        )
    name, kind, offset, magic, mask, interpreter = parts[:6]
    flags = parts[6] if len(parts) > 6 else ""
    if kind not in ("M", "E"):
        raise BinfmtError(f"{line!r}: type must be M (magic) or E (extension), not {kind!r}")
    try:
        off = int(offset) if offset else 0
    except ValueError:
        raise BinfmtError(f"{line!r}: offset {offset!r} is not a number") from None
    if kind == "E":
        spec = RegisterSpec(name, interpreter, flags, "E", extension=magic)
    else:
        spec = RegisterSpec(name, interpreter, flags, "M", off, _unescape(magic), _unescape(mask))
    spec.validate()
    return spec


def read_conf(path: str | os.PathLike[str]) -> list[RegisterSpec]:
    """Every registration line of a binfmt.d file (comments and blank lines skipped)."""
    specs = []
    for raw in Path(path).read_text().splitlines():
        if raw.strip() and not raw.lstrip().startswith(("#", ";")):
            specs.append(parse_register_line(raw))
    return specs


def spec_from_handler(
    handler: Handler, flags: str | None = None, interpreter: str = ""
) -> RegisterSpec:
    """The registration that recreates ``handler`` (optionally with other flags/interpreter)."""
    flags = handler.flags if flags is None else flags
    interpreter = interpreter or handler.interpreter
    if handler.extension:
        return RegisterSpec(handler.name, interpreter, flags, "E", extension=handler.extension)
    return RegisterSpec(
        handler.name, interpreter, flags, "M", handler.offset,
        bytes.fromhex(handler.magic), bytes.fromhex(handler.mask),
    )  # fmt: skip


def spec_for_platform(platform: Platform, interpreter: str, flags: str = "F") -> RegisterSpec:
    """The ``qemu-<arch>`` registration running ``platform``'s executables with ``interpreter``."""
    magic, mask = elf_magic(platform)
    return RegisterSpec(qemu_handler_name(platform), interpreter, flags, "M", 0, magic, mask)

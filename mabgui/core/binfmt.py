"""binfmt_misc as data: which interpreters (QEMU user emulators) the kernel runs foreign binaries with.

Reading is pure over a directory (``/proc/sys/fs/binfmt_misc`` or a recorded copy of it), so the
parser is tested on recorded handler files. The platform a handler serves is derived from the ELF
header its magic/mask matches (class, byte order, ``e_machine``), not from the handler's name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mabgui.core.platform import Platform

BINFMT_ROOT = Path("/proc/sys/fs/binfmt_misc")

# ELF e_machine -> (64-bit?, little-endian?) combinations to platforms.
# (e_machine, elfclass 1=32/2=64, data 1=LE/2=BE) -> platforms
_ELF_PLATFORMS: dict[tuple[int, int, int], tuple[str, ...]] = {
    (0x3E, 2, 1): ("linux/amd64",),
    (0x03, 1, 1): ("linux/386",),
    (0xB7, 2, 1): ("linux/arm64",),
    (0x28, 1, 1): ("linux/arm/v7", "linux/arm/v6"),
    (0xF3, 2, 1): ("linux/riscv64",),
    (0x15, 2, 1): ("linux/ppc64le",),
    (0x15, 2, 2): ("linux/ppc64",),
    (0x16, 2, 2): ("linux/s390x",),
    (0x08, 2, 1): ("linux/mips64le",),
    (0x08, 2, 2): ("linux/mips64",),
    (0x08, 1, 1): ("linux/mipsle",),
    (0x08, 1, 2): ("linux/mips",),
    (0x102, 2, 1): ("linux/loong64",),
}
_ELF_MAGIC = bytes.fromhex("7f454c46")


@dataclass(frozen=True)
class Handler:
    """One registered binfmt_misc handler (a file under the binfmt_misc mount)."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int = 0
    magic: str = ""
    mask: str = ""
    extension: str = ""
    platforms: tuple[Platform, ...] = ()

    @property
    def fix_binary(self) -> bool:
        """Flag F: the kernel opens the interpreter at registration, so it works in containers."""
        return "F" in self.flags

    @property
    def is_qemu(self) -> bool:
        return self.name.startswith("qemu-") or "qemu" in os.path.basename(self.interpreter)


@dataclass(frozen=True)
class BinfmtState:
    root: str
    mounted: bool
    writable: bool
    enabled: bool  # the global "status" switch
    handlers: list[Handler] = field(default_factory=list)

    def enabled_platforms(self) -> set[Platform]:
        return {p for h in self.handlers if h.enabled for p in h.platforms}


def platforms_from_magic(magic_hex: str, mask_hex: str = "", offset: int = 0) -> tuple[Platform, ...]:
    """Platforms whose ELF header matches a handler's magic under its mask."""
    if offset != 0 or not magic_hex:
        return ()
    try:
        magic = bytes.fromhex(magic_hex)
        mask = bytes.fromhex(mask_hex) if mask_hex else b"\xff" * len(magic)
    except ValueError:
        return ()
    if len(magic) < 20 or magic[:4] != _ELF_MAGIC:
        return ()
    mask = mask.ljust(len(magic), b"\xff")
    ei_class, ei_data = magic[4] & mask[4], magic[5] & mask[5]
    byteorder = "little" if ei_data == 1 else "big"
    e_machine = int.from_bytes(bytes(m & k for m, k in zip(magic[18:20], mask[18:20], strict=True)), byteorder)
    return tuple(Platform.parse(p) for p in _ELF_PLATFORMS.get((e_machine, ei_class, ei_data), ()))


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
    offset = int(fields.get("offset", "0") or 0)
    magic, mask = fields.get("magic", ""), fields.get("mask", "")
    return Handler(
        name=name,
        enabled=enabled,
        interpreter=fields.get("interpreter", ""),
        flags=fields.get("flags", ""),
        offset=offset,
        magic=magic,
        mask=mask,
        extension=fields.get("extension", ""),
        platforms=platforms_from_magic(magic, mask, offset),
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
        if entry.name in ("register", "status") or not entry.is_file():
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

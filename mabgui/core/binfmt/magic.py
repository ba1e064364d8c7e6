"""Which platform a handler serves, from the ELF header its magic matches, and the QEMU names.

The platform is derived from the ELF header a handler's magic/mask selects (class, byte order,
``e_machine``), not from its name; the name is only a fallback for QEMU handlers whose magic is
not an ELF header. The same tables give the magic to register for a platform and the name of
QEMU's user emulator for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Literal

from mabgui.core.binfmt.errors import BinfmtError
from mabgui.core.platform import Platform, PlatformError, parse_platform_list

# (e_machine, ELF class 1=32/2=64 bit, data 1=little/2=big endian) -> platforms
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
ELF_MAGIC = bytes.fromhex("7f454c46")

# OCI architecture -> the name QEMU gives its user emulator (qemu-<name>[-static]).
QEMU_ARCH: dict[str, str] = {
    "amd64": "x86_64",
    "386": "i386",
    "arm64": "aarch64",
    "arm": "arm",
    "riscv64": "riscv64",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "mips64le": "mips64el",
    "mips64": "mips64",
    "mipsle": "mipsel",
    "mips": "mips",
    "loong64": "loongarch64",
}
# Platforms offered by "Install emulators for…" (what `tonistiigi/binfmt --install` knows too).
INSTALLABLE_PLATFORMS: tuple[str, ...] = (
    "linux/arm64",
    "linux/arm/v7",
    "linux/riscv64",
    "linux/ppc64le",
    "linux/s390x",
    "linux/386",
    "linux/amd64",
    "linux/mips64le",
    "linux/mips64",
    "linux/loong64",
)
INTERPRETER_DIRS = ("/usr/bin", "/usr/local/bin")


def platforms_from_magic(
    magic_hex: str, mask_hex: str = "", offset: int = 0
) -> tuple[Platform, ...]:
    """Platforms whose ELF header matches a handler's magic under its mask."""
    if offset != 0 or not magic_hex:
        return ()
    try:
        magic = bytes.fromhex(magic_hex)
        mask = bytes.fromhex(mask_hex) if mask_hex else b"\xff" * len(magic)
    except ValueError:
        return ()
    if len(magic) < 20 or magic[:4] != ELF_MAGIC:
        return ()
    mask = mask.ljust(len(magic), b"\xff")
    ei_class, ei_data = magic[4] & mask[4], magic[5] & mask[5]
    byteorder: Literal["little", "big"] = "little" if ei_data == 1 else "big"
    e_machine = int.from_bytes(
        bytes(m & k for m, k in zip(magic[18:20], mask[18:20], strict=True)), byteorder
    )
    return tuple(Platform.parse(p) for p in _ELF_PLATFORMS.get((e_machine, ei_class, ei_data), ()))


def platforms_from_name(name: str) -> tuple[Platform, ...]:
    """Fallback for handlers whose magic is not an ELF header: ``qemu-aarch64`` → linux/arm64."""
    if not name.startswith("qemu-"):
        return ()
    arch = name[len("qemu-") :]
    for oci, qemu in QEMU_ARCH.items():
        if qemu == arch:
            return tuple(Platform.parse(p) for p in _platforms_of_arch(oci))
    return ()


def _platforms_of_arch(arch: str) -> tuple[str, ...]:
    for platforms in _ELF_PLATFORMS.values():
        if Platform.parse(platforms[0]).architecture == arch:
            return platforms
    return ()


def elf_magic(platform: Platform) -> tuple[bytes, bytes]:
    """The ELF header magic and mask that select executables (static and PIE) of ``platform``.

    Bytes: ``\\x7fELF``, class, data, version 1, OS ABI (masked out), padding, ``e_type`` 2 or 3
    (EXEC/DYN: the low bit masked out) and ``e_machine``, both in the platform's byte order.
    """
    for (machine, cls, data), platforms in _ELF_PLATFORMS.items():
        if any(Platform.parse(p).family == platform.family for p in platforms) or (
            platform.architecture == "arm" and machine == 0x28
        ):
            order: Literal["little", "big"] = "little" if data == 1 else "big"
            magic = (
                ELF_MAGIC + bytes([cls, data, 1, 0]) + bytes(8)
                + (2).to_bytes(2, order) + machine.to_bytes(2, order)
            )  # fmt: skip
            type_mask = b"\xfe\xff" if order == "little" else b"\xff\xfe"
            mask = b"\xff" * 7 + b"\x00" + b"\xff" * 8 + type_mask + b"\xff\xff"
            return magic, mask
    raise BinfmtError(f"no ELF machine is known for {platform}")


def qemu_handler_name(platform: Platform) -> str:
    """``qemu-<arch>``: the handler name QEMU's own binfmt.d files give ``platform``."""
    arch = QEMU_ARCH.get(platform.architecture)
    if arch is None:
        raise BinfmtError(f"QEMU has no user emulator for {platform}")
    return f"qemu-{arch}"


def find_host_interpreter(platform: Platform, dirs: Sequence[str] = INTERPRETER_DIRS) -> str | None:
    """The QEMU user emulator on this host for ``platform`` (``qemu-<arch>-static`` first)."""
    arch = QEMU_ARCH.get(platform.architecture)
    if arch is None:
        return None
    for d in dirs:
        for candidate in (f"qemu-{arch}-static", f"qemu-{arch}"):
            path = os.path.join(d, candidate)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None


def parse_platforms(items: Iterable[str]) -> list[Platform]:
    """User platform arguments (``arm64``, ``linux/arm/v7``, ``all``) → platforms, with errors.

    The list itself is read by :func:`mabgui.core.platform.parse_platform_list` (the one parser);
    here only ``all`` and "QEMU has an emulator for it" are added.
    """
    words = [part.strip() for item in items for part in item.split(",")]
    expanded = [p for w in words for p in (INSTALLABLE_PLATFORMS if w == "all" else (w,))]
    try:
        platforms = parse_platform_list(expanded)
    except PlatformError as exc:
        hint = f"e.g. {' '.join(INSTALLABLE_PLATFORMS[:3])}" if not any(words) else ""
        raise BinfmtError(str(exc), hint) from None
    for platform in platforms:
        if platform.architecture not in QEMU_ARCH:
            raise BinfmtError(
                f"{platform.architecture!r}: QEMU has no user emulator for {platform}",
                f"Known: {', '.join(INSTALLABLE_PLATFORMS)}",
            )
    return platforms

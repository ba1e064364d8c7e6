"""binfmt_misc as data: which interpreters (QEMU user emulators) run foreign binaries here.

Reading is pure over a directory (``/proc/sys/fs/binfmt_misc`` or a recorded copy of it), so the
parser is tested on recorded handler files. The platform a handler serves is derived from the ELF
header its magic/mask matches (class, byte order, ``e_machine``), not from the handler's name.

Changing handlers goes through a backend: :class:`LocalBinfmt` writes the kernel's files of this
host (Linux, as root), ``mabgui.core.binfmt.daemon.DaemonBinfmt`` does the same through a
privileged container of the Docker daemon (remote daemons, Docker Desktop's VM). Both say, before
anything runs, exactly what they will do (:meth:`LocalBinfmt.command_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mabgui.core import process
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform, PlatformError

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
VALID_FLAGS = "POCF"
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")
_RESERVED = frozenset({"register", "status"})
BINPRM_BUF_SIZE = 256  # the kernel reads this many bytes of a file to match magics against


class BinfmtError(MabguiError):
    """A binfmt_misc change that cannot be made; ``hint`` says why/how, ``command`` what to run
    by hand instead (for instance with sudo)."""

    def __init__(self, message: str, hint: str = "", command: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.command = command


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

    @property
    def kind(self) -> Literal["magic", "extension"]:
        return "extension" if self.extension else "magic"

    @property
    def match(self) -> str:
        """What the handler matches, for display: ``.ext`` or ``magic`` (with ``@offset``)."""
        if self.extension:
            return self.extension
        return self.magic + (f" @{self.offset}" if self.offset else "")

    def warnings(self) -> list[str]:
        """Problems worth telling the user about this handler."""
        out: list[str] = []
        if self.is_qemu and not self.fix_binary:
            out.append(
                "flag F (fix-binary) is missing: the interpreter is looked up inside each "
                "container, so builds of these platforms fail with 'exec format error' or "
                "'no such file'. Re-register it with F."
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "type": self.kind,
            "interpreter": self.interpreter,
            "flags": self.flags,
            "offset": self.offset,
            "magic": self.magic,
            "mask": self.mask,
            "extension": self.extension,
            "platforms": [str(p) for p in self.platforms],
            "qemu": self.is_qemu,
            "fix_binary": self.fix_binary,
            "warnings": self.warnings(),
        }


@dataclass(frozen=True)
class BinfmtState:
    root: str
    mounted: bool
    writable: bool
    enabled: bool  # the global "status" switch
    handlers: list[Handler] = field(default_factory=list)

    def enabled_platforms(self) -> set[Platform]:
        return {p for h in self.handlers if h.enabled for p in h.platforms}

    def handler(self, name: str) -> Handler | None:
        return next((h for h in self.handlers if h.name == name), None)

    def handlers_for(self, platform: Platform) -> list[Handler]:
        return [h for h in self.handlers if platform in h.platforms]

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "mounted": self.mounted,
            "writable": self.writable,
            "enabled": self.enabled,
            "handlers": [h.to_json() for h in self.handlers],
        }


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
    if len(magic) < 20 or magic[:4] != _ELF_MAGIC:
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


DUMP_MARK = "@@@mabgui-binfmt "


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
        if name not in _RESERVED
    ]
    return BinfmtState(root, mounted=True, writable=writable, enabled=status == "enabled",
                       handlers=handlers)  # fmt: skip


# A POSIX sh script listing every file of the binfmt_misc mount given as $1 (busybox sh is enough).
DUMP_SCRIPT = (
    'cd "$1" || exit 3; for f in *; do [ -e "$f" ] || continue; '
    f'echo "{DUMP_MARK}$f"; [ "$f" = register ] || cat "$f"; done'
)


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
        if not _NAME_RE.match(self.name) or self.name in _RESERVED:
            raise BinfmtError(
                f"{self.name!r} is not a valid handler name",
                "Use letters, digits, '.', '_', '+' or '-' (no '/' or ':'), at most 64 characters.",
            )
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
                _ELF_MAGIC + bytes([cls, data, 1, 0]) + bytes(8)
                + (2).to_bytes(2, order) + machine.to_bytes(2, order)
            )  # fmt: skip
            type_mask = b"\xfe\xff" if order == "little" else b"\xff\xfe"
            mask = b"\xff" * 7 + b"\x00" + b"\xff" * 8 + type_mask + b"\xff\xff"
            return magic, mask
    raise BinfmtError(f"no ELF machine is known for {platform}")


def qemu_handler_name(platform: Platform) -> str:
    arch = QEMU_ARCH.get(platform.architecture)
    if arch is None:
        raise BinfmtError(f"QEMU has no user emulator for {platform}")
    return f"qemu-{arch}"


INTERPRETER_DIRS = ("/usr/bin", "/usr/local/bin")


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


def spec_for_platform(platform: Platform, interpreter: str, flags: str = "F") -> RegisterSpec:
    """The ``qemu-<arch>`` registration running ``platform``'s executables with ``interpreter``."""
    magic, mask = elf_magic(platform)
    return RegisterSpec(qemu_handler_name(platform), interpreter, flags, "M", 0, magic, mask)


def parse_platforms(items: Iterable[str]) -> list[Platform]:
    """User platform arguments (``arm64``, ``linux/arm/v7``, ``all``) → platforms, with errors."""
    out: dict[Platform, None] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if part == "all":
                for p in INSTALLABLE_PLATFORMS:
                    out.setdefault(Platform.parse(p), None)
                continue
            try:
                platform = Platform.parse(part)
            except PlatformError as exc:
                raise BinfmtError(str(exc)) from None
            if platform.architecture not in QEMU_ARCH:
                raise BinfmtError(
                    f"{part!r}: QEMU has no user emulator for {platform}",
                    f"Known: {', '.join(INSTALLABLE_PLATFORMS)}",
                )
            out.setdefault(platform, None)
    if not out:
        raise BinfmtError("no platform given", f"e.g. {' '.join(INSTALLABLE_PLATFORMS[:3])}")
    return list(out)


# --- backends ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallResult:
    """What an install/uninstall changed, and the state afterwards."""

    installed: list[str]
    removed: list[str]
    state: BinfmtState
    output: str = ""
    already: list[str] = field(default_factory=list)  # handlers that were there and enabled


class Backend(Protocol):
    """Where handlers are read and changed: this host's kernel, or the Docker daemon's."""

    kind: str

    def describe(self) -> str: ...

    def command_for(self, action: str, target: str = "") -> str: ...

    async def read(self) -> BinfmtState: ...

    async def set_enabled(self, name: str, enabled: bool) -> Handler: ...

    async def remove(self, name: str) -> None: ...

    async def install(self, platforms: Sequence[Platform]) -> InstallResult: ...

    async def uninstall(self, names: Sequence[str]) -> InstallResult: ...


REMOVE_ALL_CONFIRMATION = "remove every handler"


class LocalBinfmt:
    """binfmt_misc of this host, written directly (Linux; needs root or CAP_SYS_ADMIN)."""

    kind = "local"

    def __init__(
        self,
        root: str | os.PathLike[str] = BINFMT_ROOT,
        flags: str = "F",
        interpreter_dirs: Sequence[str] = INTERPRETER_DIRS,
    ) -> None:
        self.root = Path(root)
        self.flags = flags
        self.interpreter_dirs = tuple(interpreter_dirs)

    def describe(self) -> str:
        return f"this host's kernel ({self.root})"

    # What runs, in shell terms, for the confirmation dialogs and the no-privilege messages.
    def command_for(self, action: str, target: str = "") -> str:
        root = self.root
        if action in ("enable", "disable", "remove"):
            value = {"enable": "1", "disable": "0", "remove": "-1"}[action]
            return f"echo {value} | sudo tee {root / target}"
        if action == "register":
            return f"echo '{target}' | sudo tee {root / 'register'}"
        if action == "mount":
            return f"sudo mount -t binfmt_misc binfmt_misc {root}"
        if action == "remove-all":
            return f"echo -1 | sudo tee {root / 'status'}"
        if action in ("global-on", "global-off"):
            return f"echo {1 if action == 'global-on' else 0} | sudo tee {root / 'status'}"
        if action == "install":
            lines = []
            for p in parse_platforms(target.split()):
                interp = (
                    find_host_interpreter(p, self.interpreter_dirs)
                    or f"/usr/bin/qemu-{QEMU_ARCH[p.architecture]}-static"
                )
                lines.append(
                    self.command_for("register", spec_for_platform(p, interp, self.flags).line())
                )
            return "\n".join(lines)
        if action == "reregister":  # target: "NAME FLAGS"
            name, _, flags = target.partition(" ")
            handler = read_state(self.root).handler(name)
            if handler is None:
                raise BinfmtError(f"no handler named {name!r}")
            line = spec_from_handler(handler, flags=flags).line()
            return f"{self.command_for('remove', name)}\n{self.command_for('register', line)}"
        if action == "uninstall":
            return "\n".join(self.command_for("remove", n) for n in target.split())
        raise ValueError(f"unknown action {action!r}")

    async def read(self) -> BinfmtState:
        return await asyncio.to_thread(read_state, self.root)

    def _write(self, path: Path, value: str, action: str, target: str) -> None:
        try:
            with open(path, "w") as fh:
                fh.write(value)
        except PermissionError:
            raise BinfmtError(
                f"permission denied writing {path}: changing binfmt_misc needs root",
                "Run mabgui as root, run the command below by hand, or use the Docker daemon "
                "backend (a privileged container).",
                self.command_for(action, target),
            ) from None
        except FileNotFoundError:
            raise BinfmtError(
                f"{path} does not exist: no handler named {target!r}"
                if action != "register"
                else f"binfmt_misc is not mounted at {self.root}",
                command=self.command_for("mount") if action == "register" else "",
            ) from None
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise BinfmtError(
                    f"a handler with that name is already registered ({exc.strerror})",
                    "Remove it first (mabgui emulators remove NAME).",
                ) from None
            if exc.errno == errno.ENOENT:
                raise BinfmtError(
                    "the kernel could not open the interpreter (flag F opens it now): "
                    f"{exc.strerror}"
                ) from None
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise BinfmtError(
                    f"{path} is not writable here ({exc.strerror})",
                    "In a container, binfmt_misc is read-only unless it runs --privileged.",
                    self.command_for(action, target),
                ) from None
            raise BinfmtError(
                f"writing {value!r} to {path} failed: {exc.strerror or exc}"
            ) from None

    def _not_mounted(self) -> BinfmtError:
        return BinfmtError(
            f"binfmt_misc is not mounted at {self.root}",
            "Mount it first (mabgui emulators mount).",
            self.command_for("mount"),
        )

    def _require_handler(self, name: str) -> Handler:
        state = read_state(self.root)
        if not state.mounted:
            raise self._not_mounted()
        handler = state.handler(name)
        if handler is None or "/" in name or name in _RESERVED:
            known = ", ".join(h.name for h in state.handlers) or "none"
            raise BinfmtError(f"no handler named {name!r}", f"Registered handlers: {known}.")
        return handler

    def _set_enabled(self, name: str, enabled: bool) -> Handler:
        self._require_handler(name)
        action = "enable" if enabled else "disable"
        self._write(self.root / name, "1" if enabled else "0", action, name)
        after = self._require_handler(name)
        if after.enabled != enabled:
            raise BinfmtError(f"the kernel did not {action} {name}: it still reads "
                              f"{'enabled' if after.enabled else 'disabled'}")  # fmt: skip
        return after

    async def set_enabled(self, name: str, enabled: bool) -> Handler:
        """Write 1 (enable) or 0 (disable) to the handler's file and read it back."""
        return await asyncio.to_thread(self._set_enabled, name, enabled)

    def _remove(self, name: str) -> None:
        self._require_handler(name)
        self._write(self.root / name, "-1", "remove", name)
        if (self.root / name).exists():
            raise BinfmtError(f"the kernel did not remove {name}")

    async def remove(self, name: str) -> None:
        """Unregister the handler (``-1`` to its file)."""
        await asyncio.to_thread(self._remove, name)

    def _register(self, spec: RegisterSpec) -> Handler:
        line = spec.line()
        state = read_state(self.root)
        if not state.mounted:
            raise self._not_mounted()
        if state.handler(spec.name) is not None:
            raise BinfmtError(
                f"a handler named {spec.name} is already registered",
                f"Remove it first: mabgui emulators remove {spec.name}",
            )
        if "F" in spec.flags and not os.path.exists(spec.interpreter):
            raise BinfmtError(f"the interpreter {spec.interpreter} does not exist on this host")
        self._write(self.root / "register", line, "register", line)
        handler = read_state(self.root).handler(spec.name)
        if handler is None:
            raise BinfmtError(f"the kernel accepted the line but {spec.name} did not appear")
        return handler

    async def register(self, spec: RegisterSpec) -> Handler:
        """Write a registration line to ``register`` and read the new handler back."""
        return await asyncio.to_thread(self._register, spec)

    def _reregister(self, name: str, flags: str) -> Handler:
        old = self._require_handler(name)
        spec = spec_from_handler(old, flags=flags)
        spec.validate()
        if "F" in flags and not os.path.exists(spec.interpreter):
            raise BinfmtError(f"the interpreter {spec.interpreter} does not exist on this host")
        self._remove(name)
        try:
            new = self._register(spec)
        except BinfmtError:
            with contextlib.suppress(BinfmtError):  # put the old registration back
                self._register(spec_from_handler(old))
            raise
        if not old.enabled:
            new = self._set_enabled(name, False)
        return new

    async def reregister(self, name: str, flags: str) -> Handler:
        """Register ``name`` again, same magic and interpreter, with other flags (e.g. add F);
        the old registration is restored if the new one fails."""
        return await asyncio.to_thread(self._reregister, name, flags)

    def plan_install(
        self, platforms: Sequence[Platform], already: list[str] | None = None
    ) -> list[RegisterSpec]:
        """The registrations ``install`` would make; raises before anything is written when one
        cannot be made (no interpreter on the host, registered but disabled, not writable).
        Platforms an enabled handler already serves are skipped (their names go to ``already``)."""
        state = read_state(self.root)
        if not state.mounted:
            raise self._not_mounted()
        specs: list[RegisterSpec] = []
        missing: list[str] = []
        for platform in platforms:
            name = qemu_handler_name(platform)
            if any(s.name == name for s in specs):
                continue  # arm/v6 and arm/v7 share qemu-arm
            existing = state.handler(name) or next(
                (h for h in state.handlers if platform in h.platforms), None
            )
            if existing is not None and existing.enabled:
                if already is not None and existing.name not in already:
                    already.append(existing.name)
                continue
            if existing is not None:
                raise BinfmtError(
                    f"{platform} already has a handler, disabled: {existing.name}",
                    f"Enable it (mabgui emulators enable {existing.name}), or remove it first.",
                )
            interpreter = find_host_interpreter(platform, self.interpreter_dirs)
            if interpreter is None:
                missing.append(f"qemu-{QEMU_ARCH[platform.architecture]}-static")
                continue
            specs.append(spec_for_platform(platform, interpreter, self.flags))
        if missing:
            raise BinfmtError(
                f"no QEMU user emulator on this host for: {', '.join(missing)}",
                "Install them (Debian/Ubuntu: apt-get install qemu-user-static), or use the "
                "Docker daemon backend, which runs the tonistiigi/binfmt installer image.",
            )
        if not state.writable:
            raise BinfmtError(
                f"{self.root / 'register'} is not writable: registering emulators needs root",
                "Run these commands by hand, or use the Docker daemon backend.",
                "\n".join(self.command_for("register", s.line()) for s in specs),
            )
        return specs

    def _install(self, platforms: Sequence[Platform]) -> InstallResult:
        already: list[str] = []
        specs = self.plan_install(platforms, already)
        done: list[str] = []
        try:
            for spec in specs:
                self._register(spec)
                done.append(spec.name)
        except BinfmtError:
            for name in done:  # nothing half-done: undo what this call registered
                with contextlib.suppress(BinfmtError):
                    self._write(self.root / name, "-1", "remove", name)
            raise
        return InstallResult(done, [], read_state(self.root), already=already)

    async def install(self, platforms: Sequence[Platform]) -> InstallResult:
        """Register ``qemu-<arch>`` handlers from the host's QEMU user emulators (flag F)."""
        return await asyncio.to_thread(self._install, list(platforms))

    def _uninstall(self, names: Sequence[str]) -> InstallResult:
        for name in names:
            self._require_handler(name)
        for name in names:
            self._remove(name)
        return InstallResult([], list(names), read_state(self.root))

    async def uninstall(self, names: Sequence[str]) -> InstallResult:
        return await asyncio.to_thread(self._uninstall, list(names))

    async def set_global(self, enabled: bool) -> BinfmtState:
        """The global switch: 1 turns every handler on, 0 off (they stay registered)."""
        action = "global-on" if enabled else "global-off"
        await asyncio.to_thread(
            self._write, self.root / "status", "1" if enabled else "0", action, ""
        )
        return await self.read()

    async def remove_all(self, confirmation: str) -> BinfmtState:
        """Unregister EVERY handler (``-1`` to ``status``). ``confirmation`` must be exactly
        :data:`REMOVE_ALL_CONFIRMATION`: nothing is written otherwise."""
        if confirmation != REMOVE_ALL_CONFIRMATION:
            raise BinfmtError(
                "removing every handler needs an explicit confirmation",
                f"Pass the confirmation {REMOVE_ALL_CONFIRMATION!r}.",
            )
        await asyncio.to_thread(self._write, self.root / "status", "-1", "remove-all", "")
        return await self.read()

    async def mount(self) -> BinfmtState:
        """Mount binfmt_misc at the root when it is not (``mount -t binfmt_misc``)."""
        state = await self.read()
        if state.mounted:
            return state
        try:
            mount = process.which("mount")
        except process.CommandNotFound:
            raise BinfmtError(
                "the mount command was not found", command=self.command_for("mount")
            ) from None
        res = await process.run(
            [mount, "-t", "binfmt_misc", "binfmt_misc", str(self.root)], timeout=15
        )
        if not res.ok:
            raise BinfmtError(f"mounting binfmt_misc failed: {res.message()}",
                              "Mounting needs root.", self.command_for("mount"))  # fmt: skip
        return await self.read()


def local_available(root: str | os.PathLike[str] = BINFMT_ROOT) -> bool:
    """True on Linux when this host's binfmt_misc is the one builds use (and may be read)."""
    return sys.platform.startswith("linux") and Path(root).parent.exists()

"""What binfmt_misc holds, as plain data: handlers, the state of a mount, what a change did, and
the interface every backend (this host's kernel, the Docker daemon's) offers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mabgui.core.platform import Platform

BINFMT_ROOT = Path("/proc/sys/fs/binfmt_misc")


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
    """One binfmt_misc mount: whether it is there and writable, its global switch, handlers."""

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

    def with_handler(self, handler: Handler) -> BinfmtState:
        """This state with ``handler`` replacing the one of the same name (after a toggle)."""
        handlers = [handler if h.name == handler.name else h for h in self.handlers]
        return BinfmtState(self.root, self.mounted, self.writable, self.enabled, handlers)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "mounted": self.mounted,
            "writable": self.writable,
            "enabled": self.enabled,
            "handlers": [h.to_json() for h in self.handlers],
        }


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

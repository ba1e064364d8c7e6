"""binfmt_misc of this host, written directly (Linux; needs root or CAP_SYS_ADMIN).

Every change is a write to one of the kernel's files (a handler's file, ``register``, ``status``);
each is logged (``binfmt`` logger) with what was written and the outcome. Before anything runs,
:meth:`LocalBinfmt.command_for` says the shell equivalent, for confirmations and for the user
without the privileges.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mabgui.core import log, process
from mabgui.core.binfmt.errors import BinfmtError, check_handler_name
from mabgui.core.binfmt.magic import (
    INTERPRETER_DIRS,
    QEMU_ARCH,
    find_host_interpreter,
    parse_platforms,
    qemu_handler_name,
)
from mabgui.core.binfmt.model import BINFMT_ROOT, BinfmtState, Handler, InstallResult
from mabgui.core.binfmt.parse import (
    RegisterSpec,
    read_state,
    spec_for_platform,
    spec_from_handler,
)
from mabgui.core.platform import Platform

REMOVE_ALL_CONFIRMATION = "remove every handler"
_log = log.get("binfmt")


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
            return f"echo {value} | sudo tee {root / check_handler_name(target)}"
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
            handler = read_state(self.root).handler(check_handler_name(name))
            if handler is None:
                raise BinfmtError(f"no handler named {name!r}")
            line = spec_from_handler(handler, flags=flags).line()
            return f"{self.command_for('remove', name)}\n{self.command_for('register', line)}"
        if action == "uninstall":
            return "\n".join(self.command_for("remove", n) for n in target.split())
        raise ValueError(f"unknown action {action!r}")

    async def read(self) -> BinfmtState:
        return await asyncio.to_thread(read_state, self.root)

    def write_file(self, path: Path, value: str) -> None:
        """The one raw write to the kernel's files (a test replaces it with the kernel's
        behaviour over recorded files)."""
        with open(path, "w") as fh:
            fh.write(value)

    def _write(self, path: Path, value: str, action: str, target: str, subject: str = "") -> None:
        """Write ``value`` to one of the kernel's files; log it and its outcome. ``target`` is
        what :meth:`command_for` takes, ``subject`` the handler named in the log."""
        subject = subject or target or "-"
        _log.info("%s %s: writing %r to %s", action, subject, value, path)
        try:
            self.write_file(path, value)
        except OSError as exc:
            error = self._write_error(exc, path, value, action, target)
            _log.warning("%s %s: %s", action, subject, error)
            raise error from None
        _log.info("%s %s: the kernel accepted the write to %s", action, subject, path)

    def _write_error(
        self, exc: OSError, path: Path, value: str, action: str, target: str
    ) -> BinfmtError:
        if isinstance(exc, PermissionError):
            return BinfmtError(
                f"permission denied writing {path}: changing binfmt_misc needs root",
                "Run mabgui as root, run the command below by hand, or use the Docker daemon "
                "backend (a privileged container).",
                self.command_for(action, target),
            )
        if isinstance(exc, FileNotFoundError):
            if action == "register":
                return BinfmtError(
                    f"binfmt_misc is not mounted at {self.root}", command=self.command_for("mount")
                )
            return BinfmtError(f"{path} does not exist: no handler named {target!r}")
        if exc.errno == errno.EEXIST:
            return BinfmtError(
                f"a handler with that name is already registered ({exc.strerror})",
                "Remove it first (mabgui emulators remove NAME).",
            )
        if exc.errno == errno.ENOENT:
            return BinfmtError(
                f"the kernel could not open the interpreter (flag F opens it now): {exc.strerror}"
            )
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return BinfmtError(
                f"{path} is not writable here ({exc.strerror})",
                "In a container, binfmt_misc is read-only unless it runs --privileged.",
                self.command_for(action, target),
            )
        return BinfmtError(f"writing {value!r} to {path} failed: {exc.strerror or exc}")

    def _not_mounted(self) -> BinfmtError:
        return BinfmtError(
            f"binfmt_misc is not mounted at {self.root}",
            "Mount it first (mabgui emulators mount).",
            self.command_for("mount"),
        )

    def _require_handler(self, name: str) -> Handler:
        check_handler_name(name)
        state = read_state(self.root)
        if not state.mounted:
            raise self._not_mounted()
        handler = state.handler(name)
        if handler is None:
            known = ", ".join(h.name for h in state.handlers) or "none"
            raise BinfmtError(f"no handler named {name!r}", f"Registered handlers: {known}.")
        return handler

    def _set_enabled(self, name: str, enabled: bool) -> Handler:
        self._require_handler(name)
        action = "enable" if enabled else "disable"
        self._write(self.root / name, "1" if enabled else "0", action, name)
        after = self._require_handler(name)
        if after.enabled != enabled:
            state = "enabled" if after.enabled else "disabled"
            _log.warning("%s %s: the handler still reads %s", action, name, state)
            raise BinfmtError(f"the kernel did not {action} {name}: it still reads {state}")
        _log.info("%s %s: done, the handler reads %s", action, name, action + "d")
        return after

    async def set_enabled(self, name: str, enabled: bool) -> Handler:
        """Write 1 (enable) or 0 (disable) to the handler's file and read it back."""
        return await asyncio.to_thread(self._set_enabled, name, enabled)

    def _remove(self, name: str) -> None:
        self._require_handler(name)
        self._write(self.root / name, "-1", "remove", name)
        if (self.root / name).exists():
            _log.warning("remove %s: the handler is still there", name)
            raise BinfmtError(f"the kernel did not remove {name}")
        _log.info("remove %s: done, the handler is gone", name)

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
        self._write(self.root / "register", line, "register", line, spec.name)
        handler = read_state(self.root).handler(spec.name)
        if handler is None:
            _log.warning("register %s: the handler did not appear", spec.name)
            raise BinfmtError(f"the kernel accepted the line but {spec.name} did not appear")
        _log.info("register %s: done (%s, flags %s, %s)", spec.name, handler.interpreter,
                  handler.flags, "enabled" if handler.enabled else "disabled")  # fmt: skip
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
            _log.warning("reregister %s: restoring the old registration", name)
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
            if done:
                _log.warning("install: undoing the registration of %s", ", ".join(done))
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
        state = await self.read()
        _log.info("remove-all: done, %d handlers left", len(state.handlers))
        return state

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
        _log.info("mount: mounting binfmt_misc at %s", self.root)
        res = await process.run(
            [mount, "-t", "binfmt_misc", "binfmt_misc", str(self.root)], timeout=15
        )
        if not res.ok:
            _log.warning("mount: failed: %s", res.message())
            raise BinfmtError(f"mounting binfmt_misc failed: {res.message()}",
                              "Mounting needs root.", self.command_for("mount"))  # fmt: skip
        return await self.read()


def local_available(root: str | os.PathLike[str] = BINFMT_ROOT) -> bool:
    """True on Linux when this host's binfmt_misc is the one builds use (and may be read)."""
    return sys.platform.startswith("linux") and Path(root).parent.exists()

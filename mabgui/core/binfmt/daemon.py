"""binfmt_misc of the Docker daemon's kernel, changed through privileged containers.

For remote daemons and Docker Desktop (macOS/Windows), binfmt_misc lives in another machine or a
VM: mabgui cannot write it directly, but a ``--privileged`` container on that daemon can.

- read / enable / disable / remove: a small image with a POSIX shell (busybox), bind-mounting
  ``/proc/sys/fs/binfmt_misc`` (the image is a setting: :attr:`DaemonBinfmt.shell_image`);
- install / uninstall: the ``tonistiigi/binfmt`` installer (``--install ARCHS``, ``--uninstall
  qemu-*``), which prints ``{"supported": [...], "emulators": [...]}`` on stdout (also a setting).

Every docker SDK call runs in a worker thread. A cancelled action kills its container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mabgui.core import engine, log
from mabgui.core.binfmt.errors import BinfmtError, check_handler_name
from mabgui.core.binfmt.magic import QEMU_ARCH
from mabgui.core.binfmt.model import BINFMT_ROOT, BinfmtState, Handler, InstallResult
from mabgui.core.binfmt.parse import DUMP_SCRIPT, parse_dump, parse_handler
from mabgui.core.platform import Platform

DEFAULT_SHELL_IMAGE = "busybox:latest"
DEFAULT_INSTALLER_IMAGE = "tonistiigi/binfmt:latest"
HOST_BINFMT = str(BINFMT_ROOT)
MOUNT_POINT = "/binfmt_misc"
CONTAINER_TIMEOUT_S = 120.0
_log = log.get("binfmt")

# Writes VALUE ($2) to the handler NAME ($1) under the mount ($3) and prints the file back.
_WRITE_SCRIPT = (
    'f="$3/$1"; [ -e "$f" ] || { echo "no handler named $1" >&2; exit 4; }; '
    'echo "$2" > "$f" || exit 5; [ -e "$f" ] && cat "$f"; exit 0'
)


@dataclass(frozen=True)
class InstallerStatus:
    """``tonistiigi/binfmt``'s JSON: platforms the daemon's kernel runs, registered handlers."""

    supported: list[Platform]
    emulators: list[str]


def parse_installer_status(text: str) -> InstallerStatus:
    """Parse the installer's stdout; it may print ``installing: arm64 OK`` lines around the JSON,
    and ``emulators`` is ``null`` when none is registered."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise BinfmtError(
            "the installer printed no JSON status",
            f"Its output was: {text.strip()[:300] or '(nothing)'}",
        )
    try:
        data = json.loads(text[start : end + 1])
    except ValueError as exc:
        raise BinfmtError(f"the installer's status is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BinfmtError("the installer's status is not a JSON object")
    supported: list[Platform] = []
    for item in data.get("supported") or []:
        p = Platform.try_parse(str(item))
        if p is not None and p not in supported:
            supported.append(p)
    return InstallerStatus(supported, [str(e) for e in data.get("emulators") or []])


def installer_args(action: str, targets: Sequence[str]) -> list[str]:
    """``--install arm64,riscv64`` / ``--uninstall qemu-aarch64,qemu-riscv64``."""
    return [f"--{action}", ",".join(targets)] if targets else []


def installer_arch(platform: Platform) -> str:
    """The name ``tonistiigi/binfmt --install`` takes for a platform (``arm64``, ``arm``...)."""
    if platform.architecture not in QEMU_ARCH:
        raise BinfmtError(f"no QEMU emulator exists for {platform}")
    return platform.architecture


def _pull_error(exc: BaseException, image: str, role: str) -> BinfmtError:
    detail = getattr(exc, "explanation", None) or str(exc)
    return BinfmtError(
        f"the {role} image {image} is not on the Docker daemon and cannot be pulled: {detail}",
        f"The {role} image is a setting: pick one the daemon has or can pull (for instance a "
        f"copy pushed to your own registry), or run `docker pull {image}` where the network "
        "allows, then retry.",
    )


def _docker_error(exc: BaseException, image: str, role: str) -> BinfmtError:
    """A clear error for what the SDK raised while running ``image``."""
    from docker import errors

    if isinstance(exc, errors.ImageNotFound):
        return _pull_error(exc, image, role)
    if isinstance(exc, errors.APIError):
        detail = exc.explanation or str(exc)
        hint = ""
        if "privileged" in str(detail).lower() or "rootless" in str(detail).lower():
            hint = (
                "This daemon refuses privileged containers (rootless Docker?): change "
                "binfmt_misc on the daemon's host instead."
            )
        return BinfmtError(f"the Docker daemon refused to run {image}: {detail}", hint)
    if isinstance(exc, errors.DockerException):
        return BinfmtError(f"Docker error while running {image}: {exc}")
    if isinstance(exc, OSError):
        return BinfmtError(
            f"Docker is not reachable: {exc}",
            "Start the Docker daemon or pick another context (docker context use NAME).",
        )
    return BinfmtError(f"running {image} failed: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class ContainerRun:
    image: str
    command: list[str]
    exit_code: int
    stdout: str
    stderr: str


class DaemonBinfmt:
    """binfmt_misc of the daemon's kernel, through privileged containers."""

    kind = "daemon"

    def __init__(
        self,
        shell_image: str = DEFAULT_SHELL_IMAGE,
        installer_image: str = DEFAULT_INSTALLER_IMAGE,
        context: engine.DockerContext | None = None,
        timeout: float = CONTAINER_TIMEOUT_S,
    ) -> None:
        self.shell_image = shell_image
        self.installer_image = installer_image
        self.context = context
        self.timeout = timeout

    def describe(self) -> str:
        where = self.context.name if self.context is not None else "the current context"
        return f"the Docker daemon's kernel ({where}), through privileged containers"

    def _docker_run(self, image: str, args: Sequence[str], mount: bool) -> str:
        volume = f"-v {HOST_BINFMT}:{MOUNT_POINT} " if mount else ""
        return f"docker run --rm --privileged {volume}{image} {shlex.join(args)}".strip()

    def _shell(self, script: str, *args: str) -> list[str]:
        return ["sh", "-c", script, "sh", *args]

    def command_for(self, action: str, target: str = "") -> str:
        """The ``docker run`` equivalent of an action, for confirmations and error messages."""
        if action in ("enable", "disable", "remove"):
            value = {"enable": "1", "disable": "0", "remove": "-1"}[action]
            return self._docker_run(
                self.shell_image,
                ["sh", "-c", f"echo {value} > {MOUNT_POINT}/{check_handler_name(target)}"],
                True,
            )
        if action == "read":
            return self._docker_run(self.shell_image, ["sh", "-c", f"cat {MOUNT_POINT}/*"], True)
        if action == "install":
            archs = [installer_arch(Platform.parse(p)) for p in target.split()]
            return self._docker_run(self.installer_image, installer_args("install", archs), False)
        if action == "uninstall":
            names = [check_handler_name(n) for n in target.split()]
            return self._docker_run(self.installer_image, installer_args("uninstall", names), False)
        raise ValueError(f"unknown action {action!r}")

    # --- container plumbing (worker threads) ---------------------------------------------------
    def _run_blocking(
        self, image: str, command: list[str], mount: bool, holder: dict[str, Any]
    ) -> ContainerRun:
        from docker import errors

        try:
            client = engine.docker_client(self.context, timeout=self.timeout)
        except engine.EngineError as exc:
            raise BinfmtError(str(exc), exc.hint) from None
        except Exception as exc:
            raise _docker_error(exc, image, "helper") from None
        role = "helper" if image == self.shell_image else "installer"
        volumes = {HOST_BINFMT: {"bind": MOUNT_POINT, "mode": "rw"}} if mount else None
        kwargs: dict[str, Any] = {
            "command": command,
            "privileged": True,
            "volumes": volumes,
            "labels": {"org.mabgui.role": "binfmt"},
            "network_disabled": True,
        }
        try:
            try:
                container = client.containers.create(image, **kwargs)
            except errors.ImageNotFound:
                try:
                    client.images.pull(image)
                except Exception as exc:
                    raise _pull_error(exc, image, role) from None
                container = client.containers.create(image, **kwargs)
            holder["container"] = container
            try:
                container.start()
                result = container.wait(timeout=self.timeout)
                stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
                stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
            finally:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
        except BinfmtError:
            raise
        except Exception as exc:
            raise _docker_error(exc, image, role) from None
        finally:
            client.close()
        return ContainerRun(image, command, int(result.get("StatusCode", -1)), stdout, stderr)

    async def _run(self, image: str, command: list[str], mount: bool) -> ContainerRun:
        holder: dict[str, Any] = {}
        task = asyncio.ensure_future(
            asyncio.to_thread(self._run_blocking, image, command, mount, holder)
        )
        # After a cancel the thread still finishes (with an error once its container is gone):
        # retrieve that result so asyncio does not log it as never retrieved.
        task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            container = holder.get("container")
            if container is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(container.remove, force=True)
            raise

    # --- actions ---------------------------------------------------------------------------------
    async def read(self) -> BinfmtState:
        run = await self._run(self.shell_image, self._shell(DUMP_SCRIPT, MOUNT_POINT), True)
        if run.exit_code != 0:
            raise BinfmtError(
                f"reading binfmt_misc in a container of {self.shell_image} failed "
                f"(exit {run.exit_code}): {run.stderr.strip() or run.stdout.strip()}",
                "The helper image needs a POSIX shell (busybox, alpine...).",
            )
        return parse_dump(run.stdout, f"{HOST_BINFMT} (Docker daemon)", writable=True)

    async def _write(self, name: str, value: str, action: str) -> str:
        """Write ``value`` to the handler's file in a container; log it and its outcome."""
        check_handler_name(name)
        _log.info("%s %s: writing %r through a container of %s", action, name, value,
                  self.shell_image)  # fmt: skip
        try:
            run = await self._run(
                self.shell_image, self._shell(_WRITE_SCRIPT, name, value, MOUNT_POINT), True
            )
        except BinfmtError as exc:
            _log.warning("%s %s: failed: %s", action, name, exc)
            raise
        if run.exit_code == 4:
            _log.warning("%s %s: no such handler on the daemon's kernel", action, name)
            raise BinfmtError(f"no handler named {name!r} on the Docker daemon's kernel")
        if run.exit_code != 0:
            detail = run.stderr.strip() or run.stdout.strip()
            _log.warning("%s %s: exit %d: %s", action, name, run.exit_code, detail)
            raise BinfmtError(
                f"could not {action} {name} through {self.shell_image} (exit {run.exit_code}): "
                f"{detail}",
                command=self.command_for(action, name),
            )
        _log.info("%s %s: the container wrote it (exit 0)", action, name)
        return run.stdout

    async def set_enabled(self, name: str, enabled: bool) -> Handler:
        action = "enable" if enabled else "disable"
        out = await self._write(name, "1" if enabled else "0", action)
        handler = parse_handler(name, out)
        if handler.enabled != enabled:
            _log.warning("%s %s: the handler still reads %s", action, name,
                         "enabled" if handler.enabled else "disabled")  # fmt: skip
            raise BinfmtError(f"the daemon's kernel did not {action} {name}")
        _log.info("%s %s: done, the handler reads %sd", action, name, action)
        return handler

    async def remove(self, name: str) -> None:
        out = await self._write(name, "-1", "remove")
        if out.strip():
            _log.warning("remove %s: the handler is still there", name)
            raise BinfmtError(f"the daemon's kernel did not remove {name}")
        _log.info("remove %s: done, the handler is gone", name)

    async def _installer(self, action: str, targets: list[str]) -> InstallResult:
        before = {h.name for h in (await self.read()).handlers}
        _log.info("%s %s: running %s", action, ",".join(targets), self.installer_image)
        try:
            run = await self._run(self.installer_image, installer_args(action, targets), False)
        except BinfmtError as exc:
            _log.warning("%s %s: failed: %s", action, ",".join(targets), exc)
            raise
        if run.exit_code != 0:
            detail = (run.stderr.strip() or run.stdout.strip())[:500]
            _log.warning("%s %s: the installer exited %d: %s", action, ",".join(targets),
                         run.exit_code, detail)  # fmt: skip
            raise BinfmtError(
                f"{self.installer_image} --{action} {','.join(targets)} failed "
                f"(exit {run.exit_code}): {detail}",
                command=self.command_for(action, " ".join(targets)),
            )
        status = parse_installer_status(run.stdout)
        state = await self.read()
        output = (run.stderr + run.stdout).strip()
        after = {h.name for h in state.handlers} | set(status.emulators)
        if action == "install":
            installed = sorted(after - before)
            _log.info("install: done, new handlers: %s", ", ".join(installed) or "none")
            return InstallResult(installed, [], state, output)
        removed = [t for t in targets if t in before and t not in after]
        _log.info("uninstall: done, removed: %s", ", ".join(removed) or "none")
        return InstallResult([], removed, state, output)

    async def install(self, platforms: Sequence[Platform]) -> InstallResult:
        """``tonistiigi/binfmt --install arm64,…`` in a privileged container."""
        archs = list(dict.fromkeys(installer_arch(p) for p in platforms))
        if not archs:
            raise BinfmtError("no platform given")
        return await self._installer("install", archs)

    async def uninstall(self, names: Sequence[str]) -> InstallResult:
        """``tonistiigi/binfmt --uninstall qemu-aarch64,…`` in a privileged container."""
        for name in names:
            check_handler_name(name)
        return await self._installer("uninstall", list(names))

"""``mabgui doctor``: what multi-platform builds need, what is there and how to fix the rest."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from mabgui.core import binfmt, engine, process
from mabgui.core.engine import EngineFacts
from mabgui.core.platform import Platform


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnosis:
    checks: list[Check]
    facts: EngineFacts | None = None  # what the checks were made from: pass it on, do not re-ask

    @property
    def multiplatform_ready(self) -> bool:
        """True when nothing fails: a multi-platform build can run now."""
        return all(c.status is not Status.FAIL for c in self.checks)

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.multiplatform_ready,
            "checks": [{**asdict(c), "status": str(c.status)} for c in self.checks],
            "engine": self.facts.to_json() if self.facts is not None else None,
        }


def _check_cli(facts: EngineFacts) -> Check:
    try:
        path = process.which("docker")
    except process.CommandNotFound:
        return Check("docker-cli", "Docker CLI", Status.FAIL, facts.error, facts.hint)
    return Check(
        "docker-cli", "Docker CLI", Status.OK,
        f"{path} (version {facts.client_version})" if facts.client_version else path,
        data={"path": path, "version": facts.client_version},
    )  # fmt: skip


def _check_daemon(facts: EngineFacts) -> tuple[Check, Check | None]:
    if not facts.daemon_ok:
        where = facts.endpoint or facts.context or "the current context"
        detail = facts.error or "docker info did not report the daemon"
        return Check(
            "daemon", "Docker daemon", Status.FAIL,
            f"Docker is not reachable at {where}: {detail}", facts.hint or engine.DAEMON_DOWN_HINT,
        ), None  # fmt: skip
    daemon = Check(
        "daemon",
        "Docker daemon",
        Status.OK,
        f"context {facts.context} ({facts.endpoint}): Docker {facts.server_version}, "
        f"{facts.platform or facts.architecture}",
        data={
            "context": facts.context,
            "endpoint": facts.endpoint,
            "server_version": facts.server_version,
            "os": facts.os,
            "os_type": facts.os_type,
            "architecture": facts.architecture,
            "platform": str(facts.platform) if facts.platform else None,
            "containerd_image_store": facts.image_store,
            "insecure_registries": list(facts.insecure_registries),
        },
    )
    if facts.image_store:
        store = Check(
            "image-store", "containerd image store", Status.OK,
            "on: the default docker builder can build several platforms into one image",
            data={"enabled": True},
        )  # fmt: skip
    else:
        store = Check(
            "image-store",
            "containerd image store",
            Status.WARN,
            "off: the default `docker` builder can only build one platform at a time",
            'Turn it on with {"features": {"containerd-snapshotter": true}} in '
            "/etc/docker/daemon.json and restart dockerd, or create a docker-container builder.",
            data={"enabled": False},
        )
    return daemon, store


def _check_buildx(facts: EngineFacts) -> Check:
    if not facts.buildx_version and facts.error and not facts.client_version:
        # `docker info` lists the CLI plugins: when it did not answer at all, nothing is known.
        return Check(
            "buildx", "buildx plugin", Status.WARN,
            f"not checked: `docker info` gave no answer ({facts.error})",
            "Fix the daemon first; `docker buildx version` shows the plugin meanwhile.",
        )  # fmt: skip
    if not facts.buildx_version:
        return Check(
            "buildx", "buildx plugin", Status.FAIL,
            "the docker buildx plugin is not available",
            "Install docker-buildx (Debian/Ubuntu: docker-buildx or docker-buildx-plugin) "
            "into a cli-plugins folder such as /usr/libexec/docker/cli-plugins.",
        )  # fmt: skip
    return Check(
        "buildx", "buildx plugin", Status.OK, f"version {facts.buildx_version}",
        data={"version": facts.buildx_version, "path": facts.buildx_path},
    )  # fmt: skip


def check_binfmt(root: str | None = None, native: Platform | None = None) -> Check:
    """binfmt_misc of this machine; ``native`` (the daemon's platform) is left out of the
    emulated platforms listed."""
    if not sys.platform.startswith("linux"):
        return Check(
            "binfmt", "QEMU emulators (binfmt_misc)", Status.OK,
            "not a Linux host: emulators live in the Docker VM (see `mabgui emulators`)",
        )  # fmt: skip
    state = binfmt.read_state(root or binfmt.BINFMT_ROOT)
    if not state.mounted:
        return Check(
            "binfmt",
            "QEMU emulators (binfmt_misc)",
            Status.FAIL,
            f"binfmt_misc is not mounted at {state.root}: foreign architectures cannot run",
            f"sudo mount -t binfmt_misc binfmt_misc {state.root}, then register emulators "
            "(`mabgui emulators install arm64 …`, or "
            "`docker run --privileged --rm tonistiigi/binfmt --install all`).",
            data={"mounted": False, "handlers": []},
        )
    qemu = [h for h in state.handlers if h.is_qemu]
    enabled = [h for h in qemu if h.enabled and state.enabled]
    platforms = sorted({
        str(p) for h in enabled for p in h.platforms if native is None or p.family != native.family
    })  # fmt: skip
    data = {
        "mounted": True,
        "enabled": state.enabled,
        "handlers": [
            {"name": h.name, "enabled": h.enabled, "flags": h.flags,
             "platforms": [str(p) for p in h.platforms]}
            for h in qemu
        ],
        "platforms": platforms,
    }  # fmt: skip
    if not state.enabled:
        return Check(
            "binfmt", "QEMU emulators (binfmt_misc)", Status.FAIL,
            "binfmt_misc is globally disabled", f"echo 1 | sudo tee {state.root}/status", data=data,
        )  # fmt: skip
    if not enabled:
        return Check(
            "binfmt",
            "QEMU emulators (binfmt_misc)",
            Status.FAIL,
            "no QEMU emulator is registered and enabled: only native platforms can be built",
            "`mabgui emulators install arm64 arm riscv64 …` or "
            "`docker run --privileged --rm tonistiigi/binfmt --install all`",
            data=data,
        )
    missing_f = [h.name for h in enabled if not h.fix_binary]
    detail = (
        f"{len(enabled)} enabled: {', '.join(h.name for h in enabled)} → {', '.join(platforms)}"
    )
    if missing_f:
        return Check(
            "binfmt", "QEMU emulators (binfmt_misc)", Status.WARN,
            detail + f"; without flag F (fix-binary): {', '.join(missing_f)}",
            "Re-register those handlers with the F flag so containers can use them.", data=data,
        )  # fmt: skip
    return Check("binfmt", "QEMU emulators (binfmt_misc)", Status.OK, detail, data=data)


# The system libraries Qt's xcb platform plugin needs (sonames → Debian/Ubuntu packages). Qt
# names only libxcb-cursor0 when the plugin cannot load, whatever is really missing; these
# are what ``ldd`` finds missing. libxcb-cursor is loaded at run time (not a NEEDED entry).
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}


def xcb_plugin(package_dir: Path | None = None) -> Path | None:
    """Qt's xcb platform plugin of the installed PySide6 (found without importing Qt)."""
    if package_dir is None:
        spec = importlib.util.find_spec("PySide6")
        if spec is None or not spec.submodule_search_locations:
            return None
        package_dir = Path(next(iter(spec.submodule_search_locations)))
    plugin = package_dir / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def parse_ldd_missing(output: str) -> list[str]:
    """The sonames ``ldd`` printed as ``=> not found``, in order, each once."""
    missing: list[str] = []
    for line in output.splitlines():
        name, _, rest = line.strip().partition(" => ")
        if rest.strip() == "not found" and name not in missing:
            missing.append(name)
    return missing


def missing_display_libraries(plugin: Path | None = None) -> list[str]:
    """The libraries the xcb plugin needs that this machine's loader cannot find (ldd)."""
    plugin = plugin or xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        done = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    missing = parse_ldd_missing(done.stdout)
    if not _loadable("libxcb-cursor.so.0"):
        missing.append("libxcb-cursor.so.0")
    return missing


def _loadable(soname: str) -> bool:
    import ctypes

    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def display_packages(missing: list[str]) -> list[str]:
    """The Debian/Ubuntu packages that provide ``missing`` sonames (those mabgui knows)."""
    return [XCB_LIBRARIES[name] for name in missing if name in XCB_LIBRARIES]


def check_display_libraries(plugin: Path | None = None) -> Check | None:
    """Whether the window can open under X11 (Linux with PySide6 only; else None)."""
    if not sys.platform.startswith("linux"):
        return None
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return None
    missing = missing_display_libraries(plugin)
    if not missing:
        return Check(
            "display-libraries", "Window libraries (Qt xcb)", Status.OK,
            "every library of Qt's xcb platform plugin is installed",
        )  # fmt: skip
    packages = display_packages(missing)
    return Check(
        "display-libraries", "Window libraries (Qt xcb)", Status.WARN,
        f"the window cannot open under X11: missing {', '.join(missing)} (the CLI works)",
        f"sudo apt-get install {' '.join(packages)}" if packages else "reinstall mabgui",
        data={"missing": missing, "packages": packages},
    )  # fmt: skip


async def diagnose(binfmt_root: str | None = None, facts: EngineFacts | None = None) -> Diagnosis:
    """Every check from ONE ``docker info`` (``facts``, asked here when not given), this
    machine's binfmt_misc and the window's libraries; never raises for a missing piece, it
    reports it."""
    display_check = asyncio.ensure_future(asyncio.to_thread(check_display_libraries))
    try:
        if facts is None:
            facts = await engine.engine_facts()
        display = await display_check
    finally:
        display_check.cancel()
    daemon, store = _check_daemon(facts)
    checks = [_check_cli(facts), daemon]
    if store is not None:
        checks.append(store)
    checks += [_check_buildx(facts), check_binfmt(binfmt_root, facts.platform)]
    if display is not None:
        checks.append(display)
    return Diagnosis(checks, facts)

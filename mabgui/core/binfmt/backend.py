"""Pick the binfmt_misc backend for the engine mabgui talks to.

``auto`` writes this host's kernel directly when the Docker daemon runs on this Linux host (a
local unix socket), and otherwise goes through the daemon (remote engines, Docker Desktop's VM).
"""

from __future__ import annotations

import os
import sys
from typing import Literal

from mabgui.core import engine
from mabgui.core.binfmt.daemon import DEFAULT_INSTALLER_IMAGE, DEFAULT_SHELL_IMAGE, DaemonBinfmt
from mabgui.core.binfmt.errors import BinfmtError
from mabgui.core.binfmt.local import LocalBinfmt
from mabgui.core.binfmt.model import BINFMT_ROOT, Backend

BackendKind = Literal["auto", "local", "daemon"]
BACKEND_KINDS: tuple[BackendKind, ...] = ("auto", "local", "daemon")


def daemon_is_local(context: engine.DockerContext | None = None) -> bool:
    """True when the engine's kernel is this host's: a unix socket on Linux (not Docker Desktop,
    whose socket leads into a VM)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctx = context or engine.current_context()
    except Exception:
        return True  # no docker config at all: the default socket, on this host
    host = ctx.host or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        return False
    return ".docker/desktop" not in host


def make_backend(
    kind: BackendKind = "auto",
    root: str | os.PathLike[str] = BINFMT_ROOT,
    shell_image: str = DEFAULT_SHELL_IMAGE,
    installer_image: str = DEFAULT_INSTALLER_IMAGE,
) -> Backend:
    if kind not in BACKEND_KINDS:
        raise BinfmtError(f"unknown backend {kind!r}", f"Use one of: {', '.join(BACKEND_KINDS)}")
    if kind == "local" or (kind == "auto" and daemon_is_local()):
        if not sys.platform.startswith("linux") and kind == "local":
            raise BinfmtError(
                "binfmt_misc only exists on Linux",
                "On macOS and Windows, emulators live in Docker Desktop's VM: use the daemon "
                "backend.",
            )
        return LocalBinfmt(root)
    return DaemonBinfmt(shell_image, installer_image)

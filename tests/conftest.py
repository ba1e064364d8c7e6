"""Shared test set-up: the real engine is required in CI (MABGUI_REQUIRE_ENGINE=1), never mocked.

Tests that need dockerd, buildx, binfmt_misc or the registry on 127.0.0.1:5000 take the
``engine`` fixture. Outside CI, a missing engine skips them with the reason; with
``MABGUI_REQUIRE_ENGINE=1`` it fails them instead: a skipped e2e test proves nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The CLI and the app log to a file: in tests, a throwaway folder (inherited by subprocesses).
os.environ.setdefault("MABGUI_LOG_DIR", tempfile.mkdtemp(prefix="mabgui-test-log-"))

REGISTRY = "127.0.0.1:5000"
BASE_IMAGE = f"{REGISTRY}/busybox:latest"
FIXTURES = Path(__file__).parent / "fixtures"


def missing_engine_part(message: str) -> NoReturn:
    """A part of the real engine is missing: a failure in CI (``MABGUI_REQUIRE_ENGINE=1``), where
    a skipped end-to-end test would prove nothing; a skip with the reason elsewhere."""
    if os.environ.get("MABGUI_REQUIRE_ENGINE") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class Engine:
    docker: str
    registry: str = REGISTRY
    base_image: str = BASE_IMAGE


def _engine_problem() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return "the docker CLI is not installed"
    try:
        subprocess.run([docker, "info"], check=True, capture_output=True, timeout=20)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"dockerd is not reachable: {exc}"
    res = subprocess.run([docker, "buildx", "version"], capture_output=True, timeout=20)
    if res.returncode != 0:
        return "the buildx plugin is missing"
    if not Path("/proc/sys/fs/binfmt_misc/register").exists():
        return "binfmt_misc is not mounted"
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/busybox/tags/list", timeout=5).read()
    except OSError as exc:
        return f"the registry on {REGISTRY} does not serve busybox: {exc}"
    return None


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The provisioned real engine (scripts/provision-engine.sh); fail or skip when absent."""
    problem = _engine_problem()
    if problem is not None:
        missing_engine_part(f"real engine unavailable: {problem} (run scripts/provision-engine.sh)")
    return Engine(docker=shutil.which("docker") or "docker")

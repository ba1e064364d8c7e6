"""What the builder e2e modules run: commands with a bound, mabgui as a user runs it, unique names,
and buildx's own JSON listing (the reference mabgui's output is compared with)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

TIMEOUT_S = 300.0


def run(*argv: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def mabgui(*argv: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "mabgui", *argv, timeout=timeout)


def unique(kind: str) -> str:
    return f"mabgui-e2e-{kind}-{uuid.uuid4().hex[:8]}"


def buildx_ls_json() -> dict[str, dict[str, object]]:
    """``docker buildx ls --format json`` by builder name (0.13 prints a builder once per node)."""
    res = run("docker", "buildx", "ls", "--format", "json")
    assert res.returncode == 0, res.stderr
    out: dict[str, dict[str, object]] = {}
    for line in res.stdout.splitlines():
        data = json.loads(line)
        out.setdefault(data["Name"], data)
    return out

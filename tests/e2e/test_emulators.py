"""Emulators on the real kernel interface: toggle, remove, re-register qemu-s390x, both backends.

Only qemu-s390x is touched (other helpers build on this machine at the same time), and the
``s390x_restored`` fixture always puts back the provisioned registration, enabled: the line of
/usr/lib/binfmt.d/qemu-s390x.conf (interpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P, POF).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mabgui.core import binfmt
from mabgui.core.binfmt.daemon import DaemonBinfmt
from tests.conftest import Engine

BM = Path("/proc/sys/fs/binfmt_misc")
HANDLER = BM / "qemu-s390x"
CONF = Path("/usr/lib/binfmt.d/qemu-s390x.conf")
STATIC = "/usr/bin/qemu-s390x-static"
pytestmark = pytest.mark.engine


def _mabgui(*args: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "mabgui", *args]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": repo}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=repo)


def _handler() -> binfmt.Handler:
    return binfmt.parse_handler("qemu-s390x", HANDLER.read_text())


def _restore() -> None:
    """Put the provisioned qemu-s390x back, enabled, with plain writes (not the code under test)."""
    original = CONF.read_text().strip()
    spec = binfmt.parse_register_line(original)
    if HANDLER.exists():
        current = _handler()
        if current.interpreter == spec.interpreter and current.flags == "POF":
            if not current.enabled:
                HANDLER.write_text("1")
            return
        HANDLER.write_text("-1")
    (BM / "register").write_text(original)


@pytest.fixture
def s390x_restored(engine: Engine) -> Iterator[None]:
    assert HANDLER.exists(), "the provisioned qemu-s390x handler is missing"
    _restore()
    try:
        yield
    finally:
        _restore()
        after = _handler()
        assert after.enabled
        assert after.interpreter == "/usr/libexec/qemu-binfmt/s390x-binfmt-P"
        assert after.flags == "POF"


def _build_s390x(engine: Engine, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:8]}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {engine.base_image}\nRUN echo mabgui-emulators-{uuid.uuid4().hex} && uname -m\n"
    )
    return subprocess.run(
        [engine.docker, "buildx", "build", "--builder", "default", "--platform", "linux/s390x",
         "--no-cache", "--output", "type=cacheonly", "--progress", "plain", str(ctx)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_emulators_json_lists_the_real_handlers(engine: Engine) -> None:
    res = _mabgui("emulators", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["mounted"] is True
    assert data["writable"] is True
    assert data["backend"] == "local"
    handlers = {h["name"]: h for h in data["handlers"]}
    s390x = handlers["qemu-s390x"]
    assert s390x["platforms"] == ["linux/s390x"]
    assert "F" in s390x["flags"]
    assert "default" in s390x["builders"]
    assert handlers["qemu-aarch64"]["platforms"] == ["linux/arm64"]
    assert any(b["name"] == "default" for b in data["builders"])


def test_disable_breaks_s390x_builds_and_enable_fixes_them(
    engine: Engine, s390x_restored: None, tmp_path: Path
) -> None:
    res = _mabgui("emulators", "disable", "qemu-s390x", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["enabled"] is False
    assert HANDLER.read_text().splitlines()[0] == "disabled"
    try:
        build = _build_s390x(engine, tmp_path)
    finally:
        res = _mabgui("emulators", "enable", "qemu-s390x")
    assert build.returncode != 0
    assert "exec format error" in build.stdout + build.stderr
    assert res.returncode == 0, res.stderr
    assert HANDLER.read_text().splitlines()[0] == "enabled"
    build = _build_s390x(engine, tmp_path)
    assert build.returncode == 0, build.stderr[-2000:]
    assert "s390x" in build.stderr


def test_remove_and_register_from_the_host_static_emulator(
    engine: Engine, s390x_restored: None, tmp_path: Path
) -> None:
    res = _mabgui("emulators", "remove", "qemu-s390x")
    assert res.returncode == 0, res.stderr
    assert not HANDLER.exists()
    res = _mabgui("emulators", "install", "linux/s390x", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["installed"] == ["qemu-s390x"]
    handler = _handler()
    assert handler.enabled
    assert handler.interpreter == STATIC
    assert handler.flags == "F"
    assert handler.platforms == _platforms("linux/s390x")
    build = _build_s390x(engine, tmp_path)
    assert build.returncode == 0, build.stderr[-2000:]
    # Back to the provisioned registration through mabgui too.
    assert _mabgui("emulators", "remove", "qemu-s390x").returncode == 0
    res = _mabgui("emulators", "register", "--conf", str(CONF))
    assert res.returncode == 0, res.stderr
    handler = _handler()
    assert handler.interpreter == "/usr/libexec/qemu-binfmt/s390x-binfmt-P"
    assert handler.flags == "POF"


def _platforms(*items: str) -> tuple[binfmt.Platform, ...]:
    return tuple(binfmt.Platform.parse(p) for p in items)


def test_daemon_backend_toggles_through_a_privileged_container(
    engine: Engine, s390x_restored: None
) -> None:
    backend = DaemonBinfmt(engine.base_image)

    async def scenario() -> None:
        state = await backend.read()
        assert state.mounted
        assert state.handler("qemu-s390x") == _handler()
        off = await backend.set_enabled("qemu-s390x", False)
        assert not off.enabled
        assert HANDLER.read_text().splitlines()[0] == "disabled"
        on = await backend.set_enabled("qemu-s390x", True)
        assert on.enabled
        assert HANDLER.read_text().splitlines()[0] == "enabled"

    try:
        asyncio.run(scenario())
    finally:
        with contextlib.suppress(OSError):
            HANDLER.write_text("1")
    # The same through the CLI.
    res = _mabgui("emulators", "--backend", "daemon", "--image", engine.base_image,
                  "disable", "qemu-s390x", "--json")  # fmt: skip
    try:
        assert res.returncode == 0, res.stderr
        assert HANDLER.read_text().splitlines()[0] == "disabled"
    finally:
        res = _mabgui("emulators", "enable", "qemu-s390x", "--backend", "daemon",
                      "--image", engine.base_image)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert HANDLER.read_text().splitlines()[0] == "enabled"


def test_installer_image_that_cannot_be_pulled_is_reported(engine: Engine) -> None:
    missing = f"{engine.registry}/mabgui-emulators-test-{uuid.uuid4().hex[:8]}:none"
    res = _mabgui("emulators", "--backend", "daemon", "--image", engine.base_image,
                  "--installer-image", missing, "install", "arm64")  # fmt: skip
    assert res.returncode == 1
    assert (
        f"the installer image {missing} is not on the Docker daemon and cannot be pulled"
        in res.stderr
    )
    assert "is a setting" in res.stderr
    assert "Traceback" not in res.stderr


def test_without_privileges_nothing_changes_and_the_command_is_given(
    engine: Engine, s390x_restored: None
) -> None:
    res = _mabgui("emulators", "disable", "qemu-s390x", user=65534)
    assert res.returncode == 1
    assert "permission denied writing /proc/sys/fs/binfmt_misc/qemu-s390x" in res.stderr
    assert "echo 0 | sudo tee /proc/sys/fs/binfmt_misc/qemu-s390x" in res.stderr
    assert _handler().enabled
    res = _mabgui("emulators", "--json", "--no-builders", user=65534)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["writable"] is False


def test_fix_binary_adds_flag_f_on_the_real_kernel(engine: Engine, s390x_restored: None) -> None:
    line = CONF.read_text().strip()
    assert line.endswith(":OPF")
    assert _mabgui("emulators", "remove", "qemu-s390x").returncode == 0
    res = _mabgui("emulators", "register", line[: -len("OPF")] + "OP")
    assert res.returncode == 0, res.stderr
    assert _handler().flags == "PO"
    res = _mabgui("emulators", "--no-builders")
    assert "! qemu-s390x: flag F (fix-binary) is missing" in res.stdout
    res = _mabgui("emulators", "fix-binary", "qemu-s390x", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["flags"] == "POF"
    handler = _handler()
    assert handler.enabled
    assert handler.flags == "POF"
    assert handler.interpreter == "/usr/libexec/qemu-binfmt/s390x-binfmt-P"

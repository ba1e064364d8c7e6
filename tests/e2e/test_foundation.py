"""The foundation against the real engine: `mabgui doctor` and a 2-platform build under QEMU."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from tests.conftest import Engine


def _mabgui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("mabgui")
    argv = [exe] if exe else [sys.executable, "-m", "mabgui"]
    return subprocess.run(
        [*argv, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_doctor_reports_the_provisioned_engine(engine: Engine) -> None:
    res = _mabgui("doctor", "--json")
    assert res.returncode == 0, res.stderr + res.stdout
    report = json.loads(res.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert report["ok"] is True
    assert checks["docker-cli"]["status"] == "ok"
    assert checks["daemon"]["status"] == "ok"
    assert checks["daemon"]["data"]["containerd_image_store"] is True
    assert checks["image-store"]["status"] == "ok"
    # The plugin the docker CLI runs (0.30.1 in CI, Debian's 0.13.1 in the compatibility pass).
    version = subprocess.run(
        [engine.docker, "buildx", "version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert version.lstrip("v").startswith(checks["buildx"]["data"]["version"])
    binfmt = checks["binfmt"]
    assert binfmt["data"]["mounted"] is True
    handlers = {h["name"]: h for h in binfmt["data"]["handlers"]}
    for name in ("qemu-aarch64", "qemu-arm", "qemu-riscv64", "qemu-ppc64le", "qemu-s390x"):
        assert handlers[name]["enabled"], name
    assert "linux/arm64" in binfmt["data"]["platforms"]


def test_doctor_with_the_daemon_down_exits_1_with_a_clear_message(
    engine: Engine, tmp_path: Path
) -> None:
    # What a client sees when dockerd is stopped: nothing listens on the socket any more.
    dead = tmp_path / "docker.sock"
    res = _mabgui("doctor", env={"DOCKER_HOST": f"unix://{dead}"})
    assert res.returncode == 1
    assert "Docker is not reachable" in res.stdout
    assert "socket does not exist" in res.stdout
    assert "fix: Start the Docker daemon" in res.stdout
    res = _mabgui("doctor", "--json", env={"DOCKER_HOST": f"unix://{dead}"})
    assert res.returncode == 1
    report = json.loads(res.stdout)
    daemon = next(c for c in report["checks"] if c["id"] == "daemon")
    assert report["ok"] is False
    assert daemon["status"] == "fail"


def test_two_platform_build_runs_each_architecture(engine: Engine, tmp_path: Path) -> None:
    image = f"{engine.registry}/mabgui-foundation-test-{uuid.uuid4().hex[:10]}:latest"
    (tmp_path / "Dockerfile").write_text(
        f'FROM {engine.base_image}\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n'
    )
    build = subprocess.run(
        [engine.docker, "buildx", "build", "--builder", "default",
         "--platform", "linux/amd64,linux/arm64", "--provenance=false",
         "-t", image, "--push", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    try:
        for platform, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
            run = subprocess.run(
                [engine.docker, "run", "--rm", "--pull", "always", "--platform", platform, image],
                capture_output=True, text=True, timeout=180,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr
            assert run.stdout.strip() == machine
    finally:
        subprocess.run([engine.docker, "image", "rm", "-f", image], capture_output=True, timeout=60)


def test_doctor_json_with_a_daemon_that_never_answers(tmp_path: Path, engine: Engine) -> None:
    """A socket that accepts and never answers: one JSON report, exit 1, within the timeout,
    and nothing claims buildx is missing (issue 15 point 6)."""
    path = tmp_path / "hang.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        res = _mabgui("doctor", "--json", env={"DOCKER_HOST": f"unix://{path}"})
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["daemon"]["status"] == "fail"
    assert "did not answer" in checks["daemon"]["detail"]
    assert checks["buildx"]["status"] != "fail"
    assert "Traceback" not in res.stderr
    assert took < 40

"""Builders end to end: real dockerd + buildx, a second dockerd behind a second docker context.

The docker CLI runs with a private ``DOCKER_CONFIG`` (the ``private_docker_config`` fixture):
builders, contexts and the *current* builder made here live in it, so other tests building on
the default builder at the same time never see them. The BuildKit containers do run on the
real daemon: every builder has a unique ``mabgui-e2e-…`` name and is removed in a ``finally``,
and the current builder is set back to ``default`` all the same. The moby/buildkit image is
loaded (scripts/provision-engine.sh), so docker-container builders boot: tests of a failing
bootstrap name an image that cannot resolve (an unreachable mirror) instead of relying on the
machine being offline.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mabgui.core import buildx
from tests.conftest import Engine
from tests.e2e.commands import buildx_ls_json, mabgui, run, unique
from tests.e2e.docker_config import private_config

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", autouse=True)
def private_docker_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DOCKER_CONFIG of this module's own (subprocesses and core calls inherit it)."""
    path = private_config(tmp_path_factory.mktemp("docker-config"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_CONFIG", str(path))
        yield path


def current_in_table() -> str:
    res = run("docker", "buildx", "ls")
    assert res.returncode == 0, res.stderr
    for line in res.stdout.splitlines()[1:]:
        first = line.split()[0] if line.strip() else ""
        if not line.startswith(" ") and first.endswith("*"):
            return first.rstrip("*")
    return ""


# An image under a mirror host that does not resolve: a BuildKit image neither present nor pullable.
MISSING_IMAGE = "mabgui-e2e-mirror.invalid/moby/buildkit:buildx-stable-1"


def force_rm(name: str) -> None:
    run("docker", "buildx", "rm", "--force", name, timeout=60)


@pytest.fixture
def restore_default_builder() -> Iterator[None]:
    yield
    run("docker", "buildx", "use", "default")


# --- the second daemon -------------------------------------------------------------------------


def _wait_for(sock: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run("docker", "-H", f"unix://{sock}", "version", timeout=10).returncode == 0:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def second_context() -> Iterator[str]:
    """A second dockerd (own data/exec root, pidfile, socket and bridge) behind a context."""
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.fail(
            "the second-daemon test needs root and dockerd (the provisioned engine has both)"
        )
    tag = uuid.uuid4().hex[:6]
    root = Path(tempfile.mkdtemp(prefix=f"mabgui-e2e-{tag}-", dir="/tmp"))
    sock = str(root / "docker.sock")
    bridge = f"mabgui{tag}"  # ≤ 15 characters
    context = f"mabgui-e2e-second-{tag}"
    proc: subprocess.Popen[bytes] | None = None
    log = (root / "dockerd.log").open("wb")
    try:
        for cmd in (
            ["ip", "link", "add", bridge, "type", "bridge"],
            ["ip", "addr", "add", "10.99.0.1/24", "dev", bridge],
            ["ip", "link", "set", bridge, "up"],
        ):
            res = run(*cmd)
            assert res.returncode == 0, f"{' '.join(cmd)}: {res.stderr}"
        proc = subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "exec"),
                "--pidfile",
                str(root / "docker.pid"),
                "-H",
                f"unix://{sock}",
                "--bridge",
                bridge,
                "--iptables=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not _wait_for(sock):
            pytest.fail(
                f"the second dockerd did not start: {(root / 'dockerd.log').read_text()[-2000:]}"
            )
        res = run("docker", "context", "create", context, "--docker", f"host=unix://{sock}")
        assert res.returncode == 0, res.stderr
        yield context
    finally:
        run("docker", "context", "rm", "--force", context)
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        run("ip", "link", "del", bridge)
        subprocess.run(["umount", "-R", str(root / "exec")], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


# --- tests ---------------------------------------------------------------------------------------


def test_default_builder_lists_buildx_platforms(engine: Engine) -> None:
    expected = buildx_ls_json()["default"]
    res = mabgui("builders", "--json")
    assert res.returncode == 0, res.stderr
    builders = {b["name"]: b for b in json.loads(res.stdout)}
    default = builders["default"]
    assert default["driver"] == "docker"
    assert default["status"] == "running"
    (node,) = default["nodes"]
    (raw_node,) = expected["Nodes"]  # type: ignore[misc]
    assert node["platforms"] == raw_node["Platforms"]
    assert node["local"] is True
    # amd64 is the daemon's architecture here; every other listed platform runs under QEMU.
    assert "linux/amd64" not in node["emulated"]
    assert "linux/arm64" in node["emulated"]
    # The current builder is what buildx's own table marks with '*'.
    assert [b["name"] for b in builders.values() if b["current"]] == [current_in_table()]


async def test_core_list_inspect_and_du(engine: Engine) -> None:
    builders = {b.name: b for b in await buildx.list_builders()}
    assert builders["default"].nodes[0].status == "running"
    details = await buildx.inspect("default")
    assert details.nodes[0].labels["org.mobyproject.buildkit.worker.executor"] == "containerd"
    assert details.nodes[0].platforms == builders["default"].nodes[0].platforms
    du = await buildx.disk_usage("default")
    assert du.total >= du.reclaimable >= 0
    with pytest.raises(buildx.BuilderNotFound, match="mabgui-e2e-nope"):
        await buildx.inspect("mabgui-e2e-nope")


def test_second_daemon_is_a_second_builder_and_a_node(engine: Engine, second_context: str) -> None:
    res = mabgui("builders", "--json")
    assert res.returncode == 0, res.stderr
    builders = {b["name"]: b for b in json.loads(res.stdout)}
    second = builders[second_context]
    assert second["driver"] == "docker"
    assert second["status"] == "running"
    assert second["nodes"][0]["endpoint"] == second_context
    assert second["nodes"][0]["local"] is True  # a unix socket: same kernel, same emulators
    assert second["nodes"][0]["platforms"][0] == "linux/amd64"

    # A multi-node docker-container builder: a node here and one on the second daemon. Nodes
    # need not boot to be listed.
    name = unique("multi")
    try:
        res = mabgui("builder", "create", "--name", name, "--node", f"{name}-a",
                     "--platform", "linux/amd64", "default")  # fmt: skip
        assert res.returncode == 0, res.stderr
        res = mabgui("builder", "create", "--name", name, "--append", "--node", f"{name}-b",
                     "--platform", "linux/arm64", second_context)  # fmt: skip
        assert res.returncode == 0, res.stderr
        raw = buildx_ls_json()[name]
        assert [n["Name"] for n in raw["Nodes"]] == [f"{name}-a", f"{name}-b"]  # type: ignore[attr-defined]
        res = mabgui("builders", "--json")
        multi = {b["name"]: b for b in json.loads(res.stdout)}[name]
        assert [(n["name"], n["endpoint"], n["platforms"]) for n in multi["nodes"]] == [
            (f"{name}-a", "unix:///var/run/docker.sock", ["linux/amd64"]),
            (f"{name}-b", second_context, ["linux/arm64"]),
        ]
        assert multi["status"] == "inactive"
    finally:
        force_rm(name)
    assert name not in buildx_ls_json()


async def test_failed_append_leaves_the_builder_as_it_was(
    engine: Engine, second_context: str
) -> None:
    name = unique("append")
    lines: list[str] = []
    try:
        # Neither node can boot: buildx 0.13 reports a bootstrap as failed only when every node
        # failed (0.30 when any did).
        missing = {"image": MISSING_IMAGE}
        first = buildx.NodeSpec(driver_opts=missing)
        await buildx.create(buildx.CreateRequest(name=name, nodes=(first,), bootstrap=False))
        node = buildx.NodeSpec(endpoint=second_context, driver_opts=missing)
        req = buildx.CreateRequest(name=name, append=True, nodes=(node,))
        with pytest.raises(buildx.BuildxError, match="failed to resolve reference") as err:
            await buildx.create(req, progress=lines.append)
        assert "moby/buildkit image" in err.value.hint
        assert f"$ docker buildx create --name {name} --leave --node {name}1" in lines
        builder = await buildx.get_builder(name)
        assert [n.name for n in builder.nodes] == [f"{name}0"]  # the added node is gone again
    finally:
        force_rm(name)


def test_unpullable_buildkit_image_bootstrap_fails_with_buildx_error(engine: Engine) -> None:
    kept = unique("kept")
    gone = unique("gone")
    image = f"image={MISSING_IMAGE}"
    try:
        res = mabgui("builder", "create", "--name", kept, "--driver", "docker-container",
                     "--driver-opt", image, "--bootstrap", "--keep")  # fmt: skip
        assert res.returncode == 1
        assert "failed to resolve reference" in res.stderr
        assert "moby/buildkit" in res.stderr
        assert "hint:" in res.stderr
        assert kept in buildx_ls_json()  # --keep: left for the user to inspect
        res = mabgui("builder", "rm", kept)
        assert res.returncode == 0, res.stderr
        assert kept not in buildx_ls_json()

        res = mabgui("builder", "create", "--name", gone, "--driver-opt", image, "--bootstrap")
        assert res.returncode == 1
        assert "moby/buildkit" in res.stderr
        assert "Nothing was left behind" in res.stderr
        assert gone not in buildx_ls_json()
    finally:
        force_rm(kept)
        force_rm(gone)


def test_use_stop_rm_change_buildx_ls(engine: Engine, restore_default_builder: None) -> None:
    name = unique("life")
    try:
        # The node runs a busybox image instead of BuildKit: bootstrapping leaves its container
        # restarting, which buildx reports as an error.
        res = mabgui("builder", "create", "--name", name, "--driver-opt",
                     f"image={engine.base_image}", "--bootstrap", "--keep")  # fmt: skip
        assert res.returncode == 1
        raw = buildx_ls_json()[name]
        assert raw["Nodes"][0]["Status"] == "error"  # type: ignore[index]

        assert mabgui("builder", "use", name).returncode == 0
        assert current_in_table() == name
        assert run("docker", "buildx", "use", "default").returncode == 0

        res = mabgui("builder", "stop", name)
        assert res.returncode == 0, res.stderr
        assert buildx_ls_json()[name]["Nodes"][0]["Status"] == "stopped"  # type: ignore[index]

        res = mabgui("builder", "rm", name)
        assert res.returncode == 0, res.stderr
        assert f"{name} removed" in res.stdout
        assert name not in buildx_ls_json()
        containers = run("docker", "ps", "-a", "--filter", f"name=buildx_buildkit_{name}", "-q")
        assert containers.stdout.strip() == ""
    finally:
        force_rm(name)
        run("docker", "buildx", "use", "default")
    assert current_in_table() == "default"


class SilentServer:
    """A TCP server that accepts connections and never answers: a hanging remote daemon."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


async def test_a_hanging_node_cannot_hang_the_list(engine: Engine) -> None:
    server = SilentServer()
    context = unique("hang")
    try:
        res = run("docker", "context", "create", context, "--docker",
                  f"host=tcp://127.0.0.1:{server.port}")  # fmt: skip
        assert res.returncode == 0, res.stderr
        started = time.monotonic()
        with pytest.raises(buildx.BuildxTimeout, match="did not answer within 3 s"):
            await buildx.list_builders(timeout_s=3)
        assert time.monotonic() - started < 8
    finally:
        run("docker", "context", "rm", "--force", context)
        server.close()


def test_names_never_reach_buildx_as_flags(engine: Engine) -> None:
    before = set(buildx_ls_json())
    res = mabgui("builder", "rm", "--", "--all-inactive")
    assert res.returncode == 1
    assert "invalid builder name '--all-inactive'" in res.stderr
    res = mabgui("builder", "inspect", "--", "--help")
    assert res.returncode == 1
    assert "invalid builder name" in res.stderr
    assert set(buildx_ls_json()) == before


def test_errors_are_buildx_own_words(engine: Engine) -> None:
    res = mabgui("builder", "use", "mabgui-e2e-nope")
    assert res.returncode == 1
    assert "failed to find instance" in res.stderr
    res = mabgui("builder", "rm", "default")
    assert res.returncode == 1
    assert "cannot be removed" in res.stderr
    res = mabgui("builder", "create", "--driver", "remote", "--name", unique("remote"))
    assert res.returncode == 1
    assert "needs an endpoint" in res.stderr

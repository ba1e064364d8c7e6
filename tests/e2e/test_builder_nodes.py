"""Remote BuildKit nodes and a 2-node builder, end to end, on real buildkitd daemons.

Two buildkitd run from the loaded images for this module (host network, privileged, free ports):
``moby/buildkit:buildx-stable-1`` (linux/amd64) and ``moby/buildkit:v0.22.0-arm64`` run with
``--platform linux/arm64`` (under QEMU here, its worker lists linux/arm64 first, like a real arm64
machine). Both containers are removed at the end whatever happens. Builders are made through the
``mabgui`` CLI under a private ``DOCKER_CONFIG`` and removed in a ``finally``.

The 2-node builder shows buildx's node choice (docker/buildx#366): unpinned, linux/arm64 is built
under QEMU on the amd64 node; after ``mabgui builder pin-native`` it goes to the arm64 node, which
BuildKit's own history records (``docker buildx history ls``: refs are ``BUILDER/NODE/ID``).
Builds are tiny (busybox from the local registry, one RUN) and every command is time-bounded.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Engine, missing_engine_part
from tests.e2e.commands import buildx_ls_json, mabgui, run, unique
from tests.e2e.docker_config import private_config

pytestmark = pytest.mark.engine

AMD_IMAGE = "moby/buildkit:buildx-stable-1"
ARM_IMAGE = "moby/buildkit:v0.22.0-arm64"
BOTH = "linux/amd64,linux/arm64"
START_TIMEOUT_S = 120.0


@pytest.fixture(scope="module", autouse=True)
def private_docker_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = private_config(tmp_path_factory.mktemp("docker-config"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_CONFIG", str(path))
        yield path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class Daemons:
    amd: str  # tcp://127.0.0.1:PORT of the amd64 buildkitd
    arm: str  # … of the arm64 one


def require_image(image: str) -> None:
    if run("docker", "image", "inspect", image).returncode != 0:
        missing_engine_part(f"{image} is not loaded (scripts/provision-engine.sh loads it)")


@pytest.fixture(scope="module")
def daemons(engine: Engine) -> Iterator[Daemons]:
    """The two buildkitd, listening; both containers are removed at the end."""
    require_image(AMD_IMAGE)
    require_image(ARM_IMAGE)
    started: list[str] = []
    ports = {"amd": free_port(), "arm": free_port()}
    try:
        for kind, extra, image in (("amd", [], AMD_IMAGE),
                                   ("arm", ["--platform", "linux/arm64"], ARM_IMAGE)):  # fmt: skip
            name = unique(f"buildkitd-{kind}")
            res = run("docker", "run", "-d", "--name", name, "--privileged", "--network", "host",
                      *extra, image, "--addr", f"tcp://127.0.0.1:{ports[kind]}")  # fmt: skip
            assert res.returncode == 0, res.stderr
            started.append(name)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(listening(p) for p in ports.values()):
            for name in started:
                state = run("docker", "inspect", "-f", "{{.State.Running}}", name).stdout.strip()
                assert state == "true", run("docker", "logs", name).stderr[-2000:]
            assert time.monotonic() < deadline, "buildkitd did not listen in time"
            time.sleep(0.5)  # polling a port: there is no event to wait on
        yield Daemons(f"tcp://127.0.0.1:{ports['amd']}", f"tcp://127.0.0.1:{ports['arm']}")
    finally:
        for name in started:
            run("docker", "rm", "--force", name, timeout=120)


def mabgui_builders() -> dict[str, dict[str, object]]:
    res = mabgui("builders", "--json")
    assert res.returncode == 0, res.stderr
    return {b["name"]: b for b in json.loads(res.stdout)}


def history_refs(builder: str) -> set[str] | None:
    """BuildKit's build records of ``builder`` (``BUILDER/NODE/ID``); None before buildx 0.20."""
    if "history" not in run("docker", "buildx", "--help").stdout:
        return None
    res = run("docker", "buildx", "history", "ls", "--builder", builder, "--format", "json")
    assert res.returncode == 0, res.stderr
    return {json.loads(line)["ref"] for line in res.stdout.splitlines() if line.strip()}


def context(tmp_path: Path, engine: Engine) -> str:
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {engine.base_image}\nRUN echo {uuid.uuid4().hex} && uname -m > /arch\n"
    )
    return str(ctx)


def build(
    builder: str, platforms: str, ctx: str, stderr: list[str] | None = None
) -> dict[str, Any]:
    res = mabgui("build", "--builder", builder, "--platform", platforms, "--no-history", "-q",
                 "--json", ctx, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    if stderr is not None:
        stderr.append(res.stderr)
    summary: dict[str, Any] = json.loads(res.stdout)
    assert summary["ok"] is True
    assert summary["builder"] == builder
    return summary


def remove(name: str) -> None:
    run("docker", "buildx", "rm", "--force", name, timeout=120)


def test_remote_builder_create_list_build(engine: Engine, daemons: Daemons, tmp_path: Path) -> None:
    name = unique("remote")
    help_text = mabgui("builder", "create", "--help").stdout
    assert "CONTEXT|ENDPOINT" in help_text
    assert "remote" in help_text
    try:
        res = mabgui("builder", "create", "--driver", "remote", "--name", name, "--node", "amd",
                     daemons.amd, "--bootstrap", "--json")  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        created = json.loads(res.stdout)
        assert created["bootstrapped"] is True
        assert created["builder"]["driver"] == "remote"

        raw = buildx_ls_json()[name]
        mine = mabgui_builders()[name]
        assert mine["driver"] == raw["Driver"] == "remote"
        assert [(n["name"], n["endpoint"], n["status"], n["platforms"])
                for n in mine["nodes"]] == [  # type: ignore[attr-defined]
            (n["Name"], n["Endpoint"], n["Status"], n["Platforms"])
            for n in raw["Nodes"]  # type: ignore[attr-defined]
        ]  # fmt: skip
        assert mine["nodes"][0]["platforms"][0] == "linux/amd64"  # type: ignore[index]
        assert mine["warnings"] == []

        summary = build(name, "linux/amd64", context(tmp_path, engine))
        lane = summary["nodes"]["linux/amd64"]
        assert lane == {"node": "amd", "native": True, "emulation": "native"}
        assert set(summary["nodes"]) == set(summary["platforms"])
    finally:
        remove(name)
    assert name not in buildx_ls_json()


def test_two_node_builder_routes_arm64_to_its_native_node_once_pinned(
    engine: Engine, daemons: Daemons, tmp_path: Path
) -> None:
    name = unique("2node")
    try:
        res = mabgui("builder", "create", "--driver", "remote", "--name", name, "--node", "amd",
                     daemons.amd)  # fmt: skip
        assert res.returncode == 0, res.stderr
        res = mabgui("builder", "create", "--driver", "remote", "--append", "--name", name,
                     "--node", "arm", daemons.arm, "--bootstrap")  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr

        # Unpinned: the problem is reported, in the list and in inspect (text and JSON).
        mine = mabgui_builders()[name]
        raw = buildx_ls_json()[name]
        assert [(n["name"], n["status"], n["platforms"]) for n in mine["nodes"]] == [  # type: ignore[attr-defined]
            (n["Name"], n["Status"], n["Platforms"]) for n in raw["Nodes"]  # type: ignore[attr-defined]
        ]  # fmt: skip
        warnings: list[dict[str, object]] = mine["warnings"]  # type: ignore[assignment]
        (warning,) = warnings
        assert (warning["platform"], warning["node"], warning["native_nodes"]) == (
            "linux/arm64", "amd", ["arm"],
        )  # fmt: skip
        assert warning["fix"] == f"mabgui builder pin-native {name}"
        res = mabgui("builder", "inspect", name, "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["warnings"] == mine["warnings"]
        text = mabgui("builder", "inspect", name).stdout
        assert "under QEMU on node amd" in text
        assert "pin-native" in text

        # route() predicts both platforms on the amd64 node; BuildKit's history agrees.
        before = history_refs(name)
        err: list[str] = []
        summary = build(name, BOTH, context(tmp_path, engine), err)
        assert summary["nodes"] == {
            "linux/amd64": {"node": "amd", "native": True, "emulation": "native"},
            "linux/arm64": {"node": "amd", "native": False, "emulation": "qemu"},
        }
        # Warned before the build started.
        assert f"warning: builder {name} builds linux/arm64 under QEMU on node amd" in err[0]
        if before is not None:
            new = (history_refs(name) or set()) - before
            assert new
            assert {ref.split("/")[1] for ref in new} == {"amd"}, new

        # The fix: every node pinned to what it runs natively.
        res = mabgui("builder", "pin-native", name, "--json")
        assert res.returncode == 0, res.stdout + res.stderr
        pinned = json.loads(res.stdout)
        assert pinned["pinned"] == {"amd": ["linux/amd64"], "arm": ["linux/arm64"]}
        assert pinned["warnings"] == []
        assert mabgui_builders()[name]["warnings"] == []
        inspect = run("docker", "buildx", "inspect", name).stdout
        assert "linux/amd64*" in inspect
        assert "linux/arm64*" in inspect

        before = history_refs(name)
        err = []
        summary = build(name, BOTH, context(tmp_path, engine), err)
        assert summary["nodes"] == {
            "linux/amd64": {"node": "amd", "native": True, "emulation": "native"},
            "linux/arm64": {"node": "arm", "native": True, "emulation": "native"},
        }
        assert "under QEMU" not in err[0]
        if before is not None:
            new = (history_refs(name) or set()) - before
            assert {ref.split("/")[1] for ref in new} == {"amd", "arm"}, new
            assert len(new) == 2
    finally:
        remove(name)


def test_a_taken_name_is_refused_and_the_builder_kept(daemons: Daemons) -> None:
    name = unique("taken")
    try:
        res = mabgui("builder", "create", "--driver", "remote", "--name", name, daemons.amd)
        assert res.returncode == 0, res.stderr
        endpoints = [n["Endpoint"] for n in buildx_ls_json()[name]["Nodes"]]  # type: ignore[attr-defined]
        res = mabgui("builder", "create", "--driver", "remote", "--name", name, daemons.arm,
                     "--bootstrap", "--json")  # fmt: skip
        assert res.returncode == 1
        err = json.loads(res.stdout)
        assert f"a builder named {name!r} already exists" in err["error"]
        assert "left as is" in err["hint"]
        assert "Nothing was left behind" not in err["hint"]
        assert [n["Endpoint"] for n in buildx_ls_json()[name]["Nodes"]] == endpoints  # type: ignore[attr-defined]
    finally:
        remove(name)


class SilentServer:
    """Accepts TCP connections and never answers: a hung BuildKit endpoint."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.conns.append(self.sock.accept()[0])

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_an_unreachable_endpoint_answers_in_time_and_names_it(engine: Engine) -> None:
    closed = f"tcp://127.0.0.1:{free_port()}"
    name = unique("unreach")
    started = time.monotonic()
    res = mabgui("builder", "create", "--driver", "remote", "--name", name, closed, "--bootstrap",
                 "--json", timeout=60)  # fmt: skip
    assert time.monotonic() - started < 15
    assert res.returncode == 1
    err = json.loads(res.stdout)
    assert closed in err["error"]
    assert closed in err["hint"]
    assert "Connection refused" in err["error"]
    assert name not in buildx_ls_json()
    # Without --bootstrap the builder may be registered for a daemon started later: a warning.
    res = mabgui("builder", "create", "--driver", "remote", "--name", name, closed)
    assert res.returncode == 0, res.stderr
    assert f"warning: cannot connect to {closed}" in res.stderr
    assert name in buildx_ls_json()
    remove(name)

    server = SilentServer()  # accepts, then never speaks: buildx's own 20 s bootstrap limit
    hung = f"tcp://127.0.0.1:{server.port}"
    try:
        res = mabgui("builder", "create", "--driver", "remote", "--name", name, hung,
                     "--bootstrap", "--json", timeout=90)  # fmt: skip
        assert res.returncode == 1
        err = json.loads(res.stdout)
        assert hung in err["hint"]
        assert "Nothing was left behind" in err["hint"]
        assert name not in buildx_ls_json()
    finally:
        server.close()
        remove(name)


def test_a_buildkit_image_neither_present_nor_pullable(engine: Engine) -> None:
    name = unique("noimage")
    try:
        res = mabgui("builder", "create", "--name", name, "--driver-opt",
                     "image=nonexistent.invalid/x", "--bootstrap", "--json")  # fmt: skip
        assert res.returncode == 1
        err = json.loads(res.stdout)
        assert (
            "nonexistent.invalid/x is neither in the daemon's image store nor pullable"
            in (err["hint"])
        )
        assert "docker load" in err["hint"]
        assert "nothing listens" not in err["hint"].lower()
        assert name not in buildx_ls_json()
        left = run("docker", "ps", "-a", "-q", "--filter", f"name=buildx_buildkit_{name}")
        assert left.stdout.strip() == ""
    finally:
        remove(name)


def test_a_pin_no_emulator_provides_is_refused(engine: Engine) -> None:
    if Path("/proc/sys/fs/binfmt_misc/qemu-mips64el").exists():
        pytest.skip("an emulator for linux/mips64le is registered here")
    name = unique("mips")
    try:
        res = mabgui("builder", "create", "--name", name, "--platform", "linux/mips64le", "--json")
        assert res.returncode == 1
        err = json.loads(res.stdout)
        assert "linux/mips64le" in err["error"]
        assert "neither runs natively nor emulates" in err["error"]
        assert "nothing was created" in err["hint"]
        assert name not in buildx_ls_json()
    finally:
        remove(name)


def test_removing_the_current_builder_says_what_comes_next(daemons: Daemons) -> None:
    name = unique("current")
    try:
        res = mabgui("builder", "create", "--driver", "remote", "--name", name, daemons.amd,
                     "--use")  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert mabgui_builders()[name]["current"] is True
        res = mabgui("builder", "rm", name)
        assert res.returncode == 0, res.stderr
        assert f"{name} was the current builder" in res.stdout
        assert "(default)" in res.stdout
        assert mabgui_builders()["default"]["current"] is True
    finally:
        remove(name)
        run("docker", "buildx", "use", "default")

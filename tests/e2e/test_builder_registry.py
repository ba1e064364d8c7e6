"""A docker-container builder as users make one, pushing to the local registry, end to end.

``mabgui builder create`` with its defaults (the daemon's insecure registries carried over into a
buildkitd config, the host network because 127.0.0.1:5000 is on loopback) → bootstrap → a
3-platform build and push to 127.0.0.1:5000 on the *current* builder (no ``--builder``) →
``docker run --platform linux/arm/v7`` prints ``armv7l`` → stop → bootstrap again → remove. And
the refusal, before anything starts, of a push the builder cannot make (host network off).

Needs the moby/buildkit image loaded (scripts/provision-engine.sh, from ../shared/engine). The
docker CLI runs with a private ``DOCKER_CONFIG`` (its ``cli-plugins`` kept, so CI's 0.13.1 pass
tests that buildx): the builders and the current-builder choice made here stay out of other
tests' sight. Every builder is removed in a ``finally``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Engine, missing_engine_part
from tests.e2e.commands import buildx_ls_json, mabgui, run, unique
from tests.e2e.docker_config import private_config

pytestmark = pytest.mark.engine

BUILDKIT_IMAGE = "moby/buildkit:buildx-stable-1"
THREE = "linux/amd64,linux/arm64,linux/arm/v7"


@pytest.fixture(scope="module", autouse=True)
def private_docker_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = private_config(tmp_path_factory.mktemp("docker-config"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_CONFIG", str(path))
        yield path


@pytest.fixture
def buildkit_image(engine: Engine) -> str:
    """The BuildKit image docker-container builders boot from; fail or skip when not loaded."""
    res = run("docker", "image", "inspect", BUILDKIT_IMAGE)
    if res.returncode != 0:
        missing_engine_part(
            f"{BUILDKIT_IMAGE} is not loaded (scripts/provision-engine.sh loads it)"
        )
    return BUILDKIT_IMAGE


def node_status(name: str) -> str:
    return str(buildx_ls_json()[name]["Nodes"][0]["Status"])  # type: ignore[index]


def containers_of(name: str) -> str:
    res = run("docker", "ps", "-a", "-q", "--filter", f"name=buildx_buildkit_{name}")
    return res.stdout.strip()


def cleanup(name: str) -> None:
    run("docker", "buildx", "rm", "--force", name, timeout=120)
    run("docker", "buildx", "use", "default")


def context(tmp_path: Path, engine: Engine) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f'FROM {engine.base_image}\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n'
    )
    return ctx


def test_builder_create_push_run_stop_bootstrap_remove(
    engine: Engine, buildkit_image: str, tmp_path: Path
) -> None:
    name = unique("dc")
    image = f"{engine.registry}/{unique('pushed')}:1"
    try:
        res = mabgui("builder", "create", "--name", name, "--bootstrap", "--use", "--json")
        assert res.returncode == 0, res.stderr
        created = json.loads(res.stdout)
        assert created["host_network"] is True
        assert engine.registry in created["registries"]
        assert created["builder"]["status"] == "running"

        raw = buildx_ls_json()[name]
        (raw_node,) = raw["Nodes"]  # type: ignore[misc]
        assert raw_node["DriverOpts"] == {"network": "host"}
        for platform in ("linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386"):
            assert platform in raw_node["Platforms"]
        res = mabgui("builders", "--json")
        assert res.returncode == 0, res.stderr
        mine = {b["name"]: b for b in json.loads(res.stdout)}[name]
        assert mine["current"] is True
        assert [(n["name"], n["status"], n["platforms"]) for n in mine["nodes"]] == [
            (raw_node["Name"], raw_node["Status"], raw_node["Platforms"])
        ]

        # No --builder: the current builder (the one just made) builds and pushes.
        res = mabgui("build", "--platform", THREE, "-t", image, "--push", "--no-history",
                     "-q", "--json", str(context(tmp_path, engine)))  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        summary = json.loads(res.stdout)
        assert summary["ok"] is True
        assert summary["builder"] == name
        assert list(summary["platforms"]) == THREE.split(",")
        assert summary["digest"].startswith("sha256:")
        out = run("docker", "run", "--rm", "--platform", "linux/arm/v7", image)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "armv7l"

        res = mabgui("builder", "stop", name)
        assert res.returncode == 0, res.stderr
        assert node_status(name) == "stopped"
        res = mabgui("builder", "bootstrap", name, "--json")
        assert res.returncode == 0, res.stderr
        assert node_status(name) == "running"

        assert run("docker", "buildx", "use", "default").returncode == 0
        res = mabgui("builder", "rm", name)
        assert res.returncode == 0, res.stderr
        assert name not in buildx_ls_json()
        assert containers_of(name) == ""
    finally:
        cleanup(name)
        run("docker", "image", "rm", "--force", image)


def test_push_refused_when_the_builder_has_no_host_network(
    engine: Engine, buildkit_image: str, tmp_path: Path
) -> None:
    name = unique("nohost")
    image = f"{engine.registry}/{unique('refused')}:1"
    try:
        # mabgui's defaults but the host network switched off: the HTTP config is there.
        res = mabgui("builder", "create", "--name", name, "--driver-opt", "network=bridge")
        assert res.returncode == 0, res.stderr
        ctx = str(context(tmp_path, engine))
        res = mabgui("build", "--builder", name, "--platform", "linux/amd64", "-t", image,
                     "--push", "--no-history", "--json", ctx)  # fmt: skip
        assert res.returncode == 1
        err = json.loads(res.stdout)
        assert err["ok"] is False
        assert f"builder {name} cannot push to {engine.registry}" in err["error"]
        assert "own network" in err["error"]
        assert f"recreate builder {name} with host network" in err["hint"]
        assert containers_of(name) == ""  # refused before anything started
        assert node_status(name) == "inactive"

        # The refusal is warranted: buildx itself, on that builder, cannot reach the registry.
        (tmp_path / "scratch").mkdir()
        (tmp_path / "scratch" / "f").write_text("x\n")
        (tmp_path / "scratch" / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
        res = run("docker", "buildx", "build", "--builder", name, "--progress=plain",
                  "-t", image, "--push", str(tmp_path / "scratch"))  # fmt: skip
        assert res.returncode != 0
        assert "connection refused" in res.stderr
    finally:
        cleanup(name)

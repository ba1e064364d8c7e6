"""A per-platform build that survives its failing arm64, then arm64 rebuilt alone and appended.

On the real stack: a docker-container builder made by ``mabgui builder create`` with its
defaults (the docker driver cannot push by digest), the registry on 127.0.0.1:5000, QEMU for
arm64 and arm/v7. ``RUN [ "$(uname -m)" != aarch64 ]`` fails on arm64 only: the index of
amd64 and arm/v7 is pushed anyway (exit 1, the JSON names both sides), checked with
``docker buildx imagetools inspect --raw``; the fixed Dockerfile's arm64 is appended; ``docker
run --platform`` of each prints its machine. The builder lives in a private ``DOCKER_CONFIG``
and is removed in a ``finally``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Engine
from tests.e2e.test_builder_registry import (
    buildkit_image,  # noqa: F401  (a fixture)
    cleanup,
    mabgui,
    private_docker_config,  # noqa: F401  (a fixture)
    run,
    unique,
)

pytestmark = pytest.mark.engine

UNAME = {"linux/amd64": "x86_64", "linux/arm64": "aarch64", "linux/arm/v7": "armv7l"}


def write_context(folder: Path, base: str, fail_arm64: bool) -> Path:
    folder.mkdir()
    gate = 'RUN [ "$(uname -m)" != aarch64 ]\n' if fail_arm64 else ""
    (folder / "Dockerfile").write_text(
        f'FROM {base}\n{gate}RUN uname -m > /arch\nCMD ["cat", "/arch"]\n'
    )
    return folder


def raw_index(image: str) -> tuple[str, list[str]]:
    """The index at ``image`` as the registry serves it: its digest and its platforms."""
    res = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", "--raw", image],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    platforms = []
    for m in doc["manifests"]:
        p = m.get("platform") or {}
        if p.get("os") == "unknown":  # attestation manifests
            continue
        platforms.append("/".join(x for x in (p["os"], p["architecture"], p.get("variant")) if x))
    return "sha256:" + hashlib.sha256(res.stdout).hexdigest(), platforms


@pytest.mark.usefixtures("buildkit_image")
def test_per_platform_build_keeps_the_platforms_that_succeed_then_appends_the_fixed_one(
    engine: Engine, tmp_path: Path
) -> None:
    name = unique("pp")
    image = f"{engine.registry}/{unique('perplat')}:1"
    try:
        res = mabgui("builder", "create", "--name", name, "--bootstrap", "--use", "--json")
        assert res.returncode == 0, res.stderr

        ctx = write_context(tmp_path / "broken", engine.base_image, fail_arm64=True)
        res = mabgui("build", "--per-platform", "--platform", ",".join(UNAME), "-t", image,
                     "--no-history", "-q", "--json", str(ctx))  # fmt: skip
        assert res.returncode == 1, res.stdout + res.stderr
        result = json.loads(res.stdout)
        assert result["ok"] is False
        assert result["partial"] is True
        assert result["builder"] == name
        assert result["index"]["reference"] == image
        assert result["index"]["platforms"] == ["linux/amd64", "linux/arm/v7"]
        (failed,) = result["failed"]
        assert failed["platform"] == "linux/arm64"
        assert "aarch64" in failed["step"]
        assert "linux/arm64" in res.stderr  # the error line says which platform failed
        digest, platforms = raw_index(image)
        assert digest == result["index"]["digest"]
        assert platforms == ["linux/amd64", "linux/arm/v7"]
        built = {b["platform"]: b["digest"] for b in result["builds"] if b["ok"]}
        for platform in built:  # each platform's image is what its own build pushed
            res_p = run("docker", "buildx", "imagetools", "inspect", "--raw",
                        f"{image.rsplit(':', 1)[0]}@{built[platform]}")  # fmt: skip
            assert res_p.returncode == 0, res_p.stderr

        fixed = write_context(tmp_path / "fixed", engine.base_image, fail_arm64=False)
        res = mabgui("build", "--per-platform", "--append", "--platform", "linux/arm64",
                     "-t", image, "--no-history", "-q", "--json", str(fixed))  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        appended = json.loads(res.stdout)
        assert appended["ok"] is True
        assert appended["failed"] == []
        assert appended["index"]["operation"] == "append"
        assert appended["index"]["previous"] == digest
        assert appended["index"]["added"] == ["linux/arm64"]
        digest2, platforms2 = raw_index(image)
        assert digest2 == appended["index"]["digest"]
        assert sorted(platforms2) == sorted(UNAME)

        for platform, machine in UNAME.items():
            out = run("docker", "run", "--rm", "--pull", "always", "--platform", platform, image)
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip() == machine
    finally:
        run("docker", "image", "rm", "--force", image)
        cleanup(name)


def test_per_platform_on_the_docker_driver_is_refused_before_anything_starts(
    engine: Engine, tmp_path: Path
) -> None:
    ctx = write_context(tmp_path / "ctx", engine.base_image, fail_arm64=False)
    image = f"{engine.registry}/{unique('perplat-refused')}:1"
    res = mabgui("build", "--per-platform", "--builder", "default", "--platform",
                 "linux/amd64,linux/arm64", "-t", image, "--no-history", "-q", "--json",
                 str(ctx))  # fmt: skip
    assert res.returncode == 1
    error = json.loads(res.stdout)
    assert error["ok"] is False
    assert "docker driver" in error["error"]
    assert "push by digest" in error["error"]
    assert run("docker", "buildx", "imagetools", "inspect", image).returncode != 0

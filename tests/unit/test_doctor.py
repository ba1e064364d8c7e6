"""The doctor's binfmt_misc check over a recorded binfmt_misc directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mabgui.core import doctor
from tests.conftest import FIXTURES

RECORDED = FIXTURES / "binfmt-doctor"


@pytest.fixture
def binfmt_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "binfmt_misc"
    shutil.copytree(RECORDED, dest, ignore=shutil.ignore_patterns("README.md"))
    return dest


def test_recorded_handlers_give_foreign_platforms(binfmt_dir: Path) -> None:
    check = doctor.check_binfmt(str(binfmt_dir))
    assert check.status is doctor.Status.OK
    assert check.data["platforms"] == [
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/arm64",
        "linux/ppc64le",
        "linux/riscv64",
        "linux/s390x",
    ]
    assert [h["name"] for h in check.data["handlers"]] == [
        "qemu-aarch64", "qemu-arm", "qemu-ppc64le", "qemu-riscv64", "qemu-s390x",
    ]  # fmt: skip


def test_unmounted_binfmt_fails_with_mount_hint(tmp_path: Path) -> None:
    check = doctor.check_binfmt(str(tmp_path))
    assert check.status is doctor.Status.FAIL
    assert "not mounted" in check.detail
    assert "mount -t binfmt_misc" in check.fix


def test_disabled_handlers_fail(binfmt_dir: Path) -> None:
    for handler in binfmt_dir.glob("qemu-*"):
        handler.write_text(handler.read_text().replace("enabled", "disabled", 1))
    check = doctor.check_binfmt(str(binfmt_dir))
    assert check.status is doctor.Status.FAIL
    assert "no QEMU emulator" in check.detail


def test_missing_fix_binary_flag_warns(binfmt_dir: Path) -> None:
    arm = binfmt_dir / "qemu-arm"
    arm.write_text(arm.read_text().replace("flags: POF", "flags: P"))
    check = doctor.check_binfmt(str(binfmt_dir))
    assert check.status is doctor.Status.WARN
    assert "qemu-arm" in check.detail


def test_diagnosis_json_shape() -> None:
    diagnosis = doctor.Diagnosis(
        [doctor.Check("daemon", "Docker daemon", doctor.Status.FAIL, "down", "start it")]
    )
    data = diagnosis.to_json()
    assert data["ok"] is False
    assert data["checks"][0]["status"] == "fail"
    assert data["checks"][0]["fix"] == "start it"


async def test_diagnosis_from_one_docker_info(binfmt_dir: Path) -> None:
    """Daemon, image store and buildx checks come from the facts given: nothing is re-asked."""
    from mabgui.core import engine

    up = engine.parse_engine_facts(
        (FIXTURES / "engine" / "docker-info.json").read_text(),
        endpoint="unix:///var/run/docker.sock",
    )
    diagnosis = await doctor.diagnose(str(binfmt_dir), facts=up)
    assert diagnosis.facts is up
    daemon = diagnosis.check("daemon")
    assert daemon is not None
    assert daemon.status is doctor.Status.OK
    assert daemon.data["platform"] == "linux/amd64"
    assert daemon.data["insecure_registries"] == ["127.0.0.0/8", "127.0.0.1:5000", "localhost:5000"]
    store = diagnosis.check("image-store")
    assert store is not None
    assert store.status is doctor.Status.OK
    bx = diagnosis.check("buildx")
    assert bx is not None
    assert bx.data["version"] == "0.30.1"
    binfmt_check = diagnosis.check("binfmt")
    assert binfmt_check is not None
    assert "linux/amd64" not in binfmt_check.data["platforms"]
    assert diagnosis.to_json()["engine"]["buildx_version"] == "0.30.1"

    down = engine.parse_engine_facts(
        (FIXTURES / "engine" / "docker-info-daemon-down.json").read_text(),
        stderr=(FIXTURES / "engine" / "docker-info-daemon-down.err").read_text(),
    )
    diagnosis = await doctor.diagnose(str(binfmt_dir), facts=down)
    daemon = diagnosis.check("daemon")
    assert daemon is not None
    assert daemon.status is doctor.Status.FAIL
    assert "Cannot connect to the Docker daemon" in daemon.detail
    assert "Start the Docker daemon" in daemon.fix
    assert diagnosis.check("image-store") is None
    assert not diagnosis.multiplatform_ready

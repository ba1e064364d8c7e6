"""The daemon backend's pure parts and the builder coverage, over recorded output."""

from __future__ import annotations

from pathlib import Path

import pytest

from mabgui.core import binfmt, buildx
from mabgui.core import overview as binfmt_builders
from mabgui.core.binfmt import BinfmtError
from mabgui.core.binfmt import daemon as binfmt_daemon
from mabgui.core.platform import Platform

FIXTURES = Path(__file__).parent.parent / "fixtures" / "binfmt"
P = Platform.parse


def test_installer_status_after_install() -> None:
    status = binfmt_daemon.parse_installer_status((FIXTURES / "installer-install.txt").read_text())
    assert status.supported == [P("linux/arm64"), P("linux/amd64")]
    assert status.emulators == ["qemu-x86_64"]


def test_installer_status_with_null_emulators() -> None:
    text = (FIXTURES / "installer-status-null.txt").read_text()
    status = binfmt_daemon.parse_installer_status(text)
    assert status.supported == [P("linux/arm64")]
    assert status.emulators == []


@pytest.mark.parametrize("text", ["", "exec format error", "{not json}", "[1, 2]"])
def test_installer_garbage(text: str) -> None:
    with pytest.raises(BinfmtError):
        binfmt_daemon.parse_installer_status(text)


def test_installer_arguments() -> None:
    archs = [binfmt_daemon.installer_arch(P(p)) for p in ("arm64", "linux/arm/v7", "riscv64")]
    assert binfmt_daemon.installer_args("install", archs) == ["--install", "arm64,arm,riscv64"]
    assert binfmt_daemon.installer_args("uninstall", ["qemu-aarch64"]) == [
        "--uninstall",
        "qemu-aarch64",
    ]


def test_daemon_commands_say_what_runs() -> None:
    backend = binfmt_daemon.DaemonBinfmt("127.0.0.1:5000/busybox:latest", "tonistiigi/binfmt")
    assert backend.command_for("disable", "qemu-s390x") == (
        "docker run --rm --privileged -v /proc/sys/fs/binfmt_misc:/binfmt_misc "
        "127.0.0.1:5000/busybox:latest sh -c 'echo 0 > /binfmt_misc/qemu-s390x'"
    )
    assert backend.command_for("install", "arm64 linux/riscv64") == (
        "docker run --rm --privileged tonistiigi/binfmt --install arm64,riscv64"
    )
    assert backend.command_for("uninstall", "qemu-aarch64") == (
        "docker run --rm --privileged tonistiigi/binfmt --uninstall qemu-aarch64"
    )


async def test_daemon_refuses_bad_names_before_running_anything() -> None:
    backend = binfmt_daemon.DaemonBinfmt("127.0.0.1:5000/busybox:latest")
    for name in ("../status", "status", "a b", "x;reboot", "-x", "--all"):
        with pytest.raises(BinfmtError, match="is not a valid handler name"):
            await backend.set_enabled(name, False)
        with pytest.raises(BinfmtError, match="is not a valid handler name"):
            await backend.uninstall([name])


def _builders() -> list[binfmt_builders.BuilderPlatforms]:
    text = (FIXTURES / "buildx-ls.json").read_text()
    return [binfmt_builders.from_buildx(b) for b in buildx.parse_ls_json(text)]


def test_buildx_ls_is_deduplicated() -> None:
    builders = _builders()
    assert [b.name for b in builders] == ["default"]
    default = builders[0]
    assert default.driver == "docker"
    assert default.running
    assert P("linux/s390x") in default.platforms
    assert P("linux/arm/v7") not in default.platforms


def test_which_builders_list_each_handler() -> None:
    builders = _builders()
    state = binfmt.read_state(FIXTURES / "extra")
    listing = {h.name: binfmt_builders.listing_builders(h, builders) for h in state.handlers}
    assert listing["qemu-s390x"] == ["default"]
    assert listing["qemu-aarch64"] == ["default"]
    assert listing["qemu-arm"] == []
    assert listing["python3.11"] == []


def test_enabled_handler_missing_from_a_running_builder() -> None:
    builders = _builders()
    state = binfmt.read_state(FIXTURES / "host")
    stale = binfmt_builders.stale_builders(state, builders, native=P("linux/amd64"))
    assert [(s.handler.name, s.builder.name) for s in stale] == [("qemu-arm", "default")]
    assert "restart" in stale[0].message
    docker = stale[0].builder
    assert buildx.restart_argv(docker.name, docker.driver) == []  # docker driver: dockerd
    assert buildx.restart_argv("multi", "docker-container") == [
        ["docker", "buildx", "stop", "--", "multi"],
        ["docker", "buildx", "inspect", "--bootstrap", "--", "multi"],
    ]
    # A stopped builder re-detects at its next start: no warning.
    stopped = binfmt_builders.BuilderPlatforms("idle", "docker-container", "inactive")
    assert binfmt_builders.stale_builders(state, [stopped], native=P("linux/amd64")) == []

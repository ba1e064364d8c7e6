"""The checks before a build that join buildx, binfmt and references (no engine needed here)."""

from __future__ import annotations

import pytest

from mabgui.core import build as B
from mabgui.core import preflight
from mabgui.core.buildx import Builder, Node
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

P = Platform.parse
AMD64, ARM64 = P("linux/amd64"), P("linux/arm64")
CTX = FIXTURES / "progress" / "ctx-multi"


def _builder(name: str, *nodes: tuple[Platform, ...]) -> Builder:
    return Builder(
        name,
        "docker-container",
        tuple(
            Node(f"{name}{i}", "unix:///var/run/docker.sock", "running", platforms=p)
            for i, p in enumerate(nodes)
        ),
    )


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["UPPER/Case:1"], "tag 'UPPER/Case:1' is not a valid image reference"),
        (["a:b:c:d"], "is not a valid image reference"),
        (["127.0.0.1:5000/x@sha256:" + "a" * 64], "cannot carry a digest"),
    ],
)
def test_tags_must_be_image_references(tags: list[str], message: str) -> None:
    v = B.Validation()
    preflight.check_tags(B.BuildSpec(context=str(CTX), tags=tags), v)
    assert any(message in e for e in v.errors), v.errors


def test_good_tags_pass() -> None:
    v = B.Validation()
    preflight.check_tags(B.BuildSpec(context=".", tags=["127.0.0.1:5000/a/b:c", "busybox"]), v)
    assert v.ok


def test_native_platforms_are_each_nodes_first_platform() -> None:
    multi = _builder("multi", (AMD64, P("linux/386")), (ARM64, P("linux/arm/v7")))
    assert preflight.builder_native_platforms(multi) == (AMD64, ARM64)
    assert preflight.builder_native_platforms(_builder("empty")) == ()

    class WithMethod:
        nodes = multi.nodes

        def native_platforms(self) -> tuple[Platform, ...]:
            return (ARM64,)

    assert preflight.builder_native_platforms(WithMethod()) == (ARM64,)


def test_another_os_is_not_an_emulator_to_install() -> None:
    builder = _builder("b", (AMD64, ARM64))
    windows = P("windows/amd64")
    spec = B.BuildSpec(context=".", platforms=[windows], builder="b")
    (warning,) = preflight.platform_warnings(spec, builder, [builder], (AMD64,))
    assert "QEMU emulates processors, not operating systems" in warning
    assert "install" not in warning.replace("use a builder", "")
    assert "windows node" in warning


def test_a_native_platform_on_another_node_is_not_emulated() -> None:
    builder = _builder("b", (AMD64,), (ARM64,))
    spec = B.BuildSpec(context=".", platforms=[P("linux/arm64/v8")], builder="b")
    assert spec.platforms == [ARM64]  # normalised: listed, so nothing to say
    assert preflight.platform_warnings(spec, builder, [builder], (AMD64, ARM64)) == []

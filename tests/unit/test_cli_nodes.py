"""The CLI's views of node routing: build lanes, warnings, what follows removing a builder."""

from __future__ import annotations

import pytest

from mabgui.cli import nodes
from mabgui.core import buildx
from mabgui.core.buildx import routing
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

NODES = FIXTURES / "buildx" / "nodes"
BOTH = [Platform.parse("linux/amd64"), Platform.parse("linux/arm64")]


def builder(state: str) -> buildx.Builder:
    (b,) = buildx.parse_ls_json((NODES / f"ls-{state}-current.txt").read_text())
    pins = routing.parse_pins((NODES / f"pins-{state}.txt").read_text())
    return routing.with_pins([b], pins)[0]


def test_lanes_name_their_node_and_native_or_qemu() -> None:
    summary = {"platforms": {"linux/amd64": {"ok": True}, "linux/arm64": {"ok": True}}}
    nodes.add_lanes(summary, nodes.lanes_json(builder("unpinned"), BOTH))
    assert summary["platforms"]["linux/arm64"] == {"ok": True}  # as replay reads it
    assert summary["nodes"] == {
        "linux/amd64": {"node": "amd", "native": True, "emulation": "native"},
        "linux/arm64": {"node": "amd", "native": False, "emulation": "qemu"},
    }
    assert nodes.lanes_json(None, BOTH) == {}


def test_print_lanes_only_for_multi_node(capsys: pytest.CaptureFixture[str]) -> None:
    b = builder("pinned")
    nodes.print_lanes(b, nodes.lanes_json(b, BOTH))
    out = capsys.readouterr().out
    assert "linux/arm64      built on node arm natively" in out
    single = buildx.Builder("one", "remote", nodes=b.nodes[:1])
    nodes.print_lanes(single, nodes.lanes_json(single, BOTH))
    assert capsys.readouterr().out == ""


def test_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    (warning,) = nodes.warnings_json(builder("arm-pinned"))
    assert warning["platform"] == "linux/arm64"
    assert nodes.print_warnings(builder("arm-pinned")) is True
    assert "Fix: mabgui builder pin-native mabgui-fixture-2node" in capsys.readouterr().out
    assert nodes.print_warnings(builder("pinned")) is False


def test_removing_the_current_builder_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    nodes.print_after_remove("b", ["a", "b"])
    assert "b was the current builder" in capsys.readouterr().out
    nodes.print_after_remove("c", ["a", "b"])
    nodes.print_after_remove("", ["a"])
    assert capsys.readouterr().out == ""

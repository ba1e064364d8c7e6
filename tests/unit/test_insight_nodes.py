"""Emulation insight compares only RUN steps that ran both natively and emulated, per node."""

from __future__ import annotations

from mabgui.core import progress as P
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")


def recorded() -> P.BuildProgress:
    return P.parse_bytes((FIXTURES / "progress" / "multi-platform.rawjson").read_bytes())


def test_only_run_steps_that_ran_both_ways_compare() -> None:
    progress = recorded()
    costs = P.emulation_insight(progress)
    assert costs
    for c in costs:
        assert c.native.name.startswith("RUN")
        assert c.emulated.name == c.native.name
        assert not c.native.cached
        assert not c.emulated.cached
        assert c.native.platform != c.emulated.platform
    assert all(" natively with " in line for line in P.compared(costs))  # no node known


def test_nodes_decide_native_and_are_named() -> None:
    progress = recorded()
    platforms = list(progress.lanes)
    assert AMD64 in platforms
    assert ARM64 in platforms
    # unpinned 2-node builder: everything on node amd, arm64 there under QEMU
    unpinned = {p: ("amd", p == AMD64) for p in platforms}
    costs = P.emulation_insight(progress, nodes=unpinned)
    assert costs
    assert {c.native_node for c in costs} == {"amd"}
    assert {c.emulated_node for c in costs} == {"amd"}
    assert any(
        line.startswith("linux/amd64 natively on node amd with linux/arm64 under QEMU on node amd")
        for line in P.compared(costs)
    )
    # every node pinned to its native platform: each lane native on its own node, no QEMU
    pinned = {p: ("amd" if p == AMD64 else "arm", True) for p in platforms}
    assert P.emulation_insight(progress, nodes=pinned) == []
    # only arm64 native (on node arm): the other lanes are compared with it
    arm_native = {p: ("arm" if p == ARM64 else "amd", p == ARM64) for p in platforms}
    costs = P.emulation_insight(progress, nodes=arm_native)
    assert {c.native.platform for c in costs} == {ARM64}
    assert {c.native_node for c in costs} == {"arm"}

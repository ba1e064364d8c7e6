"""buildx's node choice per platform, on a recorded real 2-node builder (fixtures/buildx/nodes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mabgui.core import buildx, overview
from mabgui.core.buildx import routing
from mabgui.core.buildx.routing import Route
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

NODES = FIXTURES / "buildx" / "nodes"
NAME = "mabgui-fixture-2node"
AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
ARMV7 = Platform.parse("linux/arm/v7")
BOTH = [AMD64, ARM64]


Recorded = Callable[[str], buildx.Builder]


@pytest.fixture(params=[".", "0.13.1"], ids=["buildx-0.30.1", "buildx-0.13.1"])
def where(request: pytest.FixtureRequest) -> Path:
    """The recording of one buildx version (record.sh)."""
    return NODES / str(request.param)


@pytest.fixture
def recorded(where: Path) -> Recorded:
    """The builder as mabgui lists it (ls with its current flag) plus the pins read apart."""

    def load(state: str) -> buildx.Builder:
        (builder,) = buildx.parse_ls_json((where / f"ls-{state}-current.txt").read_text())
        assert builder == buildx.parse_ls_json((where / f"ls-{state}.json").read_text())[0]
        pins = routing.parse_pins((where / f"pins-{state}.txt").read_text())
        (pinned,) = routing.with_pins([builder], pins)
        return pinned

    return load


def test_pins_are_read_from_the_node_group(where: Path) -> None:
    assert routing.parse_pins((where / "pins-unpinned.txt").read_text()) == {
        NAME: {"amd": (), "arm": ()}
    }
    assert routing.parse_pins((where / "pins-arm-pinned.txt").read_text()) == {
        NAME: {"amd": (), "arm": (ARM64,)}
    }
    assert routing.parse_pins((where / "pins-pinned.txt").read_text()) == {
        NAME: {"amd": (AMD64,), "arm": (ARM64,)}
    }


def test_pins_agree_with_inspect_stars(recorded: Recorded, where: Path) -> None:
    for state in ("unpinned", "arm-pinned", "pinned"):
        inspected = buildx.parse_inspect((where / f"inspect-{state}.txt").read_text())
        listed = recorded(state)
        assert [n.pinned for n in inspected.nodes] == [n.pinned for n in listed.nodes]


def test_native_is_each_node_own_first_platform(recorded: Recorded) -> None:
    builder = recorded("unpinned")
    assert routing.natives(builder) == {"amd": AMD64, "arm": ARM64}
    # Both nodes list both platforms: only the order tells the native one.
    assert all({AMD64, ARM64} <= set(n.platforms) for n in builder.nodes)


def test_unpinned_sends_both_platforms_to_the_first_node(recorded: Recorded) -> None:
    routes = routing.route(recorded("unpinned"), BOTH)
    assert routes == {AMD64: Route("amd", True), ARM64: Route("amd", False)}


def test_pinning_only_the_arm_node_changes_nothing(recorded: Recorded) -> None:
    routes = routing.route(recorded("arm-pinned"), BOTH)
    assert routes == {AMD64: Route("amd", True), ARM64: Route("amd", False)}


def test_every_node_pinned_sends_each_platform_to_its_node(recorded: Recorded) -> None:
    routes = routing.route(recorded("pinned"), BOTH)
    assert routes == {AMD64: Route("amd", True), ARM64: Route("arm", True)}
    # One platform pinned nowhere: buildx falls back to the first node listing each platform.
    routes = routing.route(recorded("pinned"), [*BOTH, ARMV7])
    assert routes[ARM64] == Route("amd", False)
    assert routes[ARMV7] == Route("amd", False)


def test_a_single_platform_build_uses_its_pinned_node(recorded: Recorded) -> None:
    assert routing.route(recorded("arm-pinned"), [ARM64]) == {ARM64: Route("arm", True)}
    assert routing.route(recorded("unpinned"), [ARM64]) == {ARM64: Route("amd", False)}


def test_routing_problem_reported_until_every_node_is_pinned(recorded: Recorded) -> None:
    for state in ("unpinned", "arm-pinned"):
        (problem,) = routing.routing_problems(recorded(state))
        assert problem.platform == ARM64
        assert problem.chosen_node == "amd"
        assert problem.native_nodes == ("arm",)
        assert "amd" in problem.unpinned
        assert problem.fix == f"mabgui builder pin-native {NAME}"
        data = problem.to_json()
        assert data["action"] == "pin-native"
        assert "QEMU" in data["message"]
    assert routing.routing_problems(recorded("pinned")) == []


def test_pin_commands_pin_each_node_to_its_native_platform(recorded: Recorded) -> None:
    assert routing.pin_commands(recorded("unpinned")) == [
        ["create", "--append", "--name", NAME, "--node", "amd", "--platform", "linux/amd64",
         "tcp://127.0.0.1:33795"],
        ["create", "--append", "--name", NAME, "--node", "arm", "--platform", "linux/arm64",
         "tcp://127.0.0.1:36993"],
    ]  # fmt: skip
    assert len(routing.pin_commands(recorded("arm-pinned"))) == 1
    assert routing.pin_commands(recorded("pinned")) == []


def test_single_node_and_stopped_nodes(recorded: Recorded) -> None:
    builder = recorded("unpinned")
    single = replace(builder, nodes=builder.nodes[:1])
    assert routing.routing_problems(single) == []
    stopped = replace(
        builder, nodes=tuple(replace(n, status="inactive", platforms=()) for n in builder.nodes)
    )
    # Nothing detected and nothing pinned: buildx falls back to the first node.
    assert routing.route(stopped, BOTH) == {AMD64: Route("amd", False), ARM64: Route("amd", False)}
    assert routing.routing_problems(stopped) == []


@pytest.mark.parametrize(
    ("offered", "wanted", "ok"),
    [
        ("linux/amd64", "linux/386", True),
        ("linux/amd64/v3", "linux/amd64/v2", True),
        ("linux/amd64", "linux/amd64/v2", False),
        ("linux/arm64", "linux/arm/v7", True),
        ("linux/arm/v7", "linux/arm/v6", True),
        ("linux/arm/v6", "linux/arm/v7", False),
        ("linux/amd64", "linux/arm64", False),
    ],
)
def test_containerd_only_matching(offered: str, wanted: str, ok: bool) -> None:
    node = buildx.Node("n", "tcp://x", status="running", platforms=(Platform.parse(offered),))
    builder = buildx.Builder("b", "remote", nodes=(buildx.Node("first", "tcp://y"), node))
    assert (
        routing.route(builder, [Platform.parse(wanted)])[Platform.parse(wanted)].node == "n"
    ) == ok


def test_a_closer_match_on_a_later_node_wins() -> None:
    first = buildx.Node("a", "tcp://a", status="running", platforms=(ARM64,))
    second = buildx.Node("b", "tcp://b", status="running", platforms=(ARMV7,))
    builder = buildx.Builder("x", "remote", nodes=(first, second))
    assert routing.route(builder, [ARMV7]) == {ARMV7: Route("b", True)}
    assert routing.route(builder, [ARM64]) == {ARM64: Route("a", True)}


def test_a_platform_pinned_nowhere_defeats_every_pin(recorded: Recorded) -> None:
    (arm64,) = routing.misrouted(recorded("pinned"), [*BOTH, ARMV7])
    assert arm64.platform == ARM64
    assert arm64.unpinned == ()
    assert arm64.pinned_nowhere == (ARMV7,)
    assert "no node is pinned to linux/arm/v7" in arm64.reason
    assert "separate build" in arm64.fix
    assert arm64.to_json()["action"] == ""


def test_a_problem_as_a_builders_view_note(recorded: Recorded) -> None:
    (problem,) = routing.routing_problems(recorded("unpinned"))
    note = overview.routing_note(problem)
    assert (note.level, note.action) == ("warning", "pin-native")
    assert note.title.startswith("Builder mabgui-fixture-2node builds linux/arm64 under QEMU")
    assert "pin-native" in note.detail
    # The Builders view shows it among the builder's notes.
    builder = recorded("unpinned")
    assert note in overview.Overview([builder]).notes(builder)

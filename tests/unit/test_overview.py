"""Chips, notes and stale builders: builders joined with emulators, native decided per node."""

from __future__ import annotations

from mabgui.core import buildx, overview
from mabgui.core.buildx import Builder, Node
from mabgui.core.engine import EngineFacts
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

FIX = FIXTURES / "buildx"
P = Platform.parse
AMD64 = P("linux/amd64")
ARM64 = P("linux/arm64")
FACTS = EngineFacts(
    context="default", endpoint="unix:///var/run/docker.sock", os_type="linux",
    architecture="x86_64", image_store=True,
)  # fmt: skip
CONTEXTS = {"default": FACTS.endpoint, "mabgui-e2e-second": "unix:///tmp/x.sock"}


def builders(fixture: str, facts: EngineFacts | None = FACTS) -> list[Builder]:
    parsed = buildx.parse_ls_json((FIX / fixture).read_text())
    return buildx.with_engine(buildx.resolve_hosts(parsed, CONTEXTS), facts)


def test_chips_mark_emulated_platforms_of_local_nodes() -> None:
    (default,) = builders("ls-default-current.txt")
    node = default.nodes[0]
    emulatable = [ARM64, P("linux/arm/v7"), P("linux/arm/v6"), P("linux/s390x")]
    chips = overview.platform_chips(node, emulatable)
    kinds = {str(c.platform): c.kind for c in chips}
    assert kinds["linux/amd64"] == "native"
    assert kinds["linux/amd64/v3"] == "native"
    assert kinds["linux/arm64"] == "emulated"
    assert kinds["linux/s390x"] == "emulated"
    assert kinds["linux/arm/v7"] == "unlisted"
    assert kinds["linux/arm/v6"] == "unlisted"
    # A remote node not started yet: neither native nor emulated is known.
    idle = Node("r0", "ssh://pi@arm-box", "inactive", platforms=(ARM64,), pinned=(ARM64,))
    assert [c.kind for c in overview.platform_chips(idle, emulatable)] == ["unknown"]


def test_an_arm64_node_marks_its_arm64_lane_native() -> None:
    """Per node, never from the machine mabgui runs on: the arm64 node's arm64 is native."""
    amd = Node("b0", "unix:///var/run/docker.sock", "running", platforms=(AMD64, ARM64))
    arm = Node("b1", "tcp://arm-box:1234", "running", platforms=(ARM64, P("linux/arm/v7")))
    (builder,) = buildx.with_engine([Builder("b", "docker-container", (amd, arm))], FACTS)
    amd_kinds = {str(c.platform): c.kind for c in overview.platform_chips(builder.nodes[0])}
    arm_kinds = {str(c.platform): c.kind for c in overview.platform_chips(builder.nodes[1])}
    assert amd_kinds == {"linux/amd64": "native", "linux/arm64": "emulated"}
    assert arm_kinds == {"linux/arm64": "native", "linux/arm/v7": "emulated"}
    # An arm64 daemon: the local node's arm64 is native and amd64 emulated.
    arm_daemon = EngineFacts(context="default", endpoint=FACTS.endpoint, architecture="aarch64")
    node = Node("d", "default", "inactive")
    (b,) = buildx.with_engine([Builder("d", "docker", (node,))], arm_daemon)
    assert b.nodes[0].native_platform == ARM64


def test_notes_explain_what_buildx_does_not() -> None:
    (default,) = builders("ls-default-current.txt")
    notes = overview.builder_notes(default, emulatable=[P("linux/arm/v7")], image_store=False)
    titles = [n.title for n in notes]
    assert "The docker driver cannot build several platforms here" in titles
    unlisted = next(n for n in notes if "linux/arm/v7" in n.title)
    assert "restarting dockerd" in unlisted.detail
    assert overview.builder_notes(default, image_store=True) == []

    by_name = {b.name: b for b in builders("ls-error.json")}
    notes = overview.builder_notes(by_name["mabgui-fixture-multi"])
    error = notes[0]  # errors first
    assert error.level == "error"
    assert error.title == "Node mabgui-fixture-multi1 is in error"
    assert error.action == ""  # its daemon is down: Bootstrap would not help
    assert "Cannot connect to the Docker daemon" in error.detail
    assert "not running or not reachable" in error.detail
    assert any(n.title == "Node mabgui-fixture-multi0 is inactive" for n in notes)
    broken = overview.builder_notes(by_name["mabgui-e2e-second"])
    assert broken[0].level == "error"
    assert broken[0].action == "remove"


def test_running_docker_container_node_missing_an_emulator_offers_restart() -> None:
    node = Node("b0", "unix:///var/run/docker.sock", "running", platforms=(AMD64, ARM64))
    (builder,) = buildx.with_engine([Builder("b", "docker-container", (node,))], FACTS)
    (note,) = overview.builder_notes(builder, emulatable=[P("riscv64"), ARM64])
    assert note.action == "restart"
    assert note.title.startswith("linux/riscv64 can be emulated")


def test_unlisted_emulated_is_the_one_rule() -> None:
    listed = [AMD64, P("linux/amd64/v2"), ARM64]
    assert overview.unlisted_emulated(listed, [AMD64], [ARM64, P("riscv64"), AMD64]) == [
        P("linux/riscv64")
    ]
    assert overview.unlisted_emulated(listed, [], [P("riscv64")]) == []  # native unknown
    # On an arm64 node, arm64 itself is never "an emulator it misses".
    assert overview.unlisted_emulated([], [ARM64], [ARM64, AMD64]) == [AMD64]


def test_overview_json_names_each_nodes_native_platform() -> None:
    ov = overview.Overview(builders("ls-default-current.txt"), FACTS, frozenset({P("arm/v7")}))
    assert ov.image_store is True
    (data,) = ov.to_json()
    node = data["nodes"][0]
    assert node["native_platform"] == "linux/amd64"
    assert "linux/arm64" in node["emulated"]
    assert node["emulatable_unlisted"] == ["linux/arm/v7"]


def test_stale_builders_judge_each_builder_by_its_own_nodes() -> None:
    from mabgui.core import binfmt

    state = binfmt.read_state(FIXTURES / "binfmt" / "host")
    # A running arm64-native builder that lists only arm64: the arm handlers are stale for it,
    # the aarch64 handler is its native platform, not an emulator it misses.
    arm = overview.BuilderPlatforms(
        "armbox", "docker-container", "running", (ARM64,), ("armbox0",), (ARM64,)
    )
    stale = {s.handler.name for s in overview.stale_builders(state, [arm])}
    assert "qemu-aarch64" not in stale
    assert "qemu-arm" in stale
    unknown = overview.BuilderPlatforms("idle", "docker-container", "running", (ARM64,))
    assert overview.stale_builders(state, [unknown]) == []  # native unknown: no judgement

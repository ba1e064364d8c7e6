"""The GUI's build-start join (preflight_push.plan_build's pure parts) and the one-click push fix
(the request that recreates a builder with mabgui's registry defaults)."""

from __future__ import annotations

import base64

from mabgui.core import buildx, preflight_push
from mabgui.core.buildx import Builder, Node, registries, routing
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

DAEMON = ["127.0.0.0/8", "127.0.0.1:5000", "localhost:5000"]
AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
NODES = FIXTURES / "buildx" / "nodes"


def bridge_builder(config: str = "") -> Builder:
    files = {"buildkitd.toml": base64.b64encode(config.encode()).decode()} if config else {}
    node = Node(name="b0", endpoint="unix:///var/run/docker.sock", pinned=(ARM64,),
                driver_opts={"network": "bridge", "image": "moby/buildkit:x"}, files=files,
                flags=("--debug",))  # fmt: skip
    return Builder(name="b", driver="docker-container", nodes=(node,), current=True)


def test_recreate_request_keeps_the_builder_and_fixes_the_registry() -> None:
    builder = bridge_builder("debug = true\n")
    tags = ["127.0.0.1:5000/hello:1"]
    assert preflight_push.push_problems(builder, tags, DAEMON)
    req, setup = preflight_push.recreate_request(builder, ["127.0.0.1:5000"], DAEMON)
    assert setup.host_network
    assert "127.0.0.1:5000" in setup.hosts
    assert setup.config_text.startswith("debug = true")  # the node's own config is the base
    (node,) = req.nodes
    assert (req.name, req.driver, req.use, req.bootstrap) == ("b", "docker-container", True, True)
    assert (node.name, node.endpoint, node.platforms) == ("b0", builder.nodes[0].endpoint, (ARM64,))
    assert node.buildkitd_flags == "--debug"
    assert "network" not in node.driver_opts  # host network comes from registries.apply
    applied = registries.apply(req, setup, "/tmp/x.toml")
    assert applied.nodes[0].driver_opts == {"image": "moby/buildkit:x", "network": "host"}
    # What it creates can push there: the same judgement as before the build.
    files = {"buildkitd.toml": base64.b64encode(setup.config_text.encode()).decode()}
    fixed = Node(name="b0", endpoint=node.endpoint, driver_opts=applied.nodes[0].driver_opts,
                 files=files)  # fmt: skip
    assert (
        preflight_push.push_problems(
            Builder(name="b", driver="docker-container", nodes=(fixed,)), tags, DAEMON
        )
        == []
    )


def test_fix_summary_names_host_network_and_http() -> None:
    builder = bridge_builder()
    text = preflight_push.fix_summary(builder, ["127.0.0.1:5000/hello:1"], DAEMON)
    assert text == "Recreate builder b with host network and 127.0.0.1:5000 over HTTP"
    assert preflight_push.fixable(builder)
    far = Node(name="far", endpoint="x", host="ssh://me@box")
    assert not preflight_push.fixable(Builder(name="f", driver="docker-container", nodes=(far,)))
    assert not preflight_push.fixable(Builder(name="r", driver="remote"))


def test_lanes_name_the_node_and_native_per_node() -> None:
    for state, arm_node, arm_native in (("unpinned", "amd", False), ("pinned", "arm", True)):
        (builder,) = buildx.parse_ls_json((NODES / f"ls-{state}.json").read_text())
        (builder,) = routing.with_pins(
            [builder], routing.parse_pins((NODES / f"pins-{state}.txt").read_text())
        )
        lanes = preflight_push.lanes(builder, [AMD64, ARM64])
        assert lanes[AMD64] == preflight_push.Lane("amd", True)
        assert lanes[ARM64] == preflight_push.Lane(arm_node, arm_native)


def test_lanes_of_a_stopped_node_do_not_guess() -> None:
    node = Node(name="n0", endpoint="default", status="inactive")
    builder = Builder(name="s", driver="docker-container", nodes=(node,))
    assert preflight_push.lanes(builder, [ARM64]) == {ARM64: preflight_push.Lane("n0", None)}

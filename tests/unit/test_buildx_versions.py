"""buildx 0.13.1 and 0.30.1 output of the same builders (tests/fixtures/buildx/<version>/README.md).

``mabgui builders --json`` is built from mabgui's ``ls`` query; it must agree with ``docker buildx
ls --format json`` of the same moment (nodes, status, platforms) on both versions.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mabgui.core import buildx
from mabgui.core import progress as P
from mabgui.core.buildx import registries
from mabgui.core.overview import Overview
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

VERSIONS = ("0.13.1", "0.30.1")
AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")


def read(version: str, name: str) -> str:
    return (FIXTURES / "buildx" / version / name).read_text()


def raw_builders(version: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for line in read(version, "ls.json").splitlines():
        data = json.loads(line)
        out.setdefault(data["Name"], data)
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_builders_json_agrees_with_buildx_ls_json(version: str) -> None:
    mine = Overview(buildx.parse_ls_json(read(version, "ls-current.txt"))).to_json()
    raw = raw_builders(version)
    assert [b["name"] for b in mine] == list(raw)
    for b in mine:
        r = raw[b["name"]]
        assert b["driver"] == r["Driver"]
        assert [n["name"] for n in b["nodes"]] == [n["Name"] for n in r["Nodes"]]
        assert [n["status"] for n in b["nodes"]] == [n["Status"] for n in r["Nodes"]]
        assert [n["platforms"] for n in b["nodes"]] == [n.get("Platforms", []) for n in r["Nodes"]]
        assert [n["endpoint"] for n in b["nodes"]] == [n["Endpoint"] for n in r["Nodes"]]
    assert [b["name"] for b in mine if b["current"]] == ["mabgui-fixture-dc"]
    if version != "0.13.1":  # 0.13.1's JSON has no Current; the template supplies it
        assert [n for n, r in raw.items() if r["Current"]] == ["mabgui-fixture-dc"]


@pytest.mark.parametrize("version", VERSIONS)
def test_docker_container_builder_from_ls(version: str) -> None:
    builders = {b.name: b for b in buildx.parse_ls_json(read(version, "ls-current.txt"))}
    dc = builders["mabgui-fixture-dc"]
    assert (dc.driver, dc.status, dc.current) == ("docker-container", "running", True)
    (node,) = dc.nodes
    assert node.buildkit == "v0.22.0"
    assert node.driver_opts == {"network": "host"}
    # The emulated platforms a docker-container node lists, arm/v7 and arm/v6 among them.
    for p in ("linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386", "linux/s390x"):
        assert Platform.parse(p) in node.platforms
    assert node.pinned == ()
    assert not node.unparsed_platforms
    assert [r.keep_duration for r in node.gc_policy][:2] == ["48h0m", "1440h0m"]
    assert node.gc_policy[0].filters[0].startswith("type==source.local")
    assert node.gc_policy[-1].all
    config = registries.config_registries(registries.node_config(node))
    assert config == {"127.0.0.1:5000": registries.RegistryRule(http=True, insecure=True)}
    idle = builders["mabgui-fixture-idle"]
    assert (idle.status, idle.nodes[0].status, idle.nodes[0].platforms) == ("inactive",) * 2 + ((),)
    assert builders["default"].nodes[0].platforms[0] == AMD64


@pytest.mark.parametrize("version", VERSIONS)
def test_inspect_text(version: str) -> None:
    dc = buildx.parse_inspect(read(version, "inspect-dc.txt"))
    assert (dc.name, dc.driver) == ("mabgui-fixture-dc", "docker-container")
    (node,) = dc.nodes
    listed = raw_builders(version)["mabgui-fixture-dc"]["Nodes"][0]["Platforms"]
    assert [str(p) for p in node.platforms] == listed
    assert node.status == "running"
    assert node.buildkit == "v0.22.0"
    assert node.driver_opts == {"network": "host"}
    assert node.flags == ("--allow-insecure-entitlement=network.host",)
    assert len(node.gc_policy) == 4
    assert node.labels["org.mobyproject.buildkit.worker.executor"] == "oci"
    idle = buildx.parse_inspect(read(version, "inspect-idle.txt"))
    assert idle.nodes[0].status == "inactive"
    assert idle.status == "inactive"


def test_ls_table_of_both_versions() -> None:
    old = {b.name: b for b in buildx.parse_ls_table(read("0.13.1", "ls.txt"))}
    assert old["mabgui-fixture-dc"].current
    assert Platform.parse("linux/arm/v7") in old["mabgui-fixture-dc"].nodes[0].platforms
    # 0.30 shortens the list ("linux/amd64 (+4)", "(3 more)"): the table is not a source of
    # platforms any more, only of names and status; mabgui reads the JSON.
    new = {b.name: b for b in buildx.parse_ls_table(read("0.30.1", "ls.txt"))}
    assert list(new) == list(old)
    assert [n.status for b in new.values() for n in b.nodes] == ["running", "inactive", "running"]
    assert "(3 more)" in new["mabgui-fixture-dc"].nodes[0].unparsed_platforms


@pytest.mark.parametrize("version", VERSIONS)
def test_two_platform_rawjson(version: str) -> None:
    data = (FIXTURES / "buildx" / version / "build-2platform.rawjson").read_bytes()
    if version == "0.30.1":
        assert data.splitlines()[0].startswith(b'{"vertexes"')  # one object a line
    else:
        assert data.splitlines()[0] == b"{"  # pretty-printed
    progress = P.parse_bytes(data, [AMD64, ARM64], native=AMD64, exit_code=0)
    assert list(progress.lanes) == [AMD64, ARM64]
    assert progress.result is not None
    assert progress.result.ok
    for platform, lane in progress.lanes.items():
        assert lane.ok
        assert any("RUN uname -m" in s.label for s in lane.steps)
        assert lane.emulated == (platform != AMD64)

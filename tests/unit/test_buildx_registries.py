"""Registries a builder can push to: the generated buildkitd config and push_problem."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mabgui.core import buildx, preflight_push
from mabgui.core.buildx import Builder, BuildxError, CreateRequest, Node, NodeSpec, registries

DAEMON = ["127.0.0.0/8", "127.0.0.1:5000", "localhost:5000"]  # as `docker info` lists them here
HTTP_LOCAL = '[registry."127.0.0.1:5000"]\n  http = true\n'


def dc(name: str = "b", *, network: str = "", config: str = "", driver: str = "docker-container"):  # type: ignore[no-untyped-def]
    files = {"buildkitd.toml": base64.b64encode(config.encode()).decode()} if config else {}
    opts = {"network": network} if network else {}
    node = Node(name=f"{name}0", endpoint="unix:///var/run/docker.sock", driver_opts=opts,
                files=files)  # fmt: skip
    return Builder(name=name, driver=driver, nodes=(node,))


def test_plan_carries_the_daemon_registries_over_with_host_network() -> None:
    setup = registries.plan(DAEMON)
    assert setup.hosts == ("127.0.0.1:5000", "localhost:5000")  # the CIDR cannot be named
    assert setup.host_network
    rules = registries.config_registries(setup.config_text)
    assert all(r.http and r.insecure for r in rules.values())
    assert setup.to_json() == {"registries": list(setup.hosts), "host_network": True}


def test_plan_without_loopback_keeps_the_builder_network() -> None:
    setup = registries.plan(["reg.lan:5000"])
    assert setup.hosts == ("reg.lan:5000",)
    assert not setup.host_network


def test_plan_off_and_no_config_changes_nothing() -> None:
    setup = registries.plan(DAEMON, carry_daemon=False)
    assert setup == registries.RegistrySetup()
    req = CreateRequest(name="b")
    assert registries.apply(req, setup, "") == req


def test_user_config_wins_and_is_merged() -> None:
    user = (
        '[registry."127.0.0.1:5000"]\n  mirrors = ["m.lan"]\n  http = true\n\n'
        "[worker.oci]\n  max-parallelism = 2\n"
    )
    setup = registries.plan(DAEMON, user_config=user)
    rules = registries.config_registries(setup.config_text)
    assert rules["127.0.0.1:5000"] == registries.RegistryRule(http=True, insecure=False)
    assert rules["localhost:5000"].http
    assert "max-parallelism = 2" in setup.config_text
    with pytest.raises(BuildxError, match="not valid TOML"):
        registries.plan(DAEMON, user_config="[registry\n")


def test_apply_sets_host_network_and_the_config_unless_given() -> None:
    setup = registries.plan(DAEMON)
    req = CreateRequest(
        name="b", nodes=(NodeSpec(), NodeSpec(endpoint="ctx", driver_opts={"network": "bridge"}))
    )
    out = registries.apply(req, setup, "/tmp/c.toml")
    assert out.nodes[0].driver_opts == {"network": "host"}
    assert out.nodes[1].driver_opts == {"network": "bridge"}  # the user's choice stays
    assert {n.buildkitd_config for n in out.nodes} == {"/tmp/c.toml"}
    argv = buildx.create_argv(out, 0)
    assert argv[-4:] == ["--driver-opt", "network=host", "--buildkitd-config", "/tmp/c.toml"]
    remote = CreateRequest(name="r", driver="remote", nodes=(NodeSpec(endpoint="tcp://h:1"),))
    assert registries.apply(remote, setup, "/tmp/c.toml") == remote


async def test_prepare_create_reads_the_user_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "buildkitd.toml"
    cfg.write_text(HTTP_LOCAL)
    req, setup, tmp = await registries.prepare_create(
        CreateRequest(name="b"), config_file=str(cfg), carry_daemon=False
    )
    try:
        assert setup.hosts == ("127.0.0.1:5000",)
        assert req.nodes[0].buildkitd_config == tmp
        assert req.nodes[0].driver_opts == {"network": "host"}
        text = Path(tmp).read_text(encoding="utf-8")  # noqa: ASYNC240
        assert registries.config_registries(text)["127.0.0.1:5000"].http
    finally:
        import os

        os.unlink(tmp)
    with pytest.raises(BuildxError, match="cannot read the buildkitd config"):
        await registries.prepare_create(
            CreateRequest(name="b"), config_file=str(tmp_path / "nope.toml")
        )


def test_push_problem_names_reason_and_fix() -> None:
    problem = registries.push_problem(dc(), "127.0.0.1:5000", DAEMON)
    assert problem is not None
    assert "own network" in problem
    assert "plain HTTP" in problem
    assert "recreate builder b with host network and 127.0.0.1:5000 over HTTP" in problem
    only_net = registries.push_problem(dc(config=HTTP_LOCAL), "127.0.0.1:5000", DAEMON)
    assert only_net is not None
    assert "recreate builder b with host network (" in only_net
    only_http = registries.push_problem(dc(network="host"), "127.0.0.1:5000", DAEMON)
    assert only_http is not None
    assert "recreate builder b with 127.0.0.1:5000 over HTTP" in only_http


@pytest.mark.parametrize(
    ("builder", "host", "daemon"),
    [
        (dc(network="host", config=HTTP_LOCAL), "127.0.0.1:5000", DAEMON),  # mabgui's defaults
        (dc(), "registry.example.com", DAEMON),  # HTTPS on the network: reachable
        (dc(driver="docker"), "127.0.0.1:5000", DAEMON),  # the daemon's own BuildKit
        (dc(driver="remote"), "127.0.0.1:5000", DAEMON),  # cannot be told from here
    ],
)
def test_push_problem_none(builder: Builder, host: str, daemon: list[str]) -> None:
    assert registries.push_problem(builder, host, daemon) is None


def test_an_insecure_lan_registry_needs_http_not_host_network() -> None:
    problem = registries.push_problem(dc(), "reg.lan:5000", ["reg.lan:5000"])
    assert problem is not None
    assert "own network" not in problem
    assert "reg.lan:5000 over HTTP" in problem
    assert registries.push_problem(dc(), "10.1.2.3:5000", ["10.0.0.0/8"]) is not None
    assert registries.push_problem(dc(), "10.1.2.3:5000", []) is None


def test_loopback_names() -> None:
    for host in ("127.0.0.1:5000", "localhost:5000", "[::1]:5000", "127.1.2.3", "a.localhost"):
        assert registries.is_loopback(host), host
    for host in ("reg.lan:5000", "10.0.0.1:5000", "docker.io"):
        assert not registries.is_loopback(host), host


def test_preflight_picks_the_current_builder_and_the_tag_hosts() -> None:
    a, b = dc("a"), Builder(name="b", driver="docker", current=True)
    assert preflight_push.pick_builder([a, b], None) is b
    assert preflight_push.pick_builder([a, b], "a") is a
    assert preflight_push.pick_builder([a, b], "zz") is None
    tags = ["127.0.0.1:5000/x:1", "127.0.0.1:5000/y", "busybox", "bad tag!"]
    assert preflight_push.registry_hosts(tags) == ["127.0.0.1:5000", "docker.io"]
    problems = preflight_push.push_problems(a, tags, DAEMON)
    assert len(problems) == 1
    assert problems[0].startswith("builder a cannot push to 127.0.0.1:5000")


def test_a_node_on_another_machine_cannot_reach_this_loopback() -> None:
    files = dc(config=HTTP_LOCAL).nodes[0].files
    far = Node(name="far", endpoint="ssh-box", host="ssh://me@arm64-box",
               driver_opts={"network": "host"}, files=files)  # fmt: skip
    builder = Builder(name="b", driver="docker-container", nodes=(far,))
    problem = registries.push_problem(builder, "127.0.0.1:5000", DAEMON)
    assert problem is not None
    assert "runs on another machine (ssh://me@arm64-box)" in problem
    assert "not loopback" in problem
    assert registries.push_problem(builder, "registry.example.com", DAEMON) is None

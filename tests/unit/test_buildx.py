"""buildx parsers and explanations over recorded real output (tests/fixtures/buildx/README.md)."""

from __future__ import annotations

import logging

import pytest

from mabgui.core import buildx
from mabgui.core.buildx import Builder, CreateRequest, Node, NodeSpec
from mabgui.core.engine import EngineFacts
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

FIX = FIXTURES / "buildx"
P = Platform.parse
AMD64 = P("linux/amd64")
DEFAULT_PLATFORMS = [
    "linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/amd64/v4", "linux/arm64",
    "linux/riscv64", "linux/ppc64le", "linux/s390x",
]  # fmt: skip


def read(name: str) -> str:
    return (FIX / name).read_text()


# --- ls -------------------------------------------------------------------------------------------


def test_ls_json_default_builder_is_deduplicated() -> None:
    text = read("ls-default.json")
    assert len(text.splitlines()) == 2  # buildx 0.13.1 prints it once more per node
    builders = buildx.parse_ls_json(text)
    assert [b.name for b in builders] == ["default"]
    default = builders[0]
    assert default.driver == "docker"
    assert default.status == "running"
    assert not default.current  # plain --format json does not say which builder is current
    (node,) = default.nodes
    assert node.name == "default"
    assert node.endpoint == "default"
    assert node.buildkit == "v0.0.0+unknown"
    assert [str(p) for p in node.platforms] == DEFAULT_PLATFORMS
    assert node.labels["org.mobyproject.buildkit.worker.snapshotter"] == "overlayfs"
    assert node.ids == ("soy656pagmcjsgiq2sqxawx8l",)
    assert P("linux/arm/v7") not in node.platforms


def test_ls_template_marks_the_current_builder() -> None:
    (default,) = buildx.parse_ls_json(read("ls-default-current.txt"))
    assert default.current
    builders = {b.name: b for b in buildx.parse_ls_json(read("ls-use-remote-current.txt"))}
    assert builders["mabgui-fixture-remote"].current
    assert not builders["default"].current
    assert [b.name for b in builders.values() if b.current] == ["mabgui-fixture-remote"]


def test_ls_json_multi_node_builder() -> None:
    builders = {b.name: b for b in buildx.parse_ls_json(read("ls-multi-current.txt"))}
    assert list(builders) == [
        "mabgui-fixture-multi", "mabgui-fixture-remote", "default", "mabgui-e2e-second",
    ]  # fmt: skip
    multi = builders["mabgui-fixture-multi"]
    assert multi.driver == "docker-container"
    assert multi.status == "inactive"
    assert [n.name for n in multi.nodes] == ["mabgui-fixture-multi0", "mabgui-fixture-multi1"]
    n0, n1 = multi.nodes
    assert n0.endpoint == "unix:///var/run/docker.sock"
    assert n0.driver_opts == {"network": "host"}
    assert n0.flags == ("--allow-insecure-entitlement", "network.host")
    assert n0.platforms == (AMD64, P("linux/arm/v7"))
    assert n0.pinned == n0.platforms  # a node that never ran lists its --platform ones
    assert n1.endpoint == "mabgui-e2e-second"
    assert n1.platforms == (P("linux/arm64"),)
    assert builders["default"].nodes[0].pinned == ()
    assert multi.platforms == [AMD64, P("linux/arm/v7"), P("linux/arm64")]
    remote = builders["mabgui-fixture-remote"]
    assert remote.driver == "remote"
    assert remote.nodes[0].endpoint == "tcp://127.0.0.1:1"
    assert remote.nodes[0].platforms == ()
    second = builders["mabgui-e2e-second"]
    assert second.driver == "docker"
    assert second.status == "running"
    assert second.last_activity == ""  # 0001-01-01 means never


def test_ls_json_node_and_builder_in_error() -> None:
    builders = {b.name: b for b in buildx.parse_ls_json(read("ls-error.json"))}
    broken = builders["mabgui-e2e-second"]
    assert broken.status == "error"
    assert broken.error.startswith(
        "Cannot connect to the Docker daemon at unix:///tmp/mabgui-second"
    )
    assert broken.nodes == ()  # the empty placeholder node is dropped
    multi = builders["mabgui-fixture-multi"]
    n0, n1 = multi.nodes
    assert n0.status == "inactive"
    assert not n0.error
    assert n1.status == "error"
    assert "Is the docker daemon running?" in n1.error
    assert multi.status == "error"


def test_ls_json_garbage_is_a_clear_error() -> None:
    with pytest.raises(buildx.BuildxError, match="unexpected output"):
        buildx.parse_ls_json("NAME/NODE DRIVER\n")


def test_ls_table_matches_json() -> None:
    table = {b.name: b for b in buildx.parse_ls_table(read("ls-multi.txt"))}
    json_ = {b.name: b for b in buildx.parse_ls_json(read("ls-multi-current.txt"))}
    assert list(table) == list(json_)
    for name, b in table.items():
        assert b.driver == json_[name].driver
        assert b.current == json_[name].current
        assert [n.name for n in b.nodes] == [n.name for n in json_[name].nodes]
        assert [n.endpoint for n in b.nodes] == [n.endpoint for n in json_[name].nodes]
        assert [n.status for n in b.nodes] == [n.status for n in json_[name].nodes]
        assert [n.platforms for n in b.nodes] == [n.platforms for n in json_[name].nodes]
        assert [n.pinned for n in b.nodes] == [n.pinned for n in json_[name].nodes]
    assert table["default"].current
    assert table["default"].nodes[0].buildkit == "v0.0.0+unknown"
    n0 = table["mabgui-fixture-multi"].nodes[0]
    assert n0.pinned == (AMD64, P("linux/arm/v7"))  # the `*` of fixed platforms


def test_ls_table_errors_come_from_stderr() -> None:
    builders = {
        b.name: b for b in buildx.parse_ls_table(read("ls-error.txt"), read("ls-error.txt.err"))
    }
    assert builders["mabgui-e2e-second"].status == "error"
    assert "Cannot connect" in builders["mabgui-e2e-second"].error
    n1 = builders["mabgui-fixture-multi"].nodes[1]
    assert n1.status == "error"
    assert "Cannot connect" in n1.error


def test_ls_table_current_follows_use() -> None:
    builders = buildx.parse_ls_table(read("ls-use-remote.txt"))
    assert [b.name for b in builders if b.current] == ["mabgui-fixture-remote"]


def test_ls_table_of_old_buildx_without_backslash_marks() -> None:
    old = (
        "NAME/NODE       DRIVER/ENDPOINT             STATUS  PLATFORMS\n"
        "elated_tesla *  docker-container\n"
        "  elated_tesla0 unix:///var/run/docker.sock running linux/amd64\n"
        "default         docker\n"
        "  default       default                     running linux/amd64, linux/386\n"
    )
    builders = buildx.parse_ls_table(old)
    assert [b.name for b in builders] == ["elated_tesla", "default"]
    assert builders[0].current
    assert builders[0].nodes[0].name == "elated_tesla0"


def test_contexts_resolve_local_nodes() -> None:
    contexts = buildx.parse_contexts(
        '{"Current":true,"DockerEndpoint":"unix:///var/run/docker.sock","Name":"default"}\n'
        '{"Current":false,"DockerEndpoint":"unix:///tmp/x.sock","Name":"mabgui-e2e-second"}\n'
        '{"Current":false,"DockerEndpoint":"ssh://pi@arm-box","Name":"pi"}\n'
    )
    builders = buildx.resolve_hosts(buildx.parse_ls_json(read("ls-multi-current.txt")), contexts)
    by_name = {b.name: b for b in builders}
    assert by_name["default"].nodes[0].local
    assert by_name["mabgui-fixture-multi"].nodes[1].host == "unix:///tmp/x.sock"
    assert by_name["mabgui-fixture-multi"].nodes[1].local
    assert not by_name["mabgui-fixture-remote"].nodes[0].local
    assert not Node("n", "pi", host="ssh://pi@arm-box").local


def test_to_json_shape() -> None:
    (default,) = buildx.parse_ls_json(read("ls-default-current.txt"))
    data = default.to_json()
    assert {"name", "driver", "current", "status", "error", "nodes"} <= set(data)
    node = data["nodes"][0]
    assert {"name", "endpoint", "status", "buildkit", "platforms", "error"} <= set(node)
    assert node["platforms"][0] == "linux/amd64"


# --- inspect --------------------------------------------------------------------------------------


def test_inspect_default() -> None:
    b = buildx.parse_inspect(read("inspect-default.txt"))
    assert b.name == "default"
    assert b.driver == "docker"
    assert b.last_activity.startswith("2026-11-29 ")
    (node,) = b.nodes
    assert node.status == "running"
    assert node.buildkit == "v0.0.0+unknown"
    assert [str(p) for p in node.platforms] == DEFAULT_PLATFORMS
    assert node.labels["org.mobyproject.buildkit.worker.hostname"] == "vm"
    assert len(node.labels) == 8
    assert buildx.parse_inspect(read("inspect-bootstrap-default.txt")) == b


def test_inspect_multi_node_with_options() -> None:
    b = buildx.parse_inspect(read("inspect-multi.txt"))
    assert b.driver == "docker-container"
    n0, n1 = b.nodes
    assert n0.driver_opts == {"network": "host"}
    assert n0.flags == ("--allow-insecure-entitlement", "network.host")
    assert n0.pinned == (AMD64, P("linux/arm/v7"))
    assert n0.status == "inactive"
    assert n1.endpoint == "mabgui-e2e-second"
    assert n1.flags == ("--allow-insecure-entitlement=network.host",)


def test_inspect_errors() -> None:
    b = buildx.parse_inspect(read("inspect-multi-error.out"))
    assert b.nodes[1].status == "error"
    assert "Cannot connect" in b.nodes[1].error
    broken = buildx.parse_inspect(read("inspect-error.out"))
    assert broken.name == "mabgui-e2e-second"
    assert "Cannot connect" in broken.error
    assert broken.nodes == ()


def test_inspect_gc_policy_of_newer_buildx() -> None:
    text = (
        "Name:          b\nDriver:        docker-container\n\nNodes:\n"
        "Name:      b0\nEndpoint:  unix:///var/run/docker.sock\nStatus:    running\n"
        "BuildKit version: v0.16.0\nPlatforms: linux/amd64\nLabels:\n org.a: 1\n"
        "GC Policy:\n rule #0:\n  All:           false\n  Filters:       type==source.local,"
        "type==exec.cachemount\n  Keep Duration: 48h0m0s\n  Keep Bytes:    488.3MiB\n"
        " rule #1:\n  All:           true\n  Keep Bytes:    9.313GiB\n"
    )
    (node,) = buildx.parse_inspect(text).nodes
    assert node.labels == {"org.a": "1"}
    assert node.gc_policy == (
        buildx.GCPolicy(
            False, ("type==source.local", "type==exec.cachemount"), "48h0m0s", "488.3MiB"
        ),
        buildx.GCPolicy(True, (), "", "9.313GiB"),
    )
    assert "kept 48h0m0s" in str(node.gc_policy[0])


# --- du -------------------------------------------------------------------------------------------


def test_du_totals() -> None:
    du = buildx.parse_du(read("du-default.txt"), "default")
    assert du.shared == 18_690_000
    assert du.private == 11_870_000
    assert du.reclaimable == 21_810_000
    assert du.total == 30_560_000
    assert du.records == sum(
        1 for ln in read("du-default.txt").splitlines()[1:] if ln.strip() and ":" not in ln
    )
    assert du.records > 5


def test_parse_size() -> None:
    assert buildx.parse_size("0B") == 0
    assert buildx.parse_size("3.834MB*") == 3_834_000
    assert buildx.parse_size("488.3MiB") == round(488.3 * 2**20)
    with pytest.raises(ValueError, match="unit"):
        buildx.parse_size("3 parsecs")


# --- errors ---------------------------------------------------------------------------------------


def test_bootstrap_error_is_buildx_message_with_a_hint() -> None:
    err = read("create-bootstrap-dc.err")
    message = buildx.error_message(err)
    assert message.startswith("Error response from daemon: failed to resolve reference")
    assert "docker.io/moby/buildkit:buildx-stable-1" in message
    assert "moby/buildkit image" in buildx.explain(err)
    multi = buildx.error_message(read("inspect-bootstrap-multi.err"))
    assert "registry-1.docker.io" in multi


@pytest.mark.parametrize(
    ("fixture", "needle"),
    [
        ("use-missing.err", "No builder of that name"),
        ("rm-missing.err", "No builder of that name"),
        ("stop-missing.err", "No builder of that name"),
        ("inspect-missing.err", "No builder of that name"),
        ("create-dup.err", "pick another name"),
        ("create-kubernetes.err", "kubeconfig"),
        ("inspect-bootstrap-remote.err", "did not answer in time"),
        ("du-remote.err", "Nothing listens"),
        ("rm-multi.err", "not running or not reachable"),
    ],
)
def test_explain_recorded_errors(fixture: str, needle: str) -> None:
    text = read(fixture)
    assert needle in buildx.explain(text)


def test_failures_are_logged_on_the_buildx_logger(caplog: pytest.LogCaptureFixture) -> None:
    from mabgui.core.process import CommandResult

    res = CommandResult(["docker"], 1, "", read("stop-missing.err"))
    logger = logging.getLogger("mabgui.buildx")  # the app's setup may stop propagation to root
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level("WARNING", logger="mabgui.buildx"):
            buildx.command_error(res, "cannot stop builder 'mabgui-nope'")
            with pytest.raises(buildx.BuildxError):
                buildx.check_name("--all-inactive")
    finally:
        logger.removeHandler(caplog.handler)
    messages = [r.getMessage() for r in caplog.records if r.name == "mabgui.buildx"]
    assert any("cannot stop builder 'mabgui-nope'" in m and "exit 1" in m for m in messages)
    assert any("invalid builder name '--all-inactive'" in m for m in messages)


def test_not_found_errors_are_typed() -> None:
    from mabgui.core.process import CommandResult

    res = CommandResult(["docker"], 1, "", read("stop-missing.err"))
    err = buildx.command_error(res, "cannot stop builder 'mabgui-nope'")
    assert isinstance(err, buildx.BuilderNotFound)
    assert str(err) == "cannot stop builder 'mabgui-nope': no builder \"mabgui-nope\" found"


# --- create ---------------------------------------------------------------------------------------


def test_create_argv_multi_node() -> None:
    req = CreateRequest(
        name="mb",
        nodes=(
            NodeSpec("default", "mb0", (AMD64, P("arm/v7")), {"network": "host"}, "--debug"),
            NodeSpec("ssh://pi@arm-box", "mb1", (P("linux/arm64"),)),
        ),
    )
    buildx.validate_create(req)
    assert buildx.create_argv(req, 0) == [
        "create", "--name", "mb", "--driver", "docker-container", "--node", "mb0",
        "--driver-opt", "network=host", "--platform", "linux/amd64,linux/arm/v7",
        "--buildkitd-flags", "--debug", "--", "default",
    ]  # fmt: skip
    assert buildx.create_argv(req, 1) == [
        "create", "--name", "mb", "--append", "--node", "mb1", "--platform", "linux/arm64",
        "--", "ssh://pi@arm-box",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("req", "match"),
    [
        (CreateRequest(name="bad name"), "invalid builder name"),
        (CreateRequest(name="default"), "docker context's own builder"),
        (CreateRequest(name="x", driver="docker"), "cannot be created"),
        (CreateRequest(name="x", driver="podman"), "unknown driver"),
        (CreateRequest(name="x", driver="remote"), "needs an endpoint"),
        (CreateRequest(name="x", nodes=()), "at least one node"),
        (
            CreateRequest(
                name="x", driver="kubernetes", nodes=(NodeSpec(driver_opts={"replicas": "0"}),)
            ),
            "replicas",
        ),
        (CreateRequest(name="x", nodes=(NodeSpec(name="a"), NodeSpec("ctx", "a"))), "same name"),
        (CreateRequest(name="x", nodes=(NodeSpec(), NodeSpec())), "no endpoint"),
    ],
)
def test_validate_create_refuses_bad_requests(req: CreateRequest, match: str) -> None:
    with pytest.raises(buildx.BuildxError, match=match):
        buildx.validate_create(req)


def test_parse_driver_opts() -> None:
    assert buildx.parse_driver_opts(["network=host", "image=a/b:c,env.X=1"]) == {
        "network": "host", "image": "a/b:c", "env.X": "1",
    }  # fmt: skip
    with pytest.raises(buildx.BuildxError, match="KEY=VALUE"):
        buildx.parse_driver_opts(["nope"])


# --- names never reach buildx as flags ------------------------------------------------------------


@pytest.mark.parametrize("name", ["--all-inactive", "-f", "", "a b", "x\x1b[31m"])
def test_names_that_could_be_flags_are_refused(name: str) -> None:
    with pytest.raises(buildx.BuildxError, match="invalid builder name"):
        buildx.check_name(name)


async def test_commands_refuse_flag_names_before_running_buildx() -> None:
    for call in (
        buildx.stop("--help"),
        buildx.use("-x"),
        buildx.inspect("--bootstrap"),
        buildx.remove(["ok", "--all-inactive"]),
        buildx.disk_usage("--verbose"),
    ):
        with pytest.raises(buildx.BuildxError, match="invalid builder name"):
            await call


def test_restart_argv_puts_names_after_double_dash() -> None:
    assert buildx.restart_argv("multi", "docker-container") == [
        ["docker", "buildx", "stop", "--", "multi"],
        ["docker", "buildx", "inspect", "--bootstrap", "--", "multi"],
    ]
    assert buildx.restart_argv("default", "docker") == []  # dockerd's own BuildKit


async def test_restart_of_the_docker_driver_says_to_restart_dockerd() -> None:
    with pytest.raises(buildx.BuildxError, match="part of dockerd") as err:
        await buildx.restart("default", driver="docker")
    assert "Restart the Docker daemon" in err.value.hint


# --- native platforms, per node -------------------------------------------------------------------

ARM64 = P("linux/arm64")
FACTS = EngineFacts(
    context="default", endpoint="unix:///var/run/docker.sock", os_type="linux",
    architecture="x86_64",
)  # fmt: skip


def test_a_remote_node_is_native_for_the_first_platform_its_worker_reports() -> None:
    node = Node("arm0", "tcp://10.0.0.7:1234", "running", platforms=(ARM64, P("linux/arm/v7")))
    assert node.native_platform == ARM64
    assert node.is_native(ARM64) is True
    assert node.is_native(AMD64) is False
    assert node.is_native(P("linux/arm/v7")) is False
    # Not started: no worker report, no daemon of ours: unknown.
    idle = Node("arm0", "tcp://10.0.0.7:1234", "inactive", platforms=(ARM64,), pinned=(ARM64,))
    assert idle.native_platform is None
    assert idle.is_native(ARM64) is None


def test_pinned_platforms_come_before_the_workers_own() -> None:
    # buildx lists `create --platform` platforms (`*`) before what the worker reports.
    node = Node(
        "n", "tcp://h:1234", "running", platforms=(P("linux/riscv64"), ARM64, AMD64),
        pinned=(P("linux/riscv64"),),
    )  # fmt: skip
    assert node.native_platform == ARM64


def test_nodes_on_our_daemon_run_its_architecture_even_before_they_start() -> None:
    builders = buildx.parse_ls_json(read("ls-multi-current.txt"))
    contexts = {"default": FACTS.endpoint, "mabgui-e2e-second": "unix:///tmp/x.sock"}
    resolved = buildx.with_engine(buildx.resolve_hosts(builders, contexts), FACTS)
    by_name = {b.name: b for b in resolved}
    multi = by_name["mabgui-fixture-multi"]
    local, second = multi.nodes
    assert local.status == "inactive"
    assert local.native_platform == AMD64  # unix:///var/run/docker.sock: the daemon asked
    assert second.native_platform is None  # another context's daemon, not started
    assert multi.native_platforms() == [AMD64]
    assert by_name["default"].nodes[0].native_platform == AMD64
    remote = by_name["mabgui-fixture-remote"]
    assert remote.nodes[0].daemon_platform is None  # the remote driver never is our daemon


def test_a_builder_with_an_arm64_node_has_two_native_platforms() -> None:
    amd = Node("b0", "unix:///var/run/docker.sock", "running", platforms=(AMD64, ARM64))
    arm = Node("b1", "tcp://arm-box:1234", "running", platforms=(ARM64, P("linux/arm/v7")))
    (builder,) = buildx.with_engine([Builder("b", "docker-container", (amd, arm))], FACTS)
    assert builder.native_platforms() == [AMD64, ARM64]
    assert builder.nodes[0].is_native(ARM64) is False  # amd64 node: arm64 under QEMU
    assert builder.nodes[1].is_native(ARM64) is True


def test_an_unknown_docker_context_is_named_not_called_a_builder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """buildx reads DOCKER_CONTEXT=nosuch as a builder name (issue 15 point 11)."""
    monkeypatch.setenv("DOCKER_CONTEXT", "nosuch")
    hint = buildx.explain('no builder "nosuch" found')
    assert "DOCKER_CONTEXT=nosuch names no docker context" in hint
    monkeypatch.delenv("DOCKER_CONTEXT")
    assert buildx.explain('no builder "nosuch" found') == (
        "No builder of that name: see `mabgui builders`."
    )

"""Checks before ``builder create`` and the hints after a failed one (pure parts + a socket)."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from mabgui.core import buildx
from mabgui.core.buildx import create_checks
from mabgui.core.platform import Platform

AMD64 = Platform.parse("linux/amd64")
EMULATED = [Platform.parse(p) for p in ("linux/arm64", "linux/arm/v7", "linux/riscv64")]

# What buildx 0.30.1 printed for `create --driver-opt image=nonexistent.invalid/x --bootstrap`.
MISSING_IMAGE_OUTPUT = """#1 [internal] booting buildkit
#1 pulling image nonexistent.invalid/x done
#1 ERROR: Error response from daemon: failed to resolve reference "nonexistent.invalid/x:latest": \
failed to do request: Head "https://nonexistent.invalid/v2/x/manifests/latest": dial tcp: lookup \
nonexistent.invalid on 10.255.255.53:53: no such host
"""


def request(driver: str = "docker-container", **node: object) -> buildx.CreateRequest:
    spec = buildx.NodeSpec(**node)  # type: ignore[arg-type]
    return buildx.CreateRequest(name="b", driver=driver, nodes=(spec,), bootstrap=False)


def test_unrunnable_pins() -> None:
    wanted = [Platform.parse(p) for p in ("linux/386", "linux/amd64/v3", "linux/arm64",
                                         "linux/mips64le", "linux/s390x")]  # fmt: skip
    assert create_checks.unrunnable(wanted, AMD64, EMULATED) == [
        Platform.parse("linux/mips64le"),
        Platform.parse("linux/s390x"),
    ]


def test_check_pins_refuses_before_anything_is_made() -> None:
    req = request(platforms=(Platform.parse("linux/mips64le"),))
    with pytest.raises(create_checks.CreateRefused, match="neither runs natively nor emulates"):
        create_checks.check_pins(req, AMD64, EMULATED)
    create_checks.check_pins(request(platforms=tuple(EMULATED)), AMD64, EMULATED)
    # A node on another docker host: its emulators are not known here.
    other = request(endpoint="ssh://arm-host", platforms=(Platform.parse("linux/mips64le"),))
    create_checks.check_pins(other, AMD64, EMULATED)


def test_missing_image_hint_names_the_image_and_docker_load() -> None:
    req = request(driver_opts={"image": "nonexistent.invalid/x"})
    hint = create_checks.missing_image_hint(MISSING_IMAGE_OUTPUT, req)
    assert "nonexistent.invalid/x is neither in the daemon's image store nor pullable" in hint
    assert "docker load" in hint
    assert "nothing listens" not in hint.lower()
    assert create_checks.missing_image_hint("context deadline exceeded", req) == ""
    assert create_checks.image_of(request()) == create_checks.DEFAULT_IMAGE


def test_endpoint_hint_names_the_endpoint() -> None:
    req = request("remote", endpoint="tcp://10.0.0.9:1234")
    assert "tcp://10.0.0.9:1234" in create_checks.endpoint_hint("context deadline exceeded", req)
    assert create_checks.endpoint_hint("something else", req) == ""


async def test_probe_endpoint() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        port = listening.getsockname()[1]
        assert await create_checks.probe_endpoint(f"tcp://127.0.0.1:{port}") == ""
    reason = await create_checks.probe_endpoint(f"tcp://127.0.0.1:{port}")
    assert reason.startswith(f"cannot connect to tcp://127.0.0.1:{port}: ")
    assert await create_checks.probe_endpoint("ssh://host") == ""
    assert "names no port" in await create_checks.probe_endpoint("tcp://127.0.0.1")


async def test_an_unreachable_endpoint_is_fatal_only_with_bootstrap() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    req = request("remote", endpoint=endpoint)
    (reason,) = await create_checks.check_endpoints(req)
    assert endpoint in reason
    with pytest.raises(create_checks.CreateRefused, match="is unreachable") as err:
        await create_checks.check_endpoints(replace(req, bootstrap=True))
    assert endpoint in err.value.hint
    assert await create_checks.check_endpoints(request()) == []

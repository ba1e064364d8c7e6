"""EngineFacts from recorded ``docker info --format '{{json .}}'`` (tests/fixtures/engine)."""

from __future__ import annotations

import json

from mabgui.core import engine
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

FIX = FIXTURES / "engine"


def test_facts_of_a_running_daemon() -> None:
    facts = engine.parse_engine_facts(
        (FIX / "docker-info.json").read_text(), endpoint="unix:///var/run/docker.sock"
    )
    assert facts.daemon_ok
    assert facts.error == ""
    assert facts.context == "default"
    assert facts.endpoint == "unix:///var/run/docker.sock"
    assert facts.client_version == "28.2.2"
    assert facts.server_version == "26.1.5+dfsg1"
    assert facts.os_type == "linux"
    assert facts.architecture == "x86_64"
    assert facts.platform == Platform.parse("linux/amd64")
    assert facts.image_store is True
    assert facts.insecure_registries == ("127.0.0.0/8", "127.0.0.1:5000", "localhost:5000")
    assert facts.buildx_version == "0.30.1"
    assert facts.buildx_path.endswith("docker-buildx")
    assert facts.to_json()["platform"] == "linux/amd64"


def test_facts_of_a_daemon_that_is_down_keep_the_client_part() -> None:
    facts = engine.parse_engine_facts(
        (FIX / "docker-info-daemon-down.json").read_text(),
        stderr=(FIX / "docker-info-daemon-down.err").read_text(),
    )
    assert not facts.daemon_ok
    assert "Cannot connect to the Docker daemon" in facts.error
    assert "Start the Docker daemon" in facts.hint
    assert facts.platform is None
    assert facts.image_store is None
    assert facts.context == "default"
    assert facts.buildx_version == "0.30.1"  # the CLI still reports its plugins


def test_classic_store_arm64_daemon_and_missing_buildx() -> None:
    data = json.loads((FIX / "docker-info.json").read_text())
    data["Architecture"] = "aarch64"
    data["DriverStatus"] = [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]]
    data["RegistryConfig"] = None
    data["ClientInfo"]["Plugins"] = []
    facts = engine.parse_engine_facts(json.dumps(data))
    assert facts.platform == Platform.parse("linux/arm64")
    assert facts.image_store is False
    assert facts.insecure_registries == ()
    assert facts.buildx_version == ""


def test_unreadable_output_is_an_error_not_a_traceback() -> None:
    for text in ("", "not json", "[1, 2]", '{"ClientInfo": 5}'):
        facts = engine.parse_engine_facts(text, stderr='context "nosuch": context not found')
        assert not facts.daemon_ok
        assert facts.error

"""The registry client against a hostile registry (tests/hostile_registry.py, loopback only).

Issue 15: no credential to another host, no endless fetch, no traceback from hostile data.
Each test bounds itself (``bounded``) so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mabgui import cli
from mabgui.core.registry import (
    GraphTooLarge,
    RegistryClient,
    RegistryTimeout,
    ServerError,
    Unauthorized,
    UnsupportedDigest,
    UnsupportedMediaType,
)
from mabgui.core.registry.auth import Credentials
from mabgui.core.registry.manifest import ImageIndex, ImageManifest, ManifestTree, fetch_tree
from mabgui.core.registry.reference import InvalidReference, parse_reference
from tests.hostile_registry import REPO, HostileRegistry

T = TypeVar("T")


def bounded(coro: Coroutine[Any, Any, T], limit: float = 20.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, limit))


async def inspect(ref: str, *, lookup: float | None = None, **client: Any) -> ManifestTree:
    """``fetch_tree`` of ``ref``: ``lookup`` is its deadline, ``client`` the client's options."""
    client.setdefault("use_docker_config", False)
    async with RegistryClient(**client) as c:
        if lookup is None:
            return await fetch_tree(c, parse_reference(ref))
        return await fetch_tree(c, parse_reference(ref), deadline=lookup)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty docker config of our own (never the user's)."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def login(config: Path, host: str, user: str, password: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


# --- 1. credentials only to the registry's own host and realm -------------------------------


def test_redirect_to_another_host_never_carries_authorization(docker_config: Path) -> None:
    with HostileRegistry("redirect-to-other-host") as reg:
        login(docker_config, reg.host, "alice", "pw-A")
        tree = bounded(inspect(reg.ref(), use_docker_config=True))
        assert isinstance(tree.root, ImageManifest)
        assert reg.other is not None
        assert any(s.authorization.startswith("Basic ") for s in reg.seen)
        assert reg.other.seen, "the content came from the other host"
        assert all(s.authorization == "" for s in reg.other.seen)


def test_challenge_from_another_host_is_not_answered_with_our_credentials(
    docker_config: Path,
) -> None:
    """Registry A redirects to B; B's 401 names its own token realm: A's password from the
    docker config must not reach B's realm (nor B at all)."""
    with HostileRegistry("redirect-with-challenge") as reg:
        login(docker_config, reg.host, "alice", "pw-A")
        with pytest.raises(Unauthorized, match="only to the registry itself") as info:
            bounded(inspect(reg.ref(), use_docker_config=True))
        assert reg.other is not None
        assert reg.other.token_requests == []  # type: ignore[attr-defined]
        assert all(s.authorization == "" for s in reg.other.seen)
        assert "pw-A" not in str(info.value) + info.value.hint


def test_challenge_from_another_host_with_explicit_credentials_too() -> None:
    with HostileRegistry("redirect-with-challenge") as reg:
        creds = {reg.host: Credentials("alice", "pw-A")}
        with pytest.raises(Unauthorized):
            bounded(inspect(reg.ref(), credentials=creds))
        assert reg.other is not None
        assert all(s.authorization == "" for s in reg.other.seen)


def test_requests_are_logged_without_credentials(docker_config: Path) -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("mabgui.registry")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with HostileRegistry("redirect-to-other-host") as reg:
            login(docker_config, reg.host, "alice", "pw-A")
            bounded(inspect(reg.ref(), use_docker_config=True))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [r for r in records if f"/v2/{REPO}/manifests/v1" in r]
    assert any(" -> 401 in " in r for r in lines)
    assert any(" -> 307 in " in r for r in lines)
    assert any(r.startswith("GET http://") and " -> 200 in " in r for r in lines)
    text = "\n".join(records)
    assert "pw-A" not in text
    assert base64.b64encode(b"alice:pw-A").decode() not in text


# --- 3. every digest once per tree, a budget ------------------------------------------------


def test_self_reusing_index_ends_fast_as_graph_too_large() -> None:
    with HostileRegistry("self-reusing-index") as reg:
        started = time.monotonic()
        with pytest.raises(GraphTooLarge, match="manifest graph too large"):
            bounded(inspect(reg.ref()))
        assert time.monotonic() - started < 10
        manifest_gets = [s for s in reg.seen if "/manifests/" in s.path]
        assert len(manifest_gets) <= 8, "each digest is fetched once per tree"


# --- 4. deadlines and paging ----------------------------------------------------------------


def test_a_slow_drip_hits_the_request_deadline() -> None:
    with HostileRegistry("slow-drip") as reg:
        started = time.monotonic()
        with pytest.raises(RegistryTimeout, match=r"no complete answer within 1\.5 s"):
            bounded(inspect(reg.ref(), timeout=10, deadline=1.5))
        assert time.monotonic() - started < 6


def test_a_slow_drip_hits_the_look_up_deadline() -> None:
    with (
        HostileRegistry("slow-drip") as reg,
        pytest.raises(RegistryTimeout, match="did not finish within 1 s"),
    ):
        bounded(inspect(reg.ref(), timeout=10, lookup=1.0))


def test_self_linking_tag_pages_end() -> None:
    async def tags(ref: str) -> list[str]:
        async with RegistryClient(use_docker_config=False) as c:
            return await c.tags(parse_reference(ref))

    with HostileRegistry("self-linking-tags") as reg:
        assert bounded(tags(reg.ref())) == ["a"]
        assert len([s for s in reg.seen if "/tags/list" in s.path]) == 1


# --- 7. typed errors, never a traceback -----------------------------------------------------


def test_redirect_loop_is_a_typed_error() -> None:
    with HostileRegistry("redirect-loop") as reg:
        with pytest.raises(ServerError, match="redirected more than 5 times"):
            bounded(inspect(reg.ref()))
        assert len(reg.seen) == 6


def test_descriptor_size_that_is_not_a_number() -> None:
    with HostileRegistry("bad-size") as reg, pytest.raises(UnsupportedMediaType, match="size"):
        bounded(inspect(reg.ref()))


def test_annotations_given_as_a_list_are_dropped() -> None:
    with HostileRegistry("list-annotations") as reg:
        tree = bounded(inspect(reg.ref()))
    assert isinstance(tree.root, ImageManifest)
    assert tree.root.annotations == {}


def test_config_with_wrong_types_is_shown_without_them() -> None:
    with HostileRegistry("bad-env") as reg:
        tree = bounded(inspect(reg.ref()))
    assert isinstance(tree.root, ImageManifest)
    config = tree.root.config
    assert config is not None
    assert (config.env_count, config.entrypoint, config.cmd, config.labels) == (0, (), (), {})
    assert str(tree.root.platform) == "linux/arm64"


def test_shake_256_content_digest_is_refused() -> None:
    with (
        HostileRegistry("shake-digest") as reg,
        pytest.raises(UnsupportedDigest, match="shake_256"),
    ):
        bounded(inspect(reg.ref()))


def test_md5_digest_in_an_index_is_refused() -> None:
    with HostileRegistry("md5-digest") as reg:
        with pytest.raises(UnsupportedDigest, match="md5"):
            bounded(inspect(reg.ref()))
        assert not any("md5" in s.path for s in reg.seen)
    with pytest.raises(InvalidReference, match="unsupported digest algorithm 'md5'"):
        parse_reference("busybox@md5:" + "0" * 32)


def test_nested_index_from_md5_free_graph_still_works() -> None:
    """The budget leaves ordinary indexes alone (an index of one image, nested once)."""
    with HostileRegistry("list-annotations") as reg:
        child = reg.documents[reg.tags["v1"]]
        desc = {"mediaType": child[0], "digest": reg.tags["v1"], "size": len(child[1])}
        index = "application/vnd.oci.image.index.v1+json"
        inner = reg.add(index, {"schemaVersion": 2, "manifests": [desc, desc]})
        outer = reg.add(index, {"schemaVersion": 2, "manifests": [inner, desc]})
        reg.tags["nested"] = outer["digest"]
        tree = bounded(inspect(reg.ref("nested")))
    assert isinstance(tree.root, ImageIndex)
    assert len(tree.platform_manifests()) == 3


# --- the CLI: JSON in every outcome, no control characters ----------------------------------


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("redirect-loop", "server-error"),
        ("bad-size", "unsupported-media-type"),
        ("shake-digest", "unsupported-digest"),
        ("self-reusing-index", "graph-too-large"),
    ],
)
def test_cli_json_error_object(mode: str, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    with HostileRegistry(mode) as reg:
        assert cli.main(["inspect", reg.ref(), "--json", "--no-cache"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["ok"] is False
    assert doc["kind"] == kind
    assert "Traceback" not in captured.err


def test_cli_escapes_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileRegistry("bad-env") as reg:
        assert cli.main(["inspect", reg.ref(), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\\x1b]0;owned" in out


def test_cli_json_error_for_a_bad_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", "Not A Ref", "--json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert (doc["ok"], doc["kind"]) == (False, "invalid-reference")
    assert "spaces" in doc["error"]
    assert doc["hint"].startswith("e.g. busybox")

"""Registry client pieces that need no network: challenges, digests, the cache, docker config."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path

import pytest

from mabgui.core.registry import (
    DOCKER_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    SCHEMA1,
    DigestMismatch,
    RegistryClient,
    media_type_of,
    verify,
)
from mabgui.core.registry.auth import Credentials, docker_config_credentials, parse_challenge
from mabgui.core.registry.cache import DigestCache, digest_of
from mabgui.core.registry.errors import Unauthorized

FIXTURES = Path(__file__).parent.parent / "fixtures" / "manifests"


def test_bearer_challenge_as_docker_hub_sends_it() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"'
    )
    assert c is not None
    assert c.scheme == "bearer"
    assert c.realm == "https://auth.docker.io/token"
    assert c.params["service"] == "registry.docker.io"
    assert c.params["scope"] == "repository:library/busybox:pull"


def test_challenges_with_odd_spacing_and_escapes() -> None:
    c = parse_challenge('Basic realm="basic-realm"')
    assert c is not None
    assert (c.scheme, c.realm) == ("basic", "basic-realm")
    c = parse_challenge('bearer realm="http://127.0.0.1:1/t" , service=reg, error="a \\"q\\""')
    assert c is not None
    assert c.params == {"realm": "http://127.0.0.1:1/t", "service": "reg", "error": 'a "q"'}
    assert parse_challenge("") is None


def test_credentials_never_show_their_secret() -> None:
    creds = Credentials("alice", "s3cret-pass", "tok-123")
    assert "s3cret" not in repr(creds)
    assert "tok-123" not in repr(creds)
    assert not Credentials()
    assert Credentials(identity_token="x")


def test_verify_and_media_types() -> None:
    folder = FIXTURES / "buildx-attested"
    root = (folder / "root.txt").read_text().strip()
    data = (folder / root.replace(":", "_")).read_bytes()
    verify(data, root, "index")
    assert digest_of(data) == root
    with pytest.raises(DigestMismatch, match="digest mismatch for index"):
        verify(data + b" ", root, "index")
    assert media_type_of(data, "application/octet-stream") == OCI_INDEX
    bb = FIXTURES / "busybox-list"
    bb_root = (bb / "root.txt").read_text().strip()
    assert media_type_of((bb / bb_root.replace(":", "_")).read_bytes(), "") == DOCKER_LIST
    # No mediaType field: the Content-Type header, else the shape of the document.
    assert media_type_of(b'{"schemaVersion":2,"layers":[]}', "") == OCI_MANIFEST
    assert media_type_of(b'{"schemaVersion":2,"manifests":[]}', "") == OCI_INDEX
    assert media_type_of(b'{"schemaVersion":1,"fsLayers":[]}', "") == SCHEMA1[0]


def test_cache_round_trip_and_refuses_damaged_entries(tmp_path: Path) -> None:
    cache = DigestCache(tmp_path)
    data = b'{"hello": "world"}'
    digest = digest_of(data)
    assert cache.get(digest) is None
    cache.put(digest, data)
    assert cache.get(digest) == data
    path = tmp_path / "sha256" / digest.partition(":")[2]
    path.write_bytes(b'{"hello": "w0rld"}')
    assert cache.get(digest) is None
    assert not path.exists()  # a damaged entry is dropped
    assert cache.get("../../etc:passwd") is None


def test_scheme_is_http_only_for_loopback() -> None:
    from mabgui.core.registry.reference import parse_reference

    async def bases() -> list[str]:
        async with RegistryClient(insecure=["reg.lan:5000"], use_docker_config=False) as c:
            return [
                c.base_url(parse_reference(r))
                for r in (
                    "127.0.0.1:5000/a",
                    "localhost:5000/a",
                    "reg.lan:5000/a",
                    "ghcr.io/a/b",
                    "busybox",
                )
            ]

    assert asyncio.run(bases()) == [
        "http://127.0.0.1:5000/v2/a",
        "http://localhost:5000/v2/a",
        "https://reg.lan:5000/v2/a",  # insecure: TLS without checks first, as docker does
        "https://ghcr.io/v2/a/b",
        "https://registry-1.docker.io/v2/library/busybox",
    ]


def test_docker_config_auths_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = base64.b64encode(b"alice:wonder land").decode()
    config = {
        "auths": {"reg.example:5000": {"auth": auth}, "https://index.docker.io/v1/": {"auth": auth}}
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    creds = asyncio.run(docker_config_credentials("reg.example:5000"))
    assert creds == Credentials("alice", "wonder land")
    assert asyncio.run(docker_config_credentials("docker.io")) == Credentials(
        "alice", "wonder land"
    )
    assert asyncio.run(docker_config_credentials("other.example")) is None


def test_docker_config_credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``credHelpers`` run ``docker-credential-<name> get`` with the server on stdin."""
    helper = tmp_path / "bin" / "docker-credential-mabguitest"
    helper.parent.mkdir()
    helper.write_text(
        "#!/bin/sh\n"
        "read server\n"
        'if [ "$server" = "reg.example:5000" ]; then\n'
        '  echo \'{"ServerURL":"reg.example:5000","Username":"carol","Secret":"h3lper"}\'\n'
        'elif [ "$server" = "tok.example" ]; then\n'
        '  echo \'{"ServerURL":"tok.example","Username":"<token>","Secret":"refresh-me"}\'\n'
        "else echo 'credentials not found in native keychain'; exit 1; fi\n"
    )
    helper.chmod(0o755)
    config = {"credHelpers": {"reg.example:5000": "mabguitest", "tok.example": "mabguitest"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    assert asyncio.run(docker_config_credentials("reg.example:5000")) == Credentials(
        "carol", "h3lper"
    )
    assert asyncio.run(docker_config_credentials("tok.example")) == Credentials(
        identity_token="refresh-me"
    )
    assert asyncio.run(docker_config_credentials("nowhere.example")) is None
    config["credsStore"] = "absent-helper"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(Unauthorized, match="docker-credential-absent-helper"):
        asyncio.run(docker_config_credentials("nowhere.example"))


def test_malformed_docker_config_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    for text in ('{"auths": {"reg.example": {"auth": "!!!"}}}', "[1]"):
        (tmp_path / "config.json").write_text(text)
        with pytest.raises(Unauthorized, match="cannot read your docker config"):
            asyncio.run(docker_config_credentials("reg.example"))


def test_credentials_follow_a_redirect_only_within_their_origin() -> None:
    import httpx

    from mabgui.core.registry.transport import same_origin

    a = httpx.URL("https://reg.example/v2/a/manifests/1")
    assert same_origin(a, httpx.URL("https://reg.example/v2/other"))
    assert same_origin(httpx.URL("http://reg.example/x"), httpx.URL("https://reg.example/y"))
    assert not same_origin(a, httpx.URL("http://reg.example/x"))  # never downgraded
    assert not same_origin(a, httpx.URL("https://reg.example:444/x"))
    assert not same_origin(a, httpx.URL("https://cdn.reg.example/x"))
    assert not same_origin(a, httpx.URL("https://evil.example/x"))


def test_logged_urls_hold_no_credentials() -> None:
    from mabgui.core.registry.transport import loggable

    text = loggable(
        "https://u:p4ss@reg.example/token?scope=repository:a:pull&refresh_token=s3c&n=5"
    )
    assert text == ("https://reg.example/token?scope=repository:a:pull&refresh_token=***&n=5")


def test_only_sha2_digests_are_verified() -> None:
    from mabgui.core.registry import UnsupportedDigest

    for digest in ("md5:" + "0" * 32, "shake_256:" + "0" * 64, "sha1:" + "0" * 40, "sha256:x"):
        with pytest.raises(UnsupportedDigest):
            verify(b"data", digest, "blob")

"""Manifests against real registries: the provisioned one, htpasswd and token-auth ones, proxies."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mabgui.core.registry import (
    DigestMismatch,
    NotFound,
    RateLimited,
    RegistryClient,
    RegistryTimeout,
    ServerError,
    Unauthorized,
    Unreachable,
)
from mabgui.core.registry.auth import Credentials
from mabgui.core.registry.cache import DigestCache
from mabgui.core.registry.manifest import ImageIndex, ImageManifest, ManifestTree, fetch_tree
from mabgui.core.registry.reference import parse_reference
from tests.conftest import Engine
from tests.e2e.registry_servers import (
    Proxy,
    Pusher,
    TokenServer,
    bcrypt_htpasswd_line,
    non_loopback_ip,
    push_attested_image,
    registry,
    self_signed_cert,
    sha256,
    small_image,
)

pytestmark = pytest.mark.engine

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SIX = {
    "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x", "linux/riscv64",
}  # fmt: skip


def fetch(ref: str, **client_args: Any) -> ManifestTree:
    async def go() -> ManifestTree:
        client_args.setdefault("use_docker_config", False)
        async with RegistryClient(**client_args) as client:
            return await fetch_tree(client, parse_reference(ref))

    return asyncio.run(go())


CLI_CACHE = Path(tempfile.gettempdir()) / f"mabgui-test-cache-{os.getpid()}"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mabgui …`` as a user runs it (its digest cache kept out of the user's own)."""
    full_env = {**os.environ, "MABGUI_CACHE_DIR": str(CLI_CACHE), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mabgui", *args],
        capture_output=True, text=True, timeout=60, env=full_env,
    )  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _drop_cli_cache() -> Iterator[None]:
    yield
    shutil.rmtree(CLI_CACHE, ignore_errors=True)


@pytest.fixture(scope="module")
def repo(engine: Engine) -> Iterator[Pusher]:
    """A unique repository on the provisioned registry; everything pushed is deleted after."""
    pusher = Pusher(f"http://{engine.registry}", f"mabgui-manifest-test-{uuid.uuid4().hex[:12]}")
    yield pusher
    pusher.delete_all()


@pytest.fixture(scope="module")
def attested(engine: Engine) -> Iterator[str]:
    """An image pushed by buildx with provenance attestations (two platforms, no emulation)."""
    ref, cleanup = push_attested_image(engine.docker, engine.base_image, engine.registry)
    yield ref
    cleanup()


def test_busybox_six_platforms_match_imagetools(engine: Engine, tmp_path: Path) -> None:
    raw = subprocess.run(
        [engine.docker, "buildx", "imagetools", "inspect", "--raw", engine.base_image],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    expected = {m["platform"]["architecture"]: m["digest"] for m in json.loads(raw)["manifests"]}
    tree = fetch(engine.base_image, cache=DigestCache(tmp_path))
    assert isinstance(tree.root, ImageIndex)
    manifests = tree.platform_manifests()
    assert {str(m.platform) for m in manifests} == SIX
    assert {m.platform.architecture: m.digest for m in manifests if m.platform} == expected
    assert all(m.config is not None and m.config.platform == m.platform for m in manifests)
    assert tree.shared_layers()  # the busybox --install layer is the same everywhere

    # Reopening comes from the cache: only the tag and the referrers are asked again.
    again = fetch(engine.base_image, cache=DigestCache(tmp_path))
    assert again.to_json() == tree.to_json()
    assert again.requests <= 3 < tree.requests


def test_cli_json_and_raw(engine: Engine) -> None:
    result = cli("inspect", engine.base_image, "--json", "--no-cache")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["reference", "digest", "mediaType", "size", "manifests", "referrers"]
    assert doc["reference"] == engine.base_image
    assert {m["platform"] for m in doc["manifests"]} == SIX
    raw = cli("inspect", engine.base_image, "--raw")
    imagetools = subprocess.run(
        [engine.docker, "buildx", "imagetools", "inspect", "--raw", engine.base_image],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert json.loads(raw.stdout) == json.loads(imagetools)
    assert sha256(raw.stdout.rstrip("\n").encode()) == doc["digest"]
    text = cli("inspect", engine.base_image)
    assert text.returncode == 0
    assert "linux/riscv64" in text.stdout


def test_buildx_attestations_hang_under_their_platform(attested: str) -> None:
    tree = fetch(attested)
    assert isinstance(tree.root, ImageIndex)
    assert tree.root.media_type == OCI_INDEX
    manifests = tree.platform_manifests()
    assert {str(m.platform) for m in manifests} == {"linux/amd64", "linux/arm64"}
    for m in manifests:
        assert len(m.attestations) == 1, m
        assert m.attestations[0].subject == m.digest
        assert m.attestations[0].predicate_types == ("https://slsa.dev/provenance/v0.2",)
    doc = tree.to_json()
    assert all(e["platform"] != "unknown/unknown" for e in doc["manifests"])
    assert all(e["attestations"][0]["predicateTypes"] for e in doc["manifests"])


def test_manifest_list_single_nested_and_artifact(engine: Engine, repo: Pusher) -> None:
    amd = small_image(repo, "amd64", docker=True)
    arm = small_image(repo, "arm", docker=True, variant="v6")
    repo.manifest({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [amd, arm]}, "list")
    oci_amd = small_image(repo, "amd64")
    oci_s390x = small_image(repo, "s390x")
    repo.tag(oci_amd, "single")
    inner = repo.manifest({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [oci_s390x]})
    repo.manifest(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [oci_amd, inner]}, "nested"
    )
    empty = repo.blob(b"{}")
    sbom = repo.blob(b'{"spdxVersion": "SPDX-2.3"}')
    artifact = repo.manifest(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/spdx+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
            "layers": [{"mediaType": "application/spdx+json", **sbom}],
            "subject": {k: oci_amd[k] for k in ("mediaType", "digest", "size")},
        },
        "artifact",
    )
    # What OCI 1.1 clients push for registries without the referrers API: the tag schema.
    repo.manifest(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [artifact | {"artifactType": "application/spdx+json"}],
        },
        oci_amd["digest"].replace(":", "-"),
    )
    name = f"{engine.registry}/{repo.base.split('/v2/')[1]}"

    listed = fetch(f"{name}:list")
    assert listed.root.media_type == DOCKER_LIST
    assert {str(m.platform) for m in listed.platform_manifests()} == {"linux/amd64", "linux/arm/v6"}
    assert all(m.config and m.config.env_count == 2 for m in listed.platform_manifests())

    single = fetch(f"{name}:single")
    assert isinstance(single.root, ImageManifest)
    assert str(single.root.platform) == "linux/amd64"
    assert single.root.layers[0].compression == "zstd"
    assert [r.digest for r in single.referrers] == [artifact["digest"]]
    assert single.referrers[0].artifact_type == "application/spdx+json"

    nested = fetch(f"{name}:nested")
    assert isinstance(nested.root, ImageIndex)
    inner_node = nested.root.children[1]
    assert isinstance(inner_node, ImageIndex)
    assert [str(m.platform) for m in inner_node.manifests] == ["linux/s390x"]
    assert [str(m.platform) for m in nested.platform_manifests()] == ["linux/amd64", "linux/s390x"]
    assert nested.to_json()["manifests"][1]["manifests"][0]["platform"] == "linux/s390x"

    art = fetch(f"{name}:artifact")
    assert isinstance(art.root, ImageManifest)
    assert art.root.subject == oci_amd["digest"]
    assert art.root.artifact_type == "application/spdx+json"
    assert art.root.config is not None
    assert art.root.config.media_type == "application/vnd.oci.empty.v1+json"

    # Tags, with pagination (n=2 per page, following the Link header).
    async def tags() -> list[str]:
        async with RegistryClient(use_docker_config=False) as client:
            return await client.tags(parse_reference(name), page_size=2)

    assert {"list", "single", "nested", "artifact"} <= set(asyncio.run(tags()))


@pytest.fixture(scope="module")
def basic_registry(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("basic-registry")
    (work / "htpasswd").write_text(bcrypt_htpasswd_line("alice", "wonder land") + "\n")
    auth = {"htpasswd": {"realm": "basic-realm", "path": str(work / "htpasswd")}}
    with registry(work, auth) as server:
        header = "Basic " + base64.b64encode(b"alice:wonder land").decode()
        pusher = Pusher(server.url, "private/app", header)
        desc = small_image(pusher, "arm64")
        pusher.manifest({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}, "v1")
        yield server.host


def test_basic_auth_from_docker_config(
    basic_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = base64.b64encode(b"alice:wonder land").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {basic_registry: {"auth": secret}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    tree = fetch(f"{basic_registry}/private/app:v1", use_docker_config=True)
    assert [str(m.platform) for m in tree.platform_manifests()] == ["linux/arm64"]

    result = cli("inspect", f"{basic_registry}/private/app:v1", "--json", "--no-cache")
    assert result.returncode == 0, result.stderr
    assert "wonder" not in result.stdout + result.stderr

    with pytest.raises(Unauthorized, match="user name and password"):
        fetch(f"{basic_registry}/private/app:v1")
    with pytest.raises(Unauthorized, match="401") as info:
        fetch(
            f"{basic_registry}/private/app:v1",
            credentials={basic_registry: Credentials("alice", "not-it")},
        )
    assert "not-it" not in str(info.value)


def test_bearer_token_auth(engine: Engine, tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path, users={"bob": "b0b-pw"}, anonymous_pull=True)
    try:
        with registry(tmp_path / "reg", tokens.registry_auth()) as server:
            push_token = tokens.issue("bob", "repository:team/app:pull,push")
            pusher = Pusher(server.url, "team/app", "Bearer " + push_token)
            amd, arm = small_image(pusher, "amd64"), small_image(pusher, "arm64")
            pusher.manifest(
                {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd, arm]}, "v1"
            )
            tokens.requests.clear()
            # Anonymous pull tokens, as Docker Hub hands out: one token for the whole tree.
            tree = fetch(f"{server.host}/team/app:v1")
            assert {str(m.platform) for m in tree.platform_manifests()} == {
                "linux/amd64", "linux/arm64",
            }  # fmt: skip
            assert [r["scope"] for r in tokens.requests] == ["repository:team/app:pull"]
            assert tokens.requests[0]["user"] == ""
            # With credentials the token server sees the user.
            tokens.requests.clear()
            fetch(
                f"{server.host}/team/app:v1",
                credentials={server.host: Credentials("bob", "b0b-pw")},
            )
            assert tokens.requests == [{"scope": "repository:team/app:pull", "user": "bob"}]
            tokens.anonymous_pull = False
            with pytest.raises(Unauthorized, match="refused anonymous access"):
                fetch(f"{server.host}/team/app:v1")
            with pytest.raises(Unauthorized, match="refused the credentials"):
                fetch(
                    f"{server.host}/team/app:v1", credentials={server.host: Credentials("bob", "x")}
                )
    finally:
        tokens.stop()


def test_corrupted_manifest_is_refused(engine: Engine) -> None:
    index = json.loads(
        subprocess.run(
            [engine.docker, "buildx", "imagetools", "inspect", "--raw", engine.base_image],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    victim = index["manifests"][3]["digest"]
    proxy = Proxy(engine.registry, corrupt=lambda method, path: path.endswith(victim))
    try:
        ref = f"{proxy.host}/busybox:latest"
        with pytest.raises(DigestMismatch, match="digest mismatch") as info:
            fetch(ref)
        assert info.value.expected == victim
        result = cli("inspect", ref, "--no-cache")
        assert result.returncode == 1
        assert "digest mismatch" in result.stderr
        # By tag: the body no longer matches the Docker-Content-Digest the registry announced.
        proxy.corrupt = lambda method, path: path.endswith("/manifests/latest")
        with pytest.raises(DigestMismatch, match="digest mismatch"):
            fetch(ref)
    finally:
        proxy.stop()


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (404, NotFound, "not found"),
        (401, Unauthorized, "user name and password"),
        (500, ServerError, "500 Internal Server Error"),
        (429, RateLimited, "rate limited by the registry .429.: limit 100;w=21600, remaining 0"),
    ],
)
def test_http_errors_are_clear(
    engine: Engine, fault: int, error: type[Exception], message: str
) -> None:
    proxy = Proxy(engine.registry, faults={"/manifests/": fault})
    try:
        with pytest.raises(error, match=message):
            fetch(f"{proxy.host}/busybox:latest")
        result = cli("inspect", f"{proxy.host}/busybox:latest", "--no-cache")
        assert result.returncode == 1
        assert re.search(message, result.stderr)
        assert "hint:" in result.stderr
    finally:
        proxy.stop()


def test_unknown_repository_and_bad_reference(engine: Engine) -> None:
    with pytest.raises(NotFound, match="not found"):
        fetch(f"{engine.registry}/mabgui-manifest-test-absent-{uuid.uuid4().hex[:8]}:nope")
    result = cli("inspect", "Not A Ref")
    assert result.returncode == 1
    assert "spaces" in result.stderr


def test_slow_registry_times_out(engine: Engine) -> None:
    proxy = Proxy(engine.registry, delay=1.0)
    try:
        with pytest.raises(RegistryTimeout, match="did not answer in time"):
            fetch(f"{proxy.host}/busybox:latest", timeout=0.5)
    finally:
        proxy.stop()


def test_plain_http_only_for_loopback_or_insecure(engine: Engine, tmp_path: Path) -> None:
    """A plain-HTTP registry on a non-loopback address is refused unless marked insecure."""
    with registry(tmp_path, host=non_loopback_ip()) as server:
        pusher = Pusher(server.url, "lan/app")
        desc = small_image(pusher, "ppc64le")
        pusher.tag(desc, "v1")
        ref = f"{server.host}/lan/app:v1"
        with pytest.raises(Unreachable, match="does not speak HTTPS") as info:
            fetch(ref)
        assert "insecure" in info.value.hint
        tree = fetch(ref, insecure=[server.host])
        assert [str(m.platform) for m in tree.platform_manifests()] == ["linux/ppc64le"]
        refused = cli("inspect", ref, "--no-cache")
        assert refused.returncode == 1
        assert "does not speak HTTPS" in refused.stderr
        allowed = cli("inspect", ref, "--no-cache", "--json", "--insecure", server.host)
        assert allowed.returncode == 0, allowed.stderr
        assert json.loads(allowed.stdout)["manifests"][0]["platform"] == "linux/ppc64le"


def test_tls_is_verified_unless_marked_insecure(engine: Engine, tmp_path: Path) -> None:
    """A registry with a self-signed certificate: refused, accepted with its CA, or insecure."""
    ip = non_loopback_ip()
    cert, key = self_signed_cert(tmp_path, ip)
    with registry(tmp_path / "reg", host=ip, tls=(cert, key)) as server:
        pusher = Pusher(server.url, "tls/app", verify=str(cert))
        pusher.tag(small_image(pusher, "s390x"), "v1")
        ref = f"{server.host}/tls/app:v1"
        with pytest.raises(Unreachable, match="TLS verification failed") as info:
            fetch(ref)
        assert "insecure" in info.value.hint
        with_ca = fetch(ref, verify_tls=str(cert))
        assert [str(m.platform) for m in with_ca.platform_manifests()] == ["linux/s390x"]
        insecure = fetch(ref, insecure=[server.host])  # HTTPS without checks, as docker does
        assert insecure.digest == with_ca.digest
        refused = cli("inspect", ref, "--no-cache")
        assert refused.returncode == 1
        assert "TLS verification failed" in refused.stderr
        allowed = cli("inspect", ref, "--no-cache", "--json", "--insecure", server.host)
        assert allowed.returncode == 0, allowed.stderr

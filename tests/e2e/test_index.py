"""Registry writes against real registries: assemble, append/remove, copy, tag rm, bases.

Sources are built and pushed by ``docker buildx`` (COPY only, so no emulated RUN); the second
registry is a ``docker-registry`` this module starts on a free loopback port (delete enabled),
stopped at the end. Results are checked with docker's own tools (``imagetools inspect --raw``,
``docker run --platform``), not with mabgui's reader alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Engine
from tests.e2e.registry_servers import (
    Proxy,
    Pusher,
    RegistryServer,
    TokenServer,
    registry,
    sha256,
    small_image,
)

pytestmark = pytest.mark.engine

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join((
    OCI_INDEX, "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))  # fmt: skip


def mabgui(*args: str, timeout: float = 300) -> tuple[int, Any, str]:
    """Run the CLI with ``--json``: exit code, the parsed JSON, stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "mabgui", *args, "--json"],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )  # fmt: skip
    try:
        doc = json.loads(result.stdout)
    except ValueError:
        doc = None
    return result.returncode, doc, result.stderr


def raw(docker: str, ref: str) -> dict[str, Any]:
    out = subprocess.run([docker, "buildx", "imagetools", "inspect", "--raw", ref],
                         check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def exists(host: str, repo: str, target: str) -> bool:
    r = httpx.head(f"http://{host}/v2/{repo}/manifests/{target}", headers={"Accept": ACCEPT})
    return r.status_code == 200


def images(doc: dict[str, Any]) -> dict[str, str]:
    """platform → digest of an index's images (attestation manifests left out)."""
    result = {}
    for m in doc["manifests"]:
        p = m.get("platform") or {}
        if p.get("os") == "unknown":
            continue
        result["/".join(v for v in (p["os"], p["architecture"], p.get("variant")) if v)] = m[
            "digest"
        ]
    return result


@pytest.fixture(scope="module")
def sources(engine: Engine) -> Iterator[dict[str, Any]]:
    """Two single-platform images pushed by buildx to the provisioned registry."""
    ctx = Path(tempfile.mkdtemp(prefix="mabgui-index-"))
    token = uuid.uuid4().hex
    (ctx / "Dockerfile").write_text(
        f'FROM {engine.base_image}\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n'
    )
    (ctx / "hello.txt").write_text(token)
    repo = f"mabgui-index-test-{uuid.uuid4().hex[:12]}"
    refs = {}
    for arch in ("amd64", "arm64"):
        ref = f"{engine.registry}/{repo}:{arch}"
        for attempt in range(3):  # distribution 2.8's HEAD race after concurrent PUTs
            done = subprocess.run(
                [engine.docker, "buildx", "build", "--builder", "default", "--platform",
                 f"linux/{arch}", "--provenance=mode=min", "-t", ref, "--push", str(ctx)],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            if done.returncode == 0:
                break
            assert attempt < 2, done.stderr[-2000:]
        refs[arch] = ref
    yield {"repo": repo, "refs": refs, "token": token, "registry": engine.registry}
    shutil.rmtree(ctx, ignore_errors=True)


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with registry(tmp_path_factory.mktemp("second-registry")) as server:
        yield server


def test_index_create_append_remove_and_run(engine: Engine, sources: dict[str, Any]) -> None:
    refs, host = sources["refs"], sources["registry"]
    source_images = {f"linux/{a}": images(raw(engine.docker, r))[f"linux/{a}"]
                     for a, r in refs.items()}  # fmt: skip
    target = f"{host}/{sources['repo']}-multi:1"
    # the preview writes nothing
    rc, plan, err = mabgui("index", "create", target, refs["amd64"], refs["arm64"], "--dry-run")
    assert rc == 0, err
    assert plan["dryRun"] is True
    assert plan["mediaType"] == OCI_INDEX
    assert "attestation" in plan["why"]
    assert not exists(host, f"{sources['repo']}-multi", "1")
    # the push: another repository of the same registry, so blobs are mounted
    rc, pushed, err = mabgui(
        "index", "create", target, refs["amd64"], "linux/arm64=" + refs["arm64"]
    )
    assert rc == 0, err
    assert pushed["digest"] == plan["digest"]
    assert pushed["bytesUploaded"] == 0
    assert pushed["blobsMounted"] > 0
    doc = raw(engine.docker, target)
    assert images(doc) == source_images
    assert sum(1 for m in doc["manifests"] if m["platform"]["os"] == "unknown") == 2
    assert sha256(json.dumps(doc, indent=2).encode()) == pushed["digest"]
    for platform in source_images:
        out = subprocess.run(
            [engine.docker, "run", "--rm", "--pull", "always", "--platform", platform, target,
             "sh", "-c", "uname -m; cat /hello.txt"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        assert sources["token"] in out.stdout
        assert {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[platform] in out.stdout
    # remove: exactly the arm64 image and its attestation go
    rc, removed, err = mabgui("index", "remove", target, "--platform", "linux/arm64")
    assert rc == 0, err
    after = raw(engine.docker, target)
    assert images(after) == {"linux/amd64": source_images["linux/amd64"]}
    assert len(after["manifests"]) == 2
    assert removed["previous"] == pushed["digest"]
    # append: it comes back, the index is the one created
    rc, appended, err = mabgui("index", "append", target, refs["arm64"])
    assert rc == 0, err
    assert images(raw(engine.docker, target)) == source_images
    assert appended["digest"] == pushed["digest"]
    # appending a platform already there is refused, and nothing changes
    rc, refused, _ = mabgui("index", "append", target, "linux/amd64=" + engine.base_image)
    assert rc == 1
    assert "two images for linux/amd64" in refused["error"]


def test_bad_sources_write_nothing(engine: Engine, sources: dict[str, Any]) -> None:
    refs, host = sources["refs"], sources["registry"]
    repo = f"{sources['repo']}-bad"
    target = f"{host}/{repo}:1"
    rc, doc, _ = mabgui("index", "create", target, "linux/s390x=" + refs["arm64"], refs["amd64"])
    assert rc == 1
    assert doc["kind"] == "platform-mismatch"
    assert "linux/s390x" in doc["error"]
    rc, doc, _ = mabgui("index", "create", target, refs["amd64"], f"{host}/{sources['repo']}:nope")
    assert rc == 1
    assert doc["kind"] == "not-found"
    assert not exists(host, repo, "1")
    # content corrupted in transit (a proxy flips a byte of the source manifests)
    proxy = Proxy(host, corrupt=lambda method, path: method == "GET" and "/manifests/" in path)
    try:
        via = refs["amd64"].replace(host, proxy.host)
        rc, doc, _ = mabgui("index", "create", f"{proxy.host}/{repo}:2", via)
        assert rc == 1
        assert doc["kind"] == "digest-mismatch"
    finally:
        proxy.stop()
    assert not exists(host, repo, "2")


def test_push_to_an_unauthorised_registry_is_denied(engine: Engine, tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path, users={"bob": "b0b-pw"}, anonymous_pull=True)
    try:
        with registry(tmp_path / "reg", tokens.registry_auth()) as server:
            push_token = tokens.issue("bob", "repository:team/app:pull,push")
            pusher = Pusher(server.url, "team/app", "Bearer " + push_token)
            amd = small_image(pusher, "amd64")
            pusher.tag(amd, "amd")
            rc, doc, _ = mabgui("index", "create", f"{server.host}/team/app:multi",
                                f"{server.host}/team/app:amd")  # fmt: skip
            assert rc == 1
            assert doc["kind"] == "denied"
            assert "push" in doc["hint"]
            assert any(r["scope"] == "repository:team/app:push,pull" for r in tokens.requests)
            r = httpx.head(f"{server.url}/v2/team/app/manifests/multi")
            assert r.status_code == 401  # nothing to see; and with a token, nothing pushed:
            token = tokens.issue("bob", "repository:team/app:pull")
            auth = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
            r = httpx.head(f"{server.url}/v2/team/app/manifests/multi", headers=auth)
            assert r.status_code == 404
    finally:
        tokens.stop()


def test_copy_between_registries_keeps_every_digest(
    engine: Engine, sources: dict[str, Any], second: RegistryServer
) -> None:
    host = sources["registry"]
    multi = f"{host}/{sources['repo']}-copysrc:1"
    rc, made, err = mabgui("index", "create", multi, *sources["refs"].values())
    assert rc == 0, err
    target = f"{second.host}/copied/app:1"
    rc, doc, err = mabgui("copy", multi, target)
    assert rc == 0, err
    assert doc["digest"] == made["digest"]
    assert doc["sameDigest"] is True
    assert doc["attestations"] == 2
    assert raw(engine.docker, target) == raw(engine.docker, multi)
    for m in raw(engine.docker, multi)["manifests"]:  # attestations and images alike
        assert raw(engine.docker, f"{second.host}/copied/app@{m['digest']}") == raw(
            engine.docker, f"{host}/{sources['repo']}-copysrc@{m['digest']}"
        )
    # the same image within the second registry: mounted, zero bytes uploaded
    rc, doc, err = mabgui("copy", target, f"{second.host}/other/app")
    assert rc == 0, err
    assert doc["bytesUploaded"] == 0
    assert doc["blobsMounted"] > 0
    assert doc["target"].endswith("other/app:1")
    # one platform of the busybox index: a new index holding only it
    rc, doc, err = mabgui(
        "copy", engine.base_image, f"{second.host}/bb:arm", "--platform", "linux/arm64"
    )
    assert rc == 0, err
    assert doc["platforms"] == ["linux/arm64"]
    assert doc["sameDigest"] is False
    assert list(images(raw(engine.docker, f"{second.host}/bb:arm"))) == ["linux/arm64"]


def test_copy_carries_referrers_and_inspect_lists_them(
    engine: Engine, second: RegistryServer
) -> None:
    """An artifact attached by ``subject`` (the tag schema: distribution 2.8 has no referrers
    API) goes with the image; ``inspect --json`` lists it."""
    pusher = Pusher(second.url, "signed/app")
    image = small_image(pusher, "amd64")
    pusher.tag(image, "v1")
    empty = pusher.blob(b"{}")
    sig = pusher.blob(b"signature bytes")
    artifact = pusher.manifest({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
        "layers": [{"mediaType": "application/octet-stream", **sig}],
        "subject": {"mediaType": image["mediaType"], "digest": image["digest"],
                    "size": image["size"]},
    })  # fmt: skip
    pusher.manifest(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {**artifact, "artifactType": "application/vnd.example.signature"}]},
        image["digest"].replace(":", "-"),
    )  # fmt: skip
    rc, doc, err = mabgui("inspect", f"{second.host}/signed/app:v1")
    assert rc == 0, err
    assert doc["referrers"] == [{"digest": artifact["digest"], "mediaType": artifact["mediaType"],
                                 "artifactType": "application/vnd.example.signature",
                                 "size": artifact["size"]}]  # fmt: skip
    rc, doc, err = mabgui("copy", f"{second.host}/signed/app:v1", f"{second.host}/signed/copy")
    assert rc == 0, err
    assert [r["digest"] for r in doc["referrers"]] == [artifact["digest"]]
    rc, doc, err = mabgui("inspect", f"{second.host}/signed/copy:v1")
    assert [r["digest"] for r in doc["referrers"]] == [artifact["digest"]]
    rc, doc, err = mabgui("copy", f"{second.host}/signed/app:v1", f"{second.host}/signed/bare",
                          "--no-referrers")  # fmt: skip
    assert doc["referrers"] == []
    assert not exists(second.host, "signed/bare", image["digest"].replace(":", "-"))


def test_tag_rm_where_the_registry_allows(second: RegistryServer) -> None:
    pusher = Pusher(second.url, "deleting/app")
    image = small_image(pusher, "amd64")
    pusher.tag(image, "a")
    rc, doc, _ = mabgui("tag", "rm", f"{second.host}/deleting/app:a")
    assert rc == 1
    assert "--yes" in doc["hint"]
    assert exists(second.host, "deleting/app", "a")
    pusher.tag(image, "b")
    rc, doc, _ = mabgui("tag", "rm", f"{second.host}/deleting/app:a", "--yes")
    assert rc == 1
    assert "also tagged b" in doc["error"]
    assert exists(second.host, "deleting/app", "a")
    rc, doc, err = mabgui("tag", "rm", f"{second.host}/deleting/app@{image['digest']}", "--yes")
    assert rc == 0, err
    assert sorted(doc["tags"]) == ["a", "b"]
    assert not exists(second.host, "deleting/app", "a")
    other = small_image(pusher, "arm64")
    pusher.tag(other, "c")
    rc, doc, err = mabgui("tag", "rm", f"{second.host}/deleting/app:c", "--yes")
    assert rc == 0, err
    assert not exists(second.host, "deleting/app", "c")


def test_bases_matrix_flags_a_base_without_s390x(engine: Engine, sources: dict[str, Any]) -> None:
    host = sources["registry"]
    base = f"{host}/{sources['repo']}-base:1"
    rc, _, err = mabgui("index", "create", base, *sources["refs"].values())
    assert rc == 0, err
    ctx = Path(tempfile.mkdtemp(prefix="mabgui-bases-"))
    try:
        (ctx / "Dockerfile").write_text(
            f"ARG BASE={base}\n"
            f"FROM --platform=$BUILDPLATFORM {base} AS tools\n"
            "FROM ${BASE} AS app\nCOPY --from=tools /hello.txt /x\n"
            f"FROM {engine.base_image}\n"
        )
        rc, doc, err = mabgui("bases", str(ctx), "--platform", "linux/amd64,linux/s390x")
        assert rc == 1, err
        rows = {b["stage"]: b for b in doc["bases"]}
        assert rows["app"]["missing"] == ["linux/s390x"]
        assert rows["app"]["platforms"] == ["linux/amd64", "linux/arm64"]
        assert rows["tools"]["missing"] == []
        assert rows["tools"]["buildPlatform"] is True
        assert rows["stage 2"]["missing"] == []
        assert any("linux/s390x" in w for w in doc["warnings"])
        rc, doc, err = mabgui("bases", str(ctx), "--platform", "linux/s390x",
                              "--build-arg", f"BASE={engine.base_image}")  # fmt: skip
        assert rc == 0, err
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def test_mount_asks_push_on_the_target_and_pull_on_the_source(tmp_path: Path) -> None:
    """With bearer auth: one token with ``repository:<target>:push,pull`` and
    ``repository:<source>:pull``; the blobs are mounted, not uploaded."""
    import asyncio

    from mabgui.core.registry import RegistryClient
    from mabgui.core.registry.auth import Credentials
    from mabgui.core.registry.copy import copy_image
    from mabgui.core.registry.reference import parse_reference

    tokens = TokenServer(tmp_path, users={"bob": "b0b-pw"})
    try:
        with registry(tmp_path / "reg", tokens.registry_auth()) as server:
            push_token = tokens.issue("bob", "repository:team/src:pull,push")
            pusher = Pusher(server.url, "team/src", "Bearer " + push_token)
            pusher.tag(small_image(pusher, "amd64"), "v1")
            tokens.requests.clear()

            async def go() -> Any:
                creds = {server.host: Credentials("bob", "b0b-pw")}
                async with RegistryClient(credentials=creds) as client:
                    return await copy_image(
                        client,
                        parse_reference(f"{server.host}/team/src:v1"),
                        parse_reference(f"{server.host}/team/dst:v1"),
                    )

            result = asyncio.run(go())
            assert result.stats.mounted == 2
            assert result.stats.bytes_uploaded == 0
            scopes = {r["scope"] for r in tokens.requests}
            assert "repository:team/dst:push,pull repository:team/src:pull" in scopes
            assert all(r["user"] == "bob" for r in tokens.requests)
    finally:
        tokens.stop()


def test_read_only_registry_refuses_and_nothing_is_written(
    engine: Engine, sources: dict[str, Any], tmp_path: Path
) -> None:
    from tests.e2e.registry_servers import start_registry

    readonly = ("  maintenance:", "    readonly:", "      enabled: true")
    server = start_registry(tmp_path, storage_extra=readonly)
    try:
        rc, doc, _ = mabgui("copy", sources["refs"]["amd64"], f"{server.host}/ro/app:1")
        assert rc == 1
        assert doc["kind"] == "unsupported"
        assert "read-only" in doc["hint"]
        assert not exists(server.host, "ro/app", "1")
    finally:
        server.stop()


def test_large_blobs_move_in_ranges_and_are_verified(
    second: RegistryServer, engine: Engine
) -> None:
    """Above the streaming threshold a blob moves in Range GETs and PATCH chunks (memory
    bounded), hashed on the way: a byte flipped in transit leaves nothing committed."""
    import asyncio

    from mabgui.core.registry import DigestMismatch, RegistryClient
    from mabgui.core.registry.copy import copy_image
    from mabgui.core.registry.reference import parse_reference

    repo = f"mabgui-index-big-{uuid.uuid4().hex[:8]}"
    pusher = Pusher(f"http://{engine.registry}", repo)
    layer = pusher.blob(os.urandom(3 << 20) + b"end")
    config = pusher.blob(
        json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
        ).encode()
    )
    image = pusher.manifest({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
    }, "big")  # fmt: skip

    async def copy(src: str, dst: str) -> Any:
        async with RegistryClient() as client:
            return await copy_image(client, parse_reference(src), parse_reference(dst),
                                    stream_above=1 << 20, chunk=1 << 20)  # fmt: skip

    proxy = Proxy(engine.registry, corrupt=lambda m, path: m == "GET" and layer["digest"] in path)
    try:
        with pytest.raises(DigestMismatch):
            asyncio.run(copy(f"{proxy.host}/{repo}:big", f"{second.host}/big/app:1"))
    finally:
        proxy.stop()
    head = httpx.head(f"{second.url}/v2/big/app/blobs/{layer['digest']}")
    assert head.status_code == 404
    assert not exists(second.host, "big/app", "1")
    result = asyncio.run(copy(f"{engine.registry}/{repo}:big", f"{second.host}/big/app:1"))
    assert result.digest == image["digest"]
    assert result.stats.bytes_uploaded == layer["size"]
    assert result.stats.existing == 1  # the config, uploaded whole before the failure
    got = httpx.get(f"{second.url}/v2/big/app/blobs/{layer['digest']}")
    assert sha256(got.content) == layer["digest"]

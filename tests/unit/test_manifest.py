"""The manifest tree over recorded registry content (tests/fixtures/manifests/)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mabgui.core.platform import Platform
from mabgui.core.registry import DigestMismatch
from mabgui.core.registry.manifest import (
    ImageIndex,
    ImageManifest,
    Layer,
    ManifestTree,
    OfflineSource,
    fetch_tree,
    human_size,
    media_type_label,
    parse_config,
    predicate_label,
    short_digest,
)
from mabgui.core.registry.reference import parse_reference

FIXTURES = Path(__file__).parent.parent / "fixtures" / "manifests"
SIX = {
    "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x", "linux/riscv64",
}  # fmt: skip


def load(name: str) -> tuple[dict[str, bytes], str]:
    folder = FIXTURES / name
    docs = {
        p.name.replace("_", ":", 1): p.read_bytes()
        for p in folder.iterdir()
        if p.name.startswith("sha256_")
    }
    return docs, (folder / "root.txt").read_text().strip()


def tree_of(name: str, root: str | None = None, ref: str = "127.0.0.1:5000/x:y") -> ManifestTree:
    docs, recorded_root = load(name)
    source = OfflineSource(docs, root or recorded_root)
    return asyncio.run(fetch_tree(source, parse_reference(ref)))


def test_busybox_manifest_list_has_six_platforms_matching_imagetools() -> None:
    tree = tree_of("busybox-list")
    assert isinstance(tree.root, ImageIndex)
    assert tree.root.media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
    raw = json.loads((FIXTURES / "busybox-list" / "imagetools-raw.json").read_text())
    expected = {m["digest"] for m in raw["manifests"]}
    manifests = tree.platform_manifests()
    assert {m.digest for m in manifests} == expected
    assert {str(m.platform) for m in manifests} == SIX
    for m in manifests:
        assert m.config is not None
        assert m.config.platform == m.platform
        assert m.config.created
        assert m.attestations == ()
        assert len(m.layers) == 2
        assert m.total_size == m.size + m.config.size + sum(layer.size for layer in m.layers)
    shared = tree.shared_layers()
    # The second layer (the same files for every architecture) is shared by all six.
    assert len(shared) == 1
    assert set(next(iter(shared.values()))) == SIX
    assert tree.total_size < sum(m.total_size for m in manifests)


def test_attestations_hang_under_their_platform() -> None:
    tree = tree_of("buildx-attested")
    assert isinstance(tree.root, ImageIndex)
    assert tree.root.media_type == "application/vnd.oci.image.index.v1+json"
    raw = json.loads(load("buildx-attested")[0][tree.root.digest])
    assert len(raw["manifests"]) == 12  # six images + six attestation manifests
    manifests = tree.platform_manifests()
    assert {str(m.platform) for m in manifests} == SIX  # no unknown/unknown entries
    for m in manifests:
        assert len(m.attestations) == 1
        att = m.attestations[0]
        assert att.subject == m.digest
        assert att.predicate_types == ("https://slsa.dev/provenance/v0.2",)
        assert predicate_label(att.predicate_types[0]) == "Provenance (SLSA v0.2)"
    assert tree.root.unattached == ()


def test_json_document_has_exactly_the_documented_keys() -> None:
    doc = tree_of("buildx-attested", ref="127.0.0.1:5000/app:x").to_json()
    assert list(doc) == ["reference", "digest", "mediaType", "size", "manifests", "referrers"]
    assert doc["referrers"] == []
    assert doc["reference"] == "127.0.0.1:5000/app:x"
    entry = doc["manifests"][0]
    assert list(entry) == [
        "platform",
        "digest",
        "mediaType",
        "size",
        "config",
        "layers",
        "attestations",
    ]
    assert list(entry["config"]) == ["digest", "size", "os", "architecture", "variant"]
    assert list(entry["layers"][0]) == ["digest", "size", "mediaType"]
    assert list(entry["attestations"][0]) == ["digest", "mediaType", "predicateTypes"]
    arm = next(e for e in doc["manifests"] if e["platform"] == "linux/arm/v7")
    assert arm["config"]["variant"] == "v7"
    json.dumps(doc)  # serialisable as is


def test_single_manifest_tag_takes_its_platform_from_the_config() -> None:
    docs, root = load("busybox-list")
    child = json.loads(docs[root])["manifests"][0]["digest"]
    tree = tree_of("busybox-list", root=child)
    assert isinstance(tree.root, ImageManifest)
    assert tree.root.platform is not None
    assert tree.platform_manifests() == [tree.root]
    doc = tree.to_json()
    assert doc["digest"] == child
    assert len(doc["manifests"]) == 1
    assert doc["manifests"][0]["digest"] == child


def test_a_changed_byte_is_refused_as_digest_mismatch() -> None:
    docs, root = load("busybox-list")
    child = json.loads(docs[root])["manifests"][2]["digest"]
    docs[child] = docs[child].replace(b'"schemaVersion": 2', b'"schemaVersion": 3')
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        asyncio.run(fetch_tree(OfflineSource(docs, root), parse_reference("x")))


def test_missing_platform_manifest_is_shown_as_an_error_entry() -> None:
    docs, root = load("busybox-list")
    child = json.loads(docs[root])["manifests"][0]["digest"]
    del docs[child]
    tree = asyncio.run(fetch_tree(OfflineSource(docs, root), parse_reference("x")))
    broken = [m for m in tree.platform_manifests() if m.error]
    assert [m.digest for m in broken] == [child]
    assert "not found" in broken[0].error


def test_config_summary() -> None:
    docs, _root = load("buildx-attested")
    tree = tree_of("buildx-attested")
    amd64 = next(m for m in tree.platform_manifests() if m.platform == Platform("linux", "amd64"))
    assert amd64.config is not None
    config = parse_config(docs[amd64.config.digest], amd64.config.digest, amd64.config.media_type)
    assert config.os == "linux"
    assert config.architecture == "amd64"
    assert config.cmd == ()
    assert config.working_dir == "/"
    assert config.env_count == 1
    assert config.history_count == 3
    assert config.raw == docs[amd64.config.digest]


@pytest.mark.parametrize(
    ("media_type", "compression", "foreign", "label"),
    [
        ("application/vnd.oci.image.layer.v1.tar+gzip", "gzip", False, "layer tar+gzip"),
        ("application/vnd.oci.image.layer.v1.tar+zstd", "zstd", False, "layer tar+zstd"),
        ("application/vnd.oci.image.layer.v1.tar", "none", False, "layer tar"),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip", False, "layer tar+gzip"),
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "gzip",
            True,
            "foreign layer tar+gzip",
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
            "zstd",
            True,
            "foreign layer tar+zstd",
        ),
    ],
)
def test_layer_kinds(media_type: str, compression: str, foreign: bool, label: str) -> None:
    layer = Layer("sha256:" + "0" * 64, media_type, 1)
    assert layer.compression == compression
    assert layer.foreign is foreign
    assert media_type_label(media_type) == label


def test_formatting_helpers() -> None:
    assert human_size(999) == "999 B"
    assert human_size(1500) == "1.5 kB"
    assert human_size(1_063_444) == "1.1 MB"
    assert short_digest("sha256:" + "0123456789abcdef" * 4) == "sha256:0123456789ab"
    assert predicate_label("https://spdx.dev/Document") == "SBOM (SPDX)"
    assert predicate_label("https://example.com/custom") == "https://example.com/custom"

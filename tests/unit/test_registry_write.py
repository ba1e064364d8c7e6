"""Pure parts of registry writes: error mapping, plans, platform choice, Dockerfile FROMs."""

from __future__ import annotations

import json

import httpx
import pytest

from mabgui.core.platform import Platform
from mabgui.core.registry import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from mabgui.core.registry.assemble import (
    AssembleError,
    Entry,
    Plan,
    _check_unique,
    choose_media_type,
    parse_source,
    render,
)
from mabgui.core.registry.bases import DockerfileError, logical_lines, parse_stages, substitute
from mabgui.core.registry.copy import PlatformNotFound, referrers_tag, select_platforms
from mabgui.core.registry.errors import DigestMismatch, NotFound, RateLimited, ServerError
from mabgui.core.registry.model import Descriptor, ManifestTree
from mabgui.core.registry.reference import parse_reference
from mabgui.core.registry.transport import Answer
from mabgui.core.registry.write import (
    BlobUnknown,
    Denied,
    ManifestInvalid,
    NameUnknown,
    QuotaExceeded,
    Unsupported,
    push_scope,
    write_error,
)

REF = parse_reference("127.0.0.1:5000/team/app:1")
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
D4 = "sha256:" + "4" * 64


def answer(status: int, *codes: str, message: str = "") -> Answer:
    body = json.dumps({"errors": [{"code": c, "message": message} for c in codes]}).encode()
    return Answer(httpx.URL("http://127.0.0.1:5000/v2/x"), status, "", httpx.Headers(), body)


@pytest.mark.parametrize(
    ("status", "codes", "message", "expected"),
    [
        (401, ("UNAUTHORIZED",), "", Denied),
        (403, ("DENIED",), "requested access to the resource is denied", Denied),
        (403, ("DENIED",), "storage quota exceeded", QuotaExceeded),
        (413, (), "", QuotaExceeded),
        (404, ("NAME_UNKNOWN",), "", NameUnknown),
        (400, ("MANIFEST_BLOB_UNKNOWN",), "", BlobUnknown),
        (404, ("BLOB_UPLOAD_UNKNOWN",), "", BlobUnknown),
        (400, ("MANIFEST_INVALID",), "", ManifestInvalid),
        (400, ("DIGEST_INVALID",), "", DigestMismatch),
        (405, ("UNSUPPORTED",), "", Unsupported),
        (404, (), "", NotFound),
        (429, ("TOOMANYREQUESTS",), "", RateLimited),
        (500, (), "", ServerError),
    ],
)
def test_write_failures_are_typed(
    status: int, codes: tuple[str, ...], message: str, expected: type[Exception]
) -> None:
    error = write_error(answer(status, *codes, message=message), "push of x", REF)
    assert type(error) is expected


def test_delete_refusal_names_the_registry_setting() -> None:
    error = write_error(answer(405, "UNSUPPORTED"), "delete of x", REF)
    assert "delete" in error.hint
    assert "enabled: true" in error.hint


def test_push_scopes() -> None:
    assert push_scope(REF) == "repository:team/app:push,pull"
    source = parse_reference("127.0.0.1:5000/team/base:1")
    assert push_scope(REF, source) == "repository:team/app:push,pull repository:team/base:pull"
    assert push_scope(REF, REF) == "repository:team/app:push,pull"


# --- sources and plans -----------------------------------------------------------------------


def test_sources_may_be_short_or_have_a_slot() -> None:
    assert parse_source("@" + D1, REF).ref == REF.with_digest(D1)
    assert parse_source(D1, REF).ref == REF.with_digest(D1)
    assert parse_source(":amd", REF).ref == REF.with_tag("amd")
    slotted = parse_source("linux/arm64=ghcr.io/o/app:1", REF)
    assert slotted.slot == Platform("linux", "arm64")
    assert slotted.ref.registry == "ghcr.io"
    with pytest.raises(AssembleError, match="is not a platform"):
        parse_source("nonsense/x/y/z=app", REF)


def entry(digest: str, media_type: str, platform: str | None, attests: str = "") -> Entry:
    d: dict[str, object] = {"mediaType": media_type, "digest": digest, "size": 10}
    if platform:
        os_name, arch = platform.split("/")
        d["platform"] = {"os": os_name, "architecture": arch}
    if attests:
        d["platform"] = {"os": "unknown", "architecture": "unknown"}
        d["annotations"] = {
            "vnd.docker.reference.digest": attests,
            "vnd.docker.reference.type": "attestation-manifest",
        }
    return Entry(d, REF.with_digest(digest), f"src-{digest[7:9]}")


def test_docker_list_only_when_everything_is_docker() -> None:
    docker = [entry(D1, DOCKER_MANIFEST, "linux/amd64"), entry(D2, DOCKER_MANIFEST, "linux/arm64")]
    assert choose_media_type(docker, {})[0] == DOCKER_LIST
    media_type, why = choose_media_type(docker, {"a": "b"})
    assert media_type == OCI_INDEX
    assert "annotations" in why
    mixed = [*docker[:1], entry(D3, OCI_MANIFEST, "linux/s390x")]
    media_type, why = choose_media_type(mixed, {})
    assert media_type == OCI_INDEX
    assert "src-33 is an OCI manifest" in why
    attested = [*docker, entry(D4, OCI_MANIFEST, None, attests=D1)]
    assert "attestation" in choose_media_type(attested, {})[1]


def test_one_image_per_platform() -> None:
    a = entry(D1, OCI_MANIFEST, "linux/amd64")
    b = entry(D2, OCI_MANIFEST, "linux/amd64")
    assert _check_unique([a, a]) == [a]
    with pytest.raises(AssembleError, match="two images for linux/amd64"):
        _check_unique([a, b])


def test_plan_bytes_are_what_is_pushed() -> None:
    entries = [entry(D1, OCI_MANIFEST, "linux/amd64"), entry(D2, OCI_MANIFEST, None, attests=D1)]
    data = render(entries, OCI_INDEX, {"org.opencontainers.image.source": "x"})
    plan = Plan("create", REF, tuple(entries), OCI_INDEX, "why", data, added=(D1, D2))
    doc = plan.to_json()
    assert doc["index"] == json.loads(data)
    assert doc["index"]["annotations"] == {"org.opencontainers.image.source": "x"}
    assert doc["platforms"] == ["linux/amd64"]
    assert doc["entries"][1]["attestationFor"] == D1
    assert doc["digest"].startswith("sha256:")
    lines = plan.tree_lines()
    assert "OCI index" in lines[1]
    assert any("attestation" in line for line in lines)
    assert render(entries, DOCKER_LIST, {"a": "b"}).count(b"annotations") == 1  # the entry


def test_select_platforms_keeps_the_chosen_images_and_their_attestations() -> None:
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "annotations": {"k": "v"},
        "manifests": [
            entry(D1, OCI_MANIFEST, "linux/amd64").descriptor,
            entry(D2, OCI_MANIFEST, "linux/arm64").descriptor,
            entry(D3, OCI_MANIFEST, None, attests=D1).descriptor,
            entry(D4, OCI_MANIFEST, None, attests=D2).descriptor,
        ],
    }
    data, kept = select_platforms(json.dumps(index).encode(), [Platform("linux", "arm64")])
    doc = json.loads(data)
    assert kept == ["linux/arm64"]
    assert [m["digest"] for m in doc["manifests"]] == [D2, D4]
    assert doc["annotations"] == {"k": "v"}
    data, _ = select_platforms(json.dumps(index).encode(), [Platform("linux", "arm64")], False)
    assert [m["digest"] for m in json.loads(data)["manifests"]] == [D2]
    with pytest.raises(PlatformNotFound, match="no linux/s390x"):
        select_platforms(json.dumps(index).encode(), [Platform("linux", "s390x")])


def test_referrers_tag_schema() -> None:
    assert referrers_tag(D1) == "sha256-" + "1" * 64


def test_inspect_json_lists_referrers() -> None:
    from mabgui.core.registry.model import ImageManifest

    root = ImageManifest(D1, OCI_MANIFEST, 10, Platform("linux", "amd64"), None, ())
    ref = Descriptor(OCI_MANIFEST, D2, 42, artifact_type="application/vnd.example.sig")
    doc = ManifestTree(REF, root, referrers=(ref,)).to_json()
    assert doc["referrers"] == [
        {"digest": D2, "artifactType": "application/vnd.example.sig",
         "mediaType": OCI_MANIFEST, "size": 42}
    ]  # fmt: skip


# --- Dockerfile FROMs ------------------------------------------------------------------------

DOCKERFILE = """\
# escape=`
ARG REGISTRY=ghcr.io
ARG TAG
ARG BASE=${REGISTRY}/org/base:${TAG:-1.0}
# a comment
FROM --platform=$BUILDPLATFORM golang:1.22 AS Build
RUN echo `
    hello
FROM ${BASE} AS final
COPY --from=build /x /x
FROM build AS test
FROM scratch
FROM --platform=linux/amd64 ${UNSET}alpine
"""


def test_parse_stages() -> None:
    stages = parse_stages(DOCKERFILE)
    assert [s.label for s in stages] == ["build", "final", "test", "stage 3", "stage 4"]
    build, final, test, scratch, fixed = stages
    assert build.build_platform
    assert build.base == "golang:1.22"
    assert final.base == "ghcr.io/org/base:1.0"
    assert final.written == "${BASE}"
    assert not final.build_platform
    assert test.parent == 0
    assert scratch.scratch
    assert fixed.platform_flag == "linux/amd64"
    assert fixed.unresolved == ("UNSET",)
    assert fixed.base == "alpine"
    overridden = parse_stages(DOCKERFILE, {"TAG": "2.0", "REGISTRY": "quay.io"})
    assert overridden[1].base == "quay.io/org/base:2.0"


def test_continuations_and_substitution() -> None:
    assert logical_lines("FROM a \\\n  AS b\n\n# c\nRUN x") == [(1, "FROM a AS b"), (5, "RUN x")]
    assert substitute("${A:+set}-${B:-dflt}-$C", {"A": "1", "C": "c"}) == ("set-dflt-c", [])
    assert substitute("${X}", {}) == ("", ["X"])
    with pytest.raises(DockerfileError, match="no FROM"):
        parse_stages("RUN true\n")
    with pytest.raises(DockerfileError, match="FROM without an image"):
        parse_stages("FROM --platform=linux/amd64\n")

"""Reference parsing and normalisation (docker's rules)."""

from __future__ import annotations

import pytest

from mabgui.core.registry.reference import (
    InvalidReference,
    is_loopback,
    parse_reference,
    try_parse_reference,
    validate_digest,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "full"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("user/app:v1", "docker.io/user/app:v1"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
        ("registry-1.docker.io/user/app", "docker.io/user/app:latest"),
        ("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest"),
        ("localhost/app:dev", "localhost/app:dev"),
        ("localhost:5000/ns/sub/app:1.0-rc.1", "localhost:5000/ns/sub/app:1.0-rc.1"),
        ("ghcr.io/owner/my_app__x:tag_1", "ghcr.io/owner/my_app__x:tag_1"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (f"host:5000/app:1@{DIGEST}", f"host:5000/app:1@{DIGEST}"),
        ("[::1]:5000/app", "[::1]:5000/app:latest"),
        ("  busybox  ", "docker.io/library/busybox:latest"),
    ],
)
def test_normalises(text: str, full: str) -> None:
    assert str(parse_reference(text)) == full


def test_parts_and_helpers() -> None:
    ref = parse_reference(f"127.0.0.1:5000/ns/app:1@{DIGEST}")
    assert ref.registry == "127.0.0.1:5000"
    assert ref.repository == "ns/app"
    assert ref.tag == "1"
    assert ref.digest == DIGEST
    assert ref.target == DIGEST  # the digest wins over the tag
    assert ref.api_host == "127.0.0.1:5000"
    hub = parse_reference("busybox")
    assert hub.api_host == "registry-1.docker.io"
    assert hub.familiar == "busybox:latest"
    assert hub.with_digest(DIGEST).familiar == f"busybox@{DIGEST}"
    assert str(hub.with_tag("1.36")) == "docker.io/library/busybox:1.36"
    assert parse_reference("user/app").familiar == "user/app:latest"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Busybox", "lowercase"),
        ("docker.io/Library/busybox", "lowercase"),
        ("busybox:", "empty tag"),
        ("busybox:-bad", "not a valid tag"),
        ("busybox:" + "a" * 129, "not a valid tag"),
        ("busybox@", "nothing after '@'"),
        ("busybox@sha256:abc", "64 lowercase hex"),
        ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("busybox@sha256", "not a digest"),
        ("my app", "spaces"),
        ("https://ghcr.io/x/y", "without 'https://'"),
        ("host:5000//app", "empty path component"),
        ("host:port/app", "not a valid port"),
        ("host:99999/app", "not a valid port"),
        ("ex_ample.com/app", "not a valid registry host"),
        ("app/-x", "not a valid repository name component"),
        ("app/x..y", "not a valid repository name component"),
        ("@" + DIGEST, "no repository"),
        ("a/" + "b" * 260, "longer than 255"),
    ],
)
def test_refuses_with_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidReference, match=reason.replace("(", r"\(").replace(".", r"\.")):
        parse_reference(text)
    assert try_parse_reference(text) is None


def test_digest_validation() -> None:
    assert validate_digest(DIGEST) == DIGEST
    with pytest.raises(InvalidReference, match="lowercase hex"):
        validate_digest("sha256:" + "AB" * 32)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("10.0.0.1:5000", False),
        ("ghcr.io", False),
        ("docker.io", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_port_is_ascii_digits_only() -> None:
    """Arabic-Indic digits pass str.isdigit() and int(): not a port (issue 15 point 11)."""
    with pytest.raises(InvalidReference, match="is not a valid port"):
        parse_reference("127.0.0.1:\u0665\u0660\u0660\u0660/busybox")

"""Image references: parse what users type and normalise it the way docker does.

``busybox`` → ``docker.io/library/busybox:latest``; ``host:port/ns/repo:tag``; ``repo@sha256:…``;
``repo:tag@sha256:…`` (the digest wins, the tag is kept for display). The grammar follows the
distribution project's reference grammar; every refusal says what is wrong with the input.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from mabgui.core.errors import MabguiError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DOMAIN_LABEL = re.compile(r"^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
# The only digest algorithms accepted anywhere (as docker and the OCI spec register them):
# ``md5:``, ``sha1:`` or ``shake_256:`` are refused before anything is fetched by them.
DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
REFERENCE_HINT = "e.g. busybox, ghcr.io/owner/app:1.0 or repo@sha256:…"
MAX_NAME_LENGTH = 255


class InvalidReference(MabguiError, ValueError):
    """An image reference that cannot be parsed; the message says why."""

    kind = "invalid-reference"

    def __init__(self, message: str = "", hint: str = REFERENCE_HINT) -> None:
        super().__init__(message, hint)


def validate_digest(text: str) -> str:
    """Return ``text`` when it is a well-formed digest (``sha256:`` + 64 lowercase hex; or
    sha384/sha512); anything else, ``md5:`` included, raises :class:`InvalidReference`."""
    shown = repr(text if len(text) <= 80 else text[:80] + "…")
    if len(text) > 200 or not _DIGEST.match(text):
        raise InvalidReference(f"{shown} is not a digest: expected algorithm:hex, e.g. sha256:…")
    algorithm, _, hex_part = text.partition(":")
    expected = DIGEST_ALGORITHMS.get(algorithm)
    if expected is None:
        raise InvalidReference(
            f"{shown}: unsupported digest algorithm {algorithm!r}"
            " (only sha256, sha384 and sha512 are accepted)"
        )
    if len(hex_part) != expected or not re.fullmatch(r"[0-9a-f]+", hex_part):
        raise InvalidReference(
            f"{shown}: a {algorithm} digest has {expected} lowercase hex characters"
            f" (got {len(hex_part)})"
        )
    return text


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.x.x.x`` and ``::1`` (with or without a port)."""
    name = _strip_port(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _looks_like_domain(component: str) -> bool:
    # docker's rule: the first component is a registry when it has a dot or a port, or is
    # "localhost"; upper case also marks a host since repositories are lower case.
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or component != component.lower()
    )


def _check_domain(domain: str, text: str) -> None:
    host, port = domain, ""
    if domain.startswith("["):
        end = domain.find("]")
        if end < 0:
            raise InvalidReference(f"{text!r}: unterminated IPv6 address in {domain!r}")
        host, rest = domain[1:end], domain[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidReference(f"{text!r}: {host!r} is not an IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise InvalidReference(f"{text!r}: unexpected {rest!r} after the IPv6 address")
        port = rest[1:]
        if rest and not port:
            raise InvalidReference(f"{text!r}: empty port in registry {domain!r}")
    else:
        if domain.count(":") > 1:
            raise InvalidReference(f"{text!r}: registry {domain!r} has more than one ':'")
        host, _, port = domain.partition(":")
        if ":" in domain and not port:
            raise InvalidReference(f"{text!r}: empty port in registry {domain!r}")
        if not host or not all(_DOMAIN_LABEL.match(label) for label in host.split(".")):
            raise InvalidReference(f"{text!r}: {host!r} is not a valid registry host name")
    if port and (not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536):
        raise InvalidReference(f"{text!r}: {port!r} is not a valid port")


@dataclass(frozen=True)
class Reference:
    """A normalised image reference. ``str()`` gives the full, canonical spelling."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host:port to talk to (Docker Hub's API lives on registry-1.docker.io)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def target(self) -> str:
        """What to ask the registry for: the digest when known, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def familiar(self) -> str:
        """The short spelling docker prints (``busybox:latest``, ``user/app:1``)."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository.removeprefix("library/")
        tag = f":{self.tag}" if self.tag else ""
        return name + tag + (f"@{self.digest}" if self.digest else "")

    def with_digest(self, digest: str) -> Reference:
        """The same repository pinned to ``digest`` (the tag is dropped)."""
        return replace(self, tag=None, digest=validate_digest(digest))

    def with_tag(self, tag: str) -> Reference:
        if not _TAG.match(tag):
            raise InvalidReference(f"{tag!r} is not a valid tag")
        return replace(self, tag=tag, digest=None)

    def __str__(self) -> str:
        return (
            self.name
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse_reference(text: str, *, default_tag: str = "latest") -> Reference:
    """Parse and normalise an image reference; raise :class:`InvalidReference` saying why not."""
    raw = text.strip()
    if not raw:
        raise InvalidReference("empty image reference")
    if any(c.isspace() for c in raw):
        raise InvalidReference(f"{text!r}: an image reference cannot contain spaces")
    for scheme in ("http://", "https://", "docker://", "oci://"):
        if raw.lower().startswith(scheme):
            raise InvalidReference(
                f"{text!r}: give the reference without {scheme!r} (e.g. host:port/repo:tag)"
            )
    remainder, at, digest = raw.partition("@")
    if at:
        if not digest:
            raise InvalidReference(f"{text!r}: nothing after '@' (expected a digest)")
        if "@" in digest:
            raise InvalidReference(f"{text!r}: more than one '@'")
        validate_digest(digest)
    else:
        digest = ""
    if not remainder:
        raise InvalidReference(f"{text!r}: no repository name before '@'")
    # The tag is what follows the last ':' when it has no '/' after it (else it is a port).
    tag = ""
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not tag:
            raise InvalidReference(f"{text!r}: empty tag after ':'")
        if not _TAG.match(tag):
            raise InvalidReference(
                f"{text!r}: {tag!r} is not a valid tag (letters, digits, '_', '.', '-';"
                " at most 128; not starting with '.' or '-')"
            )
    parts = remainder.split("/")
    if len(parts) > 1 and _looks_like_domain(parts[0]):
        domain, path = parts[0], parts[1:]
        _check_domain(domain, text)
    else:
        domain, path = DOCKER_HUB, parts
    if not path or any(not p for p in path):
        raise InvalidReference(f"{text!r}: empty path component in the repository name")
    for component in path:
        if component != component.lower():
            raise InvalidReference(f"{text!r}: repository name must be lowercase ({component!r})")
        if not _COMPONENT.match(component):
            raise InvalidReference(
                f"{text!r}: {component!r} is not a valid repository name component"
                " (lowercase letters, digits and single separators . _ __ -)"
            )
    if domain.lower() in _HUB_ALIASES:
        domain = DOCKER_HUB
        if len(path) == 1:
            path = ["library", *path]
    repository = "/".join(path)
    if len(domain) + 1 + len(repository) > MAX_NAME_LENGTH:
        raise InvalidReference(
            f"{text!r}: repository name longer than {MAX_NAME_LENGTH} characters"
        )
    if not tag and not digest:
        tag = default_tag
    return Reference(domain, repository, tag or None, digest or None)


def try_parse_reference(text: str) -> Reference | None:
    try:
        return parse_reference(text)
    except InvalidReference:
        return None

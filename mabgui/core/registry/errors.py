"""Typed registry failures: each one carries a message a user can act on (and never a secret)."""

from __future__ import annotations

from mabgui.core.errors import MabguiError


class RegistryError(MabguiError):
    """Base of every registry failure. ``kind`` is a stable machine-readable name."""

    kind = "error"

    def __init__(self, message: str, *, hint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.status = status


class NotFound(RegistryError):
    kind = "not-found"


class Unauthorized(RegistryError):
    kind = "unauthorized"


class RateLimited(RegistryError):
    """HTTP 429, with the ``RateLimit-*`` / ``Retry-After`` values the registry sent."""

    kind = "rate-limited"

    def __init__(
        self,
        message: str,
        *,
        limit: str = "",
        remaining: str = "",
        retry_after: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint, status=429)
        self.limit = limit
        self.remaining = remaining
        self.retry_after = retry_after


class ServerError(RegistryError):
    kind = "server-error"


class RegistryTimeout(RegistryError):
    kind = "timeout"


class Unreachable(RegistryError):
    """Connection refused, DNS failure, TLS failure: the registry could not be talked to."""

    kind = "unreachable"


class NotHttps(Unreachable):
    """The registry answered the TLS handshake with plain HTTP."""


class DigestMismatch(RegistryError):
    """Content whose hash is not the digest it was fetched by (or announced with)."""

    kind = "digest-mismatch"

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(
            f"digest mismatch for {what}: expected {expected}, got {actual}"
            " — the content was changed in transit or by the registry; refusing it",
            hint="retry; if it persists, the registry or a proxy in between is corrupting data",
        )
        self.expected = expected
        self.actual = actual


class UnsupportedMediaType(RegistryError):
    kind = "unsupported-media-type"

    def __init__(self, message: str, media_type: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.media_type = media_type


class InsecureRegistry(RegistryError):
    """A plain-HTTP address for a registry that is neither loopback nor marked insecure."""

    kind = "insecure"


class UnsupportedDigest(RegistryError):
    """A digest that is malformed or uses an algorithm other than sha256, sha384 or sha512
    (``md5:``, ``shake_256:`` …): content named by it is never fetched nor trusted."""

    kind = "unsupported-digest"


class GraphTooLarge(RegistryError):
    """A manifest graph beyond the per-look-up budget of nodes, requests or bytes (an index
    whose children reuse one digest can describe millions of nodes in a few kilobytes)."""

    kind = "graph-too-large"

"""Registry writes: blob uploads and cross-repository mounts, manifest PUT and DELETE.

Every write goes through :meth:`RegistryClient.request` (so the auth rules of :mod:`.auth`
hold: credentials from the docker config, only to the registry's own host) with the token
scope ``repository:<target>:push,pull``, plus ``repository:<source>:pull`` for a mount.

* **Uploads** (distribution spec "push"): ``POST /blobs/uploads/`` opens a session; a blob up to
  :data:`MONOLITHIC_MAX` goes in one ``PUT <location>?digest=``; a larger one in ``PATCH``
  chunks of :data:`CHUNK` bytes (``Content-Range``), then a closing ``PUT``.
* **Mounts**: ``POST /blobs/uploads/?mount=<digest>&from=<repo>``: 201 means the registry linked
  the blob, nothing is uploaded; 202 means it refused (another registry, no access to the
  source) and opened an ordinary upload session, which the caller then uses.
* **Manifests**: ``PUT /manifests/<tag|digest>`` with the document's own media type as
  ``Content-Type``; the ``Docker-Content-Digest`` answered must be the digest of the bytes sent.
* Failures are typed (:class:`Denied`, :class:`NameUnknown`, :class:`ManifestInvalid`,
  :class:`BlobUnknown`, :class:`QuotaExceeded`, :class:`Unsupported`), all :class:`RegistryError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from mabgui.core import log
from mabgui.core.registry.cache import digest_of
from mabgui.core.registry.client import RegistryClient
from mabgui.core.registry.content import ACCEPT_MANIFESTS, Fetched, check_digest
from mabgui.core.registry.errors import (
    DigestMismatch,
    NotFound,
    RateLimited,
    RegistryError,
    ServerError,
    Unauthorized,
)
from mabgui.core.registry.reference import Reference
from mabgui.core.registry.transport import Answer

_log = log.get("registry")

MONOLITHIC_MAX = 32 << 20  # larger blobs are sent in PATCH chunks
CHUNK = 16 << 20
ANSWER_BYTES = 64 << 10  # what a write's answer may hold (an error document at most)


class Denied(Unauthorized):
    """The registry refused the push (401/403, ``DENIED``): no login, or read-only access."""

    kind = "denied"


class NameUnknown(NotFound):
    """``NAME_UNKNOWN``: the repository does not exist and the registry will not create it."""

    kind = "name-unknown"


class ManifestInvalid(RegistryError):
    """``MANIFEST_INVALID`` & co: the registry refused the document."""

    kind = "manifest-invalid"


class BlobUnknown(RegistryError):
    """``BLOB_UNKNOWN`` / ``MANIFEST_BLOB_UNKNOWN``: a manifest names a blob not there."""

    kind = "blob-unknown"


class QuotaExceeded(RegistryError):
    """413, 507, or a ``DENIED``/``QUOTA`` error that speaks of a quota or storage limit."""

    kind = "quota"


class Unsupported(RegistryError):
    """405 or ``UNSUPPORTED``: the registry does not allow this operation (deletes, mostly)."""

    kind = "unsupported"


class TagDeleteUnsupported(Unsupported):
    """The registry deletes manifests by digest only, not tags (distribution 2.x)."""

    kind = "tag-delete-unsupported"


def error_codes(body: bytes) -> list[tuple[str, str]]:
    """``(code, message)`` pairs of a distribution error document (empty when none)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return []
    items = doc.get("errors") if isinstance(doc, dict) else None
    pairs = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            pairs.append((str(item.get("code") or "")[:60], str(item.get("message") or "")[:300]))
    return pairs


def write_error(answer: Answer, what: str, ref: Reference) -> RegistryError:
    """The typed error for a failed write answer."""
    codes = error_codes(answer.data)
    names = {code for code, _ in codes}
    detail = "; ".join(f"{c}: {m}" if m else c for c, m in codes)[:500]
    suffix = f" ({detail})" if detail else ""
    status = answer.status
    lowered = detail.lower()
    if status in (413, 507) or "QUOTA_EXCEEDED" in names or "quota" in lowered:
        return QuotaExceeded(
            f"{what}: the registry's quota or storage is exhausted ({status}){suffix}",
            hint="free space in the registry (delete old tags) or raise the quota",
            status=status,
        )
    if status in (401, 403) or "DENIED" in names or "UNAUTHORIZED" in names:
        return Denied(
            f"{what}: {ref.registry} refused the write ({status}){suffix}",
            hint=f"log in with push rights (`docker login {ref.registry}`), or check that the"
            " registry is not read-only",
            status=status,
        )
    if "NAME_UNKNOWN" in names or "NAME_INVALID" in names:
        return NameUnknown(
            f"{what}: the registry does not know the repository {ref.repository}{suffix}",
            hint="create the repository first (some registries do not create it on push)",
            status=status,
        )
    if names & {"BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}:
        return BlobUnknown(
            f"{what}: the registry lacks content it names{suffix}",
            hint="push the blobs and child manifests first (mabgui does; retry)",
            status=status,
        )
    if "DIGEST_INVALID" in names:
        return DigestMismatch(what, "the digest sent", "what the registry computed")
    if status == 405 or "UNSUPPORTED" in names:
        if what.startswith("delete"):
            hint = (
                "a distribution registry deletes only with `storage: delete: enabled: true`"
                " in its configuration (REGISTRY_STORAGE_DELETE_ENABLED=true)"
            )
        else:
            hint = "the registry is read-only (e.g. distribution's maintenance readonly mode)"
        return Unsupported(
            f"{what}: {ref.registry} does not allow this ({status}){suffix}",
            hint=hint,
            status=status,
        )
    if names & {"MANIFEST_INVALID", "MANIFEST_UNVERIFIED", "TAG_INVALID", "SIZE_INVALID"} or (
        status == 400
    ):
        return ManifestInvalid(
            f"{what}: the registry refused the document ({status}){suffix}",
            hint="the registry may not support this media type (OCI index, artifacts)",
            status=status,
        )
    if status == 404:
        return NotFound(f"{what} not found{suffix}", status=404, hint="check the name")
    if status == 429:
        return RateLimited(f"{what}: rate limited by the registry (429){suffix}",
                           retry_after=answer.headers.get("retry-after", "")[:40])  # fmt: skip
    return ServerError(
        f"{what}: the registry answered {status} {answer.reason}{suffix}", status=status
    )


@dataclass
class WriteStats:
    """What a transfer did: blobs mounted, uploaded or already present, and bytes sent."""

    mounted: int = 0
    uploaded: int = 0
    existing: int = 0
    bytes_uploaded: int = 0
    manifests: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "blobsMounted": self.mounted,
            "blobsUploaded": self.uploaded,
            "blobsExisting": self.existing,
            "bytesUploaded": self.bytes_uploaded,
            "manifestsPushed": self.manifests,
        }


def push_scope(ref: Reference, source: Reference | None = None) -> str:
    scope = f"repository:{ref.repository}:push,pull"
    if source is not None and source.repository != ref.repository:
        scope += f" repository:{source.repository}:pull"
    return scope


class RegistryWriter:
    """The write half of the distribution API, over a :class:`RegistryClient`."""

    def __init__(self, client: RegistryClient, *, upload_deadline: float = 600.0) -> None:
        self.client = client
        self.stats = WriteStats()
        self._deadline = upload_deadline

    async def _send(
        self,
        method: str,
        ref: Reference,
        path: str,
        what: str,
        *,
        source: Reference | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        deadline: float | None = None,
    ) -> Answer:
        try:
            return await self.client.request(
                method, ref, path, what, scope=push_scope(ref, source), content=content,
                headers=headers, max_bytes=ANSWER_BYTES, deadline=deadline,
            )  # fmt: skip
        except Unauthorized as exc:
            if isinstance(exc, Denied):
                raise
            raise Denied(
                f"{what}: {ref.registry} refused the write: {exc}",
                hint=f"log in with push rights (`docker login {ref.registry}`)",
                status=exc.status,
            ) from None

    async def has_blob(self, ref: Reference, digest: str) -> bool:
        """HEAD the blob in ``ref``'s repository."""
        what = f"blob {ref.name}@{digest}"
        check_digest(digest, what)
        answer = await self._send("HEAD", ref, f"/blobs/{digest}", what)
        if answer.status == 200:
            return True
        if answer.status == 404:
            return False
        raise write_error(answer, what, ref)

    async def has_manifest(self, ref: Reference, digest: str) -> bool:
        """HEAD ``digest`` in ``ref``'s repository (the registry holds exactly these bytes)."""
        what = f"manifest {ref.name}@{digest}"
        check_digest(digest, what)
        answer = await self._send("HEAD", ref, f"/manifests/{digest}", what,
                                  headers={"Accept": ACCEPT_MANIFESTS})  # fmt: skip
        if answer.status == 200:
            announced = answer.headers.get("docker-content-digest", digest).strip()
            if announced != digest:
                raise DigestMismatch(what, digest, announced)
            return True
        if answer.status == 404:
            return False
        raise write_error(answer, what, ref)

    async def mount(self, ref: Reference, digest: str, source: Reference) -> str | None:
        """Mount ``digest`` from ``source``'s repository (same registry): ``None`` when mounted,
        else the location of the upload session the registry opened instead."""
        what = f"mount of {digest} from {source.repository} into {ref.name}"
        check_digest(digest, what)
        path = f"/blobs/uploads/?mount={quote(digest)}&from={quote(source.repository)}"
        answer = await self._send("POST", ref, path, what, source=source)
        if answer.status == 201:
            self.stats.mounted += 1
            return None
        if answer.status == 202:
            _log.info("%s refused: uploading instead", what)
            return self._location(answer, ref, what)
        raise write_error(answer, what, ref)

    async def start_upload(self, ref: Reference) -> str:
        what = f"upload to {ref.name}"
        answer = await self._send("POST", ref, "/blobs/uploads/", what)
        if answer.status != 202:
            raise write_error(answer, what, ref)
        return self._location(answer, ref, what)

    async def cancel_upload(self, ref: Reference, location: str) -> None:
        """Close an upload session that is not needed (best effort: the registry expires
        abandoned sessions anyway, so a refusal is only logged)."""
        what = f"cancel of an upload to {ref.name}"
        try:
            answer = await self._send("DELETE", ref, location, what)
        except RegistryError as exc:
            _log.info("%s: %s", what, exc)
            return
        if answer.status not in (200, 202, 204, 404):
            _log.info("%s: the registry answered %s", what, answer.status)

    def _location(self, answer: Answer, ref: Reference, what: str) -> str:
        location = str(answer.headers.get("location", "")).strip()
        if not location:
            raise ServerError(f"{what}: the registry opened no upload session (no Location)")
        if location.startswith("/"):
            base = self.client.base_url(ref)
            return base[: base.index("/v2/")] + location
        if "://" not in location:
            raise ServerError(f"{what}: the registry sent an invalid upload location")
        return location

    async def upload(
        self, ref: Reference, digest: str, content: bytes | Fetched, location: str | None = None
    ) -> None:
        """Upload ``content`` as ``digest`` (verified first: a wrong digest is never sent).

        A :class:`Fetched` of that digest was verified when it was read (the client hashes
        every blob it returns), so it is not hashed a second time."""
        what = f"upload of {digest} to {ref.name}"
        if isinstance(content, Fetched) and content.digest == digest:
            data = content.data
        else:
            data = content.data if isinstance(content, Fetched) else content
            actual = digest_of(data, digest.partition(":")[0])
            if actual != digest:
                raise DigestMismatch(what, digest, actual)
        location = location or await self.start_upload(ref)
        body = data
        if len(data) > MONOLITHIC_MAX:
            for start in range(0, len(data), CHUNK):
                location = await self.patch(ref, location, start, data[start : start + CHUNK])
            body = b""
        await self.finish(ref, location, digest, body, size=len(data))

    def _upload_deadline(self, size: int) -> float:
        return max(self._deadline, size / (1 << 20))  # ≥ 1 MB/s is expected

    async def patch(self, ref: Reference, location: str, start: int, chunk: bytes) -> str:
        """Send one chunk of an upload at ``start``; returns the session's next location."""
        what = f"upload to {ref.name} (bytes {start}-{start + len(chunk) - 1})"
        answer = await self._send(
            "PATCH", ref, location, what, content=chunk,
            deadline=self._upload_deadline(len(chunk)),
            headers={"Content-Type": "application/octet-stream",
                     "Content-Range": f"{start}-{start + len(chunk) - 1}"},
        )  # fmt: skip
        if answer.status != 202:
            raise write_error(answer, what, ref)
        return self._location(answer, ref, what)

    async def finish(
        self, ref: Reference, location: str, digest: str, body: bytes = b"", *, size: int
    ) -> None:
        """Close an upload session as ``digest`` (the registry checks the bytes against it)."""
        what = f"upload of {digest} to {ref.name}"
        sep = "&" if "?" in location else "?"
        answer = await self._send(
            "PUT", ref, f"{location}{sep}digest={quote(digest)}", what, content=body,
            headers={"Content-Type": "application/octet-stream"},
            deadline=self._upload_deadline(len(body)),
        )  # fmt: skip
        if answer.status not in (201, 204):
            raise write_error(answer, what, ref)
        announced = answer.headers.get("docker-content-digest", digest).strip()
        if announced != digest:
            raise DigestMismatch(what, digest, announced)
        self.stats.uploaded += 1
        self.stats.bytes_uploaded += size

    async def put_manifest(
        self, ref: Reference, target: str, data: bytes, media_type: str
    ) -> tuple[str, bool]:
        """PUT a manifest under ``target`` (a tag or its digest): its digest, and whether the
        registry processed its ``subject`` (the ``OCI-Subject`` header of OCI 1.1)."""
        digest = digest_of(data)
        what = (
            f"manifest {ref.name}:{target}"
            if ":" not in target
            else f"manifest {ref.name}@{target}"
        )
        if ":" in target and target != digest:
            raise DigestMismatch(what, target, digest)
        answer = await self._send("PUT", ref, f"/manifests/{target}", what, content=data,
                                  headers={"Content-Type": media_type})  # fmt: skip
        if answer.status not in (200, 201, 202):
            raise write_error(answer, what, ref)
        announced = answer.headers.get("docker-content-digest", digest).strip()
        if announced != digest:
            raise DigestMismatch(what, digest, announced)
        self.stats.manifests += 1
        return digest, bool(answer.headers.get("oci-subject"))

    async def delete_manifest(self, ref: Reference, target: str) -> None:
        """DELETE a tag (where the registry allows deleting tags) or a manifest by digest."""
        what = f"delete of {ref.name}{'@' if ':' in target else ':'}{target}"
        answer = await self._send("DELETE", ref, f"/manifests/{target}", what)
        if answer.status in (200, 202, 204):
            return
        if answer.status == 404 and not error_codes(answer.data):
            raise NotFound(f"{what}: not found", status=404, hint="check the reference")
        names = {code for code, _ in error_codes(answer.data)}
        if ":" not in target and (answer.status == 400 or "DIGEST_INVALID" in names):
            # distribution 2.x deletes manifests by digest only (and answers DIGEST_INVALID)
            raise TagDeleteUnsupported(
                f"{what}: {ref.registry} does not delete tags, only manifests by digest"
                f" ({answer.status})",
                hint="deleting the manifest by digest removes every tag naming it",
                status=answer.status,
            )
        raise write_error(answer, what, ref)

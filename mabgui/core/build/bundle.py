"""Open a ``.dockerbuild`` bundle (``docker buildx history export``) without Docker Desktop.

The bundle is a gzipped tar of an OCI layout: ``index.json`` points at one manifest per build
record; the manifest's config is the record (``application/vnd.buildkit.historyrecord.v0``,
JSON) and its layers are the OTLP trace, the status stream (decoded by :mod:`bkstatus`), the
result index and the provenance attestations. Everything is read in memory from the tar
(no extraction to disk), with caps on the file, each blob and the member count: a hostile file
gives a :class:`BundleError`, never a crash or a full disk.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mabgui.core.build import bkstatus
from mabgui.core.build.bkhistory_parse import Details, Material
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, ProgressParser

RECORD_TYPE = "application/vnd.buildkit.historyrecord.v0"
TRACE_TYPE = "application/vnd.buildkit.otlp.json.v0"
INTOTO_TYPE = "application/vnd.in-toto+json"
MAX_FILE = 256 << 20  # compressed
MAX_TOTAL = 1 << 30  # uncompressed, all members
MAX_BLOB = 256 << 20  # one member
MAX_MEMBERS = 10_000


class BundleError(MabguiError):
    """A ``.dockerbuild`` file that cannot be opened (missing, damaged, too large, foreign)."""

    kind = "bad-bundle"


@dataclass
class BundleRecord:
    """One build record of a bundle, with its decoded progress."""

    record: dict[str, Any]
    progress: BuildProgress
    status_messages: int
    trace_bytes: int = 0
    index: dict[str, Any] | None = None
    provenance: list[dict[str, Any]] = field(
        default_factory=list
    )  # {platform?, predicate_type, digest}
    attachments: list[dict[str, Any]] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)  # from the provenance

    @property
    def ref(self) -> str:
        return str(self.record.get("Ref") or "")

    def details(self) -> Details:
        """The record as ``history inspect`` would describe it (for the Details tab and
        ``history open --json``)."""
        rec = self.record
        attrs, state = _dict(rec.get("FrontendAttrs")), _dict(rec.get("localState"))
        error = _dict(rec.get("error"))
        start, end = _stamp(rec.get("CreatedAt")), _stamp(rec.get("CompletedAt"))
        args = {
            k[len("build-arg:") :]: str(v) for k, v in attrs.items() if k.startswith("build-arg:")
        }
        return Details(
            name=self.name,
            ref=self.ref,
            context=str(state.get("LocalPath") or attrs.get("context") or ""),
            dockerfile=str(attrs.get("filename") or ""),
            target=str(attrs.get("target") or ""),
            platforms=tuple(str(p) for p in _platforms(rec)),
            status="failed" if error else "completed" if end else "running",
            started=start,
            duration_s=end - start if start and end else None,
            steps=_int(rec.get("numCompletedSteps")),
            cached_steps=_int(rec.get("numCachedSteps")),
            total_steps=_int(rec.get("numTotalSteps")),
            error=str(error.get("message") or ""),
            build_args=args,
            materials=tuple(self.materials),
            attachments=tuple(
                {"digest": str(a.get("digest") or ""), "type": str(a.get("type") or ""),
                 "platform": str(a.get("platform") or "")}
                for a in self.attachments
            ),
        )  # fmt: skip

    @property
    def name(self) -> str:
        """The build's name as buildx shows it: the context folder's name."""
        state = self.record.get("localState")
        path = str(state.get("LocalPath") or "") if isinstance(state, dict) else ""
        return path.rstrip("/").rsplit("/", 1)[-1]


def _read_tar(path: Path) -> dict[str, bytes]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BundleError(f"{str(path)!r} does not exist") from None
    except OSError as exc:
        raise BundleError(f"cannot read {str(path)!r}: {exc}") from None
    if path.is_dir():
        raise BundleError(f"{str(path)!r} is a directory, not a .dockerbuild file")
    if size > MAX_FILE:
        raise BundleError(
            f"{str(path)!r} is {size >> 20} MiB; bundles over {MAX_FILE >> 20} MiB are refused"
        )
    members: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(path, "r:*") as tar:
            for count, info in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise BundleError(f"{str(path)!r} holds over {MAX_MEMBERS} files")
                if not info.isfile():
                    continue
                if info.size > MAX_BLOB:
                    raise BundleError(
                        f"{str(path)!r}: {info.name} is {info.size >> 20} MiB "
                        f"(limit {MAX_BLOB >> 20} MiB a file)"
                    )
                total += info.size
                if total > MAX_TOTAL:
                    raise BundleError(f"{str(path)!r} unpacks to over {MAX_TOTAL >> 20} MiB")
                fh = tar.extractfile(info)
                if fh is None:
                    continue
                members[info.name.lstrip("./")] = fh.read(MAX_BLOB + 1)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise BundleError(
            f"{str(path)!r} is not a .dockerbuild bundle (a gzipped OCI layout): {exc}",
            "export one with: mabgui history export REF -o FILE.dockerbuild",
        ) from None
    return members


def _blob(members: dict[str, bytes], digest: Any) -> bytes:
    if not isinstance(digest, str) or ":" not in digest:
        raise BundleError(f"a descriptor has no valid digest ({str(digest)[:80]!r})")
    algo, _, hexpart = digest.partition(":")
    if not algo.isalnum() or not hexpart.isalnum():
        raise BundleError(f"a descriptor has no valid digest ({digest[:80]!r})")
    data = members.get(f"blobs/{algo}/{hexpart}")
    if data is None:
        raise BundleError(f"the bundle lacks blob {digest}")
    return data


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BundleError(f"the bundle's {what} is not JSON: {exc}") from None


def _platforms(record: dict[str, Any]) -> list[Platform]:
    attrs = record.get("FrontendAttrs")
    text = attrs.get("platform", "") if isinstance(attrs, dict) else ""
    out = []
    for part in str(text).split(","):
        parsed = Platform.try_parse(part.strip())
        if parsed is not None:
            out.append(parsed)
    return out


def replay_status(
    data: bytes, platforms: list[Platform], record: dict[str, Any]
) -> tuple[BuildProgress, int]:
    """Fold a status stream into a closed :class:`BuildProgress` (with the record's outcome)."""
    parser = ProgressParser(platforms)
    count = 0
    try:
        for status in bkstatus.status_dicts(data):
            parser.fold(status, [])
            count += 1
    except bkstatus.StatusStreamError as exc:
        raise BundleError(str(exc)) from None
    error = record.get("error")
    message = ""
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("Message") or "")
    start, end = _stamp(record.get("CreatedAt")), _stamp(record.get("CompletedAt"))
    duration = end - start if start and end and end >= start else None
    parser.close(None, error=message, duration_s=duration, digest=_result_digest(record))
    return parser.progress, count


def _stamp(value: Any) -> float | None:
    """A record's ``{"seconds", "nanos"}`` timestamp as epoch seconds."""
    if not isinstance(value, dict):
        return None
    try:
        return int(value.get("seconds") or 0) + int(value.get("nanos") or 0) / 1e9
    except (TypeError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _result_digest(record: dict[str, Any]) -> str:
    result = record.get("Result")
    if isinstance(result, dict):
        for desc in (result.get("Results") or {}).values():
            if isinstance(desc, dict) and isinstance(desc.get("digest"), str):
                return str(desc["digest"])
    return ""


def _record(members: dict[str, bytes], desc: dict[str, Any]) -> BundleRecord:
    manifest = _json(_blob(members, desc.get("digest")), "manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise BundleError("a manifest of the bundle has no config")
    config = manifest["config"]
    if config.get("mediaType") != RECORD_TYPE:
        raise BundleError(
            f"the bundle's manifest config is {str(config.get('mediaType'))[:80]!r}, "
            f"not a BuildKit history record ({RECORD_TYPE})"
        )
    record = _json(_blob(members, config.get("digest")), "build record")
    if not isinstance(record, dict):
        raise BundleError("the bundle's build record is not a JSON object")
    status_data = b""
    trace_bytes = 0
    index: dict[str, Any] | None = None
    provenance: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    materials: dict[str, Material] = {}
    for layer in manifest.get("layers") or []:
        if not isinstance(layer, dict):
            continue
        mtype = str(layer.get("mediaType") or "")
        found = layer.get("annotations")
        annotations: dict[str, Any] = found if isinstance(found, dict) else {}
        digest = str(layer.get("digest") or "")
        if mtype == bkstatus.MEDIA_TYPE:
            status_data = _blob(members, digest)
        elif mtype == TRACE_TYPE:
            trace_bytes = len(_blob(members, digest))
        elif mtype == INTOTO_TYPE:
            _materials(_blob(members, digest), materials)
            provenance.append(
                {
                    "digest": digest,
                    "predicate_type": annotations.get("in-toto.io/predicate-type", ""),
                }
            )
        elif annotations.get("vnd.export-build.descriptor.mediatype"):
            real = annotations["vnd.export-build.descriptor.mediatype"]
            attachments.append({"digest": digest, "type": real})
            if "index" in real:
                parsed = _json(_blob(members, digest), "result index")
                index = parsed if isinstance(parsed, dict) else None
    # per-platform attestations are listed in the record's Results
    results = record.get("Results")
    if isinstance(results, dict):
        for platform, result in results.items():
            for att in (result or {}).get("Attestations") or []:
                for p in provenance:
                    if p["digest"] == att.get("digest"):
                        p["platform"] = platform
    if index is not None:
        for m in index.get("manifests") or []:
            plat = m.get("platform") if isinstance(m, dict) else None
            if isinstance(plat, dict):
                name = "/".join(
                    x for x in (plat.get("os"), plat.get("architecture"), plat.get("variant")) if x
                )
                attachments.append(
                    {"digest": m.get("digest"), "type": m.get("mediaType"), "platform": name}
                )
    for p in provenance:
        attachments.append(
            {"digest": p["digest"], "type": p["predicate_type"], "platform": p.get("platform", "")}
        )
    progress, count = replay_status(status_data, _platforms(record), record)
    return BundleRecord(
        record, progress, count, trace_bytes, index, provenance, attachments,
        list(materials.values()),
    )  # fmt: skip


def _materials(data: bytes, out: dict[str, Material]) -> None:
    """Materials of a SLSA provenance predicate (v0.2 ``materials``, v1
    ``buildDefinition.resolvedDependencies``), added to ``out`` by URI."""
    try:
        pred = json.loads(data)
    except ValueError:
        return  # provenance is a bonus: a damaged one does not stop the bundle opening
    if not isinstance(pred, dict):
        return
    if isinstance(pred.get("predicate"), dict):  # a whole in-toto statement
        pred = pred["predicate"]
    found = pred.get("materials")
    if found is None and isinstance(pred.get("buildDefinition"), dict):
        found = pred["buildDefinition"].get("resolvedDependencies")
    for item in found if isinstance(found, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
            continue
        digests = _dict(item.get("digest"))
        out.setdefault(
            item["uri"], Material(item["uri"], tuple(f"{k}:{v}" for k, v in digests.items()))
        )


def open_bundle(path: str | Path) -> list[BundleRecord]:
    """Every build record of a ``.dockerbuild`` file, in the bundle's order."""
    members = _read_tar(Path(path))
    index_data = members.get("index.json")
    if index_data is None:
        raise BundleError(
            f"{str(path)!r} holds no index.json: not an OCI layout",
            "export one with: mabgui history export REF -o FILE.dockerbuild",
        )
    index = _json(index_data, "index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise BundleError(f"{str(path)!r} lists no build record")
    return [_record(members, d) for d in manifests if isinstance(d, dict)]


def write_bundle_bytes(members: dict[str, bytes]) -> bytes:
    """A gzipped tar of ``members`` (tests build hostile bundles with it)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()

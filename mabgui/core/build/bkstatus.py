"""BuildKit's status stream (``application/vnd.buildkit.status.v0``) decoded with ``protobuf``.

A ``.dockerbuild`` bundle stores a build's progress as BuildKit's control API messages
(``moby.buildkit.v1.StatusResponse``), each preceded by its length as a 4-byte little-endian
integer. The message classes are built at import time from a hand-written *descriptor* of the
subset we read (the field numbers and types of BuildKit's ``control.proto``), with
``descriptor_pb2`` + ``message_factory``: the real protobuf runtime parses the bytes, no
``protoc`` is needed, and fields we do not declare (progress groups, source ranges) are skipped
as unknown fields.

:func:`status_dicts` turns each message into the dict shape of ``--progress=rawjson``, so the
same :class:`~mabgui.core.progress.ProgressParser` folds both into lanes.
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from mabgui.core.errors import MabguiError

MEDIA_TYPE = "application/vnd.buildkit.status.v0"
MAX_MESSAGE = 16 << 20  # one StatusResponse larger than this is not a real build's

_F = descriptor_pb2.FieldDescriptorProto
_STRING, _BOOL, _INT64, _BYTES, _MSG = (
    _F.TYPE_STRING, _F.TYPE_BOOL, _F.TYPE_INT64, _F.TYPE_BYTES, _F.TYPE_MESSAGE,
)  # fmt: skip
_ONE, _MANY = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_TS = ".google.protobuf.Timestamp"

# (message, [(field, number, type, label, message type)]) as in BuildKit's control.proto.
_MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str]]]] = [
    ("StatusResponse", [
        ("vertexes", 1, _MSG, _MANY, ".moby.buildkit.v1.Vertex"),
        ("statuses", 2, _MSG, _MANY, ".moby.buildkit.v1.VertexStatus"),
        ("logs", 3, _MSG, _MANY, ".moby.buildkit.v1.VertexLog"),
        ("warnings", 4, _MSG, _MANY, ".moby.buildkit.v1.VertexWarning"),
    ]),
    ("Vertex", [
        ("digest", 1, _STRING, _ONE, ""),
        ("inputs", 2, _STRING, _MANY, ""),
        ("name", 3, _STRING, _ONE, ""),
        ("cached", 4, _BOOL, _ONE, ""),
        ("started", 5, _MSG, _ONE, _TS),
        ("completed", 6, _MSG, _ONE, _TS),
        ("error", 7, _STRING, _ONE, ""),
    ]),
    ("VertexStatus", [
        ("ID", 1, _STRING, _ONE, ""),
        ("vertex", 2, _STRING, _ONE, ""),
        ("name", 3, _STRING, _ONE, ""),
        ("current", 4, _INT64, _ONE, ""),
        ("total", 5, _INT64, _ONE, ""),
        ("timestamp", 6, _MSG, _ONE, _TS),
        ("started", 7, _MSG, _ONE, _TS),
        ("completed", 8, _MSG, _ONE, _TS),
    ]),
    ("VertexLog", [
        ("vertex", 1, _STRING, _ONE, ""),
        ("timestamp", 2, _MSG, _ONE, _TS),
        ("stream", 3, _INT64, _ONE, ""),
        ("msg", 4, _BYTES, _ONE, ""),
    ]),
    ("VertexWarning", [
        ("vertex", 1, _STRING, _ONE, ""),
        ("level", 2, _INT64, _ONE, ""),
        ("short", 3, _BYTES, _ONE, ""),
        ("detail", 4, _BYTES, _MANY, ""),
        ("url", 5, _STRING, _ONE, ""),
    ]),
]  # fmt: skip


class StatusStreamError(MabguiError):
    """The status stream of a bundle is not a sequence of BuildKit status messages."""

    kind = "bad-bundle"


def _file(name: str, package: str, syntax: str = "proto3") -> descriptor_pb2.FileDescriptorProto:
    fd = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax=syntax)
    return fd


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    ts = _file("google/protobuf/timestamp.proto", "google.protobuf")
    msg = ts.message_type.add(name="Timestamp")
    msg.field.add(name="seconds", number=1, type=_INT64, label=_ONE)
    msg.field.add(name="nanos", number=2, type=_F.TYPE_INT32, label=_ONE)
    pool.Add(ts)
    control = _file("mabgui/buildkit_status.proto", "moby.buildkit.v1")
    control.dependency.append(ts.name)
    for name, fields in _MESSAGES:
        m = control.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
    pool.Add(control)
    return pool


_POOL = _build_pool()
StatusResponse: type[Message] = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("moby.buildkit.v1.StatusResponse")
)


def _ts(msg: Any, field: str) -> str | None:
    """A set Timestamp as RFC 3339 with nanoseconds (rawjson's form), else None."""
    if not msg.HasField(field):
        return None
    value = getattr(msg, field)
    seconds, nanos = int(value.seconds), int(value.nanos)
    if seconds <= 0 and nanos <= 0:
        return None
    try:
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return None
    return f"{base}.{max(0, min(nanos, 999_999_999)):09d}Z"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def to_rawjson(resp: Any) -> dict[str, Any]:
    """One decoded ``StatusResponse`` as the dict ``--progress=rawjson`` prints for it."""
    out: dict[str, Any] = {}
    if resp.vertexes:
        vs = []
        for v in resp.vertexes:
            d: dict[str, Any] = {"digest": v.digest, "name": v.name}
            if v.inputs:
                d["inputs"] = list(v.inputs)
            if v.cached:
                d["cached"] = True
            if v.error:
                d["error"] = v.error
            for key in ("started", "completed"):
                stamp = _ts(v, key)
                if stamp:
                    d[key] = stamp
            vs.append(d)
        out["vertexes"] = vs
    if resp.statuses:
        ss = []
        for s in resp.statuses:
            d = {"id": s.ID, "vertex": s.vertex, "name": s.name}
            if s.current:
                d["current"] = s.current
            if s.total:
                d["total"] = s.total
            for key in ("timestamp", "started", "completed"):
                stamp = _ts(s, key)
                if stamp:
                    d[key] = stamp
            ss.append(d)
        out["statuses"] = ss
    if resp.logs:
        out["logs"] = [
            {"vertex": lg.vertex, "stream": int(lg.stream), "data": _b64(lg.msg),
             "timestamp": _ts(lg, "timestamp") or ""}
            for lg in resp.logs
        ]  # fmt: skip
    if resp.warnings:
        out["warnings"] = [
            {"vertex": w.vertex, "level": int(w.level), "short": _b64(w.short),
             "detail": [_b64(x) for x in w.detail], "url": w.url}
            for w in resp.warnings
        ]  # fmt: skip
    return out


def messages(data: bytes, *, max_messages: int = 1_000_000) -> Iterator[Any]:
    """The ``StatusResponse`` messages of a status stream, in order.

    Raises :class:`StatusStreamError` on a length that runs past the end, a message over
    :data:`MAX_MESSAGE`, bytes that are not a StatusResponse, or more than ``max_messages``.
    """
    pos, end, count = 0, len(data), 0
    while pos < end:
        if end - pos < 4:
            raise StatusStreamError(f"the status stream ends inside a length prefix at {pos}")
        (size,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if size > MAX_MESSAGE:
            raise StatusStreamError(
                f"a status message of {size} bytes at offset {pos - 4} (limit {MAX_MESSAGE})"
            )
        if pos + size > end:
            raise StatusStreamError(
                f"the status stream is cut: a {size}-byte message at {pos - 4} runs past its end"
            )
        count += 1
        if count > max_messages:
            raise StatusStreamError(f"more than {max_messages} status messages")
        resp: Any = StatusResponse()
        try:
            resp.ParseFromString(data[pos : pos + size])
        except DecodeError as exc:
            raise StatusStreamError(
                f"status message {count} at offset {pos - 4} is not a BuildKit StatusResponse: "
                f"{exc}"
            ) from None
        pos += size
        yield resp


def status_dicts(data: bytes) -> Iterator[dict[str, Any]]:
    """The stream's messages as rawjson dicts (for ``ProgressParser.fold``)."""
    for resp in messages(data):
        yield to_rawjson(resp)


def encode(statuses: list[dict[str, Any]]) -> bytes:
    """Length-prefixed StatusResponse bytes from simple dicts (tests build hostile streams)."""
    out = bytearray()
    for status in statuses:
        resp: Any = StatusResponse()
        for v in status.get("vertexes", ()):
            pv = resp.vertexes.add()
            pv.digest = v["digest"]
            pv.name = v.get("name", "")
            pv.cached = bool(v.get("cached"))
            pv.error = v.get("error", "")
            for key in ("started", "completed"):
                if key in v:
                    getattr(pv, key).seconds = int(v[key])
                    getattr(pv, key).nanos = int((v[key] % 1) * 1e9)
        for lg in status.get("logs", ()):
            pl = resp.logs.add()
            pl.vertex = lg["vertex"]
            pl.stream = int(lg.get("stream", 1))
            pl.msg = lg["msg"]
        body = resp.SerializeToString()
        out += struct.pack("<I", len(body)) + body
    return bytes(out)

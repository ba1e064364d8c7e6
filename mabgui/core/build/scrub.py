"""Build-arg values and secrets out of everything a build writes (history, ``--record``).

BuildKit expands ``ARG`` s into step names (``RUN curl -H "token: $TOKEN"`` is named with the
value), a step may print a value in its log, and an error may quote it. Before a stream is
stored, every value given is replaced by ``***`` in every string of every SolveStatus (log
data is base64: it is decoded, scrubbed and encoded again) and in every text line. The stored
stream is then one JSON value per line (the parser reads both forms).

A value split across two log chunks of BuildKit is not seen whole; values are registered with
:func:`mabgui.core.log.add_secret` too, so the log file is covered either way.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from mabgui.core.log import MASK
from mabgui.core.progress import StreamReader

_CHUNK = 1 << 16


def _ordered(values: Iterable[str]) -> list[str]:
    return sorted({v for v in values if v}, key=len, reverse=True)


def scrub_text(text: str, values: Sequence[str]) -> str:
    """``text`` with every value in ``values`` (longest first) replaced by ``***``."""
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _scrub_bytes(data: bytes, values: Sequence[bytes]) -> bytes:
    for value in values:
        if value in data:
            data = data.replace(value, MASK.encode())
    return data


def scrub_json(value: Any, values: Sequence[str]) -> Any:
    """A copy of a JSON value with every string scrubbed (keys included)."""
    if isinstance(value, str):
        return scrub_text(value, values)
    if isinstance(value, list):
        return [scrub_json(v, values) for v in value]
    if isinstance(value, dict):
        return {scrub_text(k, values): scrub_json(v, values) for k, v in value.items()}
    return value


class _StreamScrubber:
    def __init__(self, values: Sequence[str]) -> None:
        self.values = _ordered(values)
        self.raw_values = [v.encode() for v in self.values]
        self.out: list[bytes] = []

    def on_value(self, status: dict[str, Any]) -> None:
        logs = status.get("logs")
        if isinstance(logs, list):
            for entry in logs:
                if isinstance(entry, dict) and isinstance(entry.get("data"), str):
                    try:
                        data = binascii.a2b_base64(entry["data"])
                    except (binascii.Error, ValueError):
                        continue  # not base64: scrubbed as text below
                    entry["data"] = base64.b64encode(_scrub_bytes(data, self.raw_values)).decode()
        clean = scrub_json(status, self.values)
        self.out.append(json.dumps(clean, separators=(",", ":")).encode() + b"\n")

    def on_text(self, line: str) -> None:
        self.out.append(scrub_text(line, self.values).encode() + b"\n")

    def on_dropped(self, chars: int, reason: str) -> None:
        self.out.append(f"mabgui: dropped {reason} ({chars:,} characters)\n".encode())


def scrub_gz(raw_gz: bytes, values: Sequence[str]) -> bytes:
    """A gzip-compressed rawjson stream with ``values`` scrubbed (as is when there are none)."""
    if not any(values):
        return raw_gz
    scrubber = _StreamScrubber(values)
    reader = StreamReader(scrubber.on_value, scrubber.on_text, scrubber.on_dropped)
    gunzip = zlib.decompressobj(31)
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts: list[bytes] = []
    for start in range(0, len(raw_gz), _CHUNK):
        reader.feed(gunzip.decompress(raw_gz[start : start + _CHUNK]))
        parts += [gz.compress(line) for line in scrubber.out]
        scrubber.out.clear()
    reader.feed(gunzip.flush())
    reader.close()
    parts += [gz.compress(line) for line in scrubber.out]
    parts.append(gz.flush())
    return b"".join(parts)

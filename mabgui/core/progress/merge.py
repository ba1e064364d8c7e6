"""Several single-platform rawjson streams folded into one per-platform model.

A per-platform build (:mod:`mabgui.core.perplatform`) runs one buildx build per platform; each
stream names its steps without a platform (``[2/3] RUN …``) and with vertex digests that two
builds may share (``[internal] load build definition``). :func:`tag_value` gives each value its
platform and keeps the builds' vertexes apart, and :class:`LaneMerger` folds them all into one
:class:`~mabgui.core.progress.BuildProgress`, one lane per platform, as if one build had run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mabgui.core.platform import Platform
from mabgui.core.progress.events import ProgressEvent
from mabgui.core.progress.model import BuildProgress
from mabgui.core.progress.names import parse_step_name
from mabgui.core.progress.parser import NativeArg, ProgressParser
from mabgui.core.progress.stream import StreamReader

_PREFIX = re.compile(r"^\[([^\]]*)\]\s?(.*)$", re.DOTALL)


def _tag_name(raw: str, platform: Platform) -> str:
    """Give a step name of a single-platform build its platform, so it lands in its lane:
    ``[2/3] RUN x`` → ``[linux/arm64 2/3] RUN x``, ``exporting`` → ``[linux/arm64] exporting``."""
    if parse_step_name(raw).platform is not None:
        return raw
    m = _PREFIX.match(raw)
    if m is None:
        return f"[{platform}] {raw}"
    return f"[{platform} {m.group(1).strip()}] {m.group(2)}"


def tag_value(value: dict[str, Any], platform: Platform) -> dict[str, Any]:
    """One SolveStatus of ``platform``'s build, its vertexes renamed apart from the other
    builds' (the same ``[internal]`` vertex of two builds would otherwise be one step)."""
    key = f"{platform}|"

    def vx(ref: Any) -> Any:
        return key + ref if isinstance(ref, str) else ref

    out = dict(value)
    vertexes = value.get("vertexes")
    if isinstance(vertexes, list):
        tagged = []
        for v in vertexes:
            if isinstance(v, dict):
                v = dict(v)
                v["digest"] = vx(v.get("digest"))
                if isinstance(v.get("inputs"), list):
                    v["inputs"] = [vx(i) for i in v["inputs"]]
                if isinstance(v.get("name"), str):
                    v["name"] = _tag_name(v["name"], platform)
            tagged.append(v)
        out["vertexes"] = tagged
    for field_name in ("statuses", "logs", "warnings"):
        items = value.get(field_name)
        if isinstance(items, list):
            out[field_name] = [
                {**i, "vertex": vx(i.get("vertex"))} if isinstance(i, dict) else i for i in items
            ]
    return out


class LaneMerger:
    """Several single-platform rawjson streams folded into one :class:`BuildProgress`."""

    def __init__(self, platforms: Sequence[Platform], native: NativeArg = None) -> None:
        self.parser = ProgressParser(platforms, native)
        self._events: list[ProgressEvent] = []
        self._readers = {p: self._reader(p) for p in platforms}

    def _reader(self, platform: Platform) -> StreamReader:
        def on_value(value: dict[str, Any]) -> None:
            self.parser.fold(tag_value(value, platform), self._events)

        def on_text(line: str) -> None:
            text = line.rstrip("\r\n")
            if text.strip():  # the platform last: "ERROR: …" stays an error line
                self._events += self.parser.feed(f"{text}  [{platform}]\n".encode())

        def on_dropped(chars: int, reason: str) -> None:
            line = f"WARNING: mabgui dropped {reason} ({chars:,} characters)  [{platform}]\n"
            self._events += self.parser.feed(line.encode())

        return StreamReader(on_value, on_text, on_dropped)

    @property
    def progress(self) -> BuildProgress:
        return self.parser.progress

    def set_native(self, native: NativeArg) -> None:
        self.parser.set_native(native)

    def feed(self, platform: Platform, data: bytes) -> None:
        self._readers[platform].feed(data)

    def end(self, platform: Platform) -> None:
        self._readers[platform].close()

    def take(self) -> list[ProgressEvent]:
        events, self._events = self._events, []
        return events + self.parser.feed(b"")

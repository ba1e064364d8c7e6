"""BuildKit's step names: ``[linux/amd64->arm64 build 3/4] RUN go build`` split into parts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mabgui.core.platform import Platform

_PREFIX = re.compile(r"^\[([^\]]*)\]\s?(.*)$", re.DOTALL)
_INDEX = re.compile(r"^(\d{1,9})/(\d{1,9})$")  # bounded: int() of 5000 digits raises


@dataclass(frozen=True, slots=True)
class StepName:
    name: str
    platform: Platform | None
    build_platform: Platform | None
    stage: str
    index: int | None
    total: int | None


def parse_step_name(raw: str) -> StepName:
    """Split BuildKit's ``[platform[->target] stage i/n] command`` prefix.

    ``[linux/amd64->arm64 build 3/4] RUN go build`` runs on linux/amd64 for the linux/arm64
    lane; ``[internal] load .dockerignore`` and ``exporting to image`` have no platform.
    """
    m = _PREFIX.match(raw)
    if m is None:
        return StepName(raw, None, None, "", None, None)
    words = m.group(1).split()
    rest = m.group(2)
    platform: Platform | None = None
    build_platform: Platform | None = None
    index: int | None = None
    total: int | None = None
    if words and "/" in words[0] and not _INDEX.match(words[0]):
        first = words[0]
        base_text, _, target_text = first.partition("->")
        base = Platform.try_parse(base_text)
        if base is not None:
            words = words[1:]
            if target_text:
                target = Platform.try_parse(target_text)
                if target is not None and "/" not in target_text.split("/", 1)[0]:
                    # "arm64" or "arm/v7" alone keep the base's OS, as BuildKit elides it.
                    target = Platform(base.os, target.architecture, target.variant)
                platform, build_platform = (target or base), base
            else:
                platform = base
    if words:
        im = _INDEX.match(words[-1])
        if im is not None:
            index, total = int(im.group(1)), int(im.group(2))
            words = words[:-1]
    # "[1/2]" with a single index word may arrive split as "[ 1/12]": the split() above joined it.
    return StepName(rest, platform, build_platform, " ".join(words), index, total)

"""Compare two builds of the same name, per platform and per step; duration trends.

Pure functions over parsed :class:`~mabgui.core.progress.BuildProgress` models (from a live
build, a saved one, ``history logs`` or a bundle). Steps are matched by their label without
the platform (``[base 2/4] RUN …``), the n-th occurrence with the n-th.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mabgui.core.progress import BuildProgress, Lane, Step

SLOWER_RATIO = 1.10  # a platform is "slower" when it took 10 % and …
SLOWER_MIN_S = 0.2  # … at least this much longer


@dataclass(frozen=True)
class StepDiff:
    label: str
    a_s: float | None
    b_s: float | None
    a_cached: bool | None
    b_cached: bool | None

    @property
    def delta_s(self) -> float | None:
        return None if self.a_s is None or self.b_s is None else self.b_s - self.a_s

    @property
    def cache_change(self) -> str:
        """'' | 'lost' (cached in A, run in B) | 'gained' | 'added' | 'removed'."""
        if self.a_cached is None:
            return "added"
        if self.b_cached is None:
            return "removed"
        if self.a_cached and not self.b_cached:
            return "lost"
        if self.b_cached and not self.a_cached:
            return "gained"
        return ""

    def to_json(self) -> dict[str, Any]:
        delta = self.delta_s
        return {
            "step": self.label,
            "a_s": _r(self.a_s),
            "b_s": _r(self.b_s),
            "delta_s": _r(delta),
            "a_cached": self.a_cached,
            "b_cached": self.b_cached,
            "cache": self.cache_change or None,
        }


@dataclass(frozen=True)
class PlatformDiff:
    platform: str
    a_s: float | None
    b_s: float | None
    a_cached: int
    b_cached: int
    steps: list[StepDiff] = field(default_factory=list)

    @property
    def delta_s(self) -> float | None:
        return None if self.a_s is None or self.b_s is None else self.b_s - self.a_s

    @property
    def slower(self) -> bool:
        if self.a_s is None or self.b_s is None:
            return False
        return self.b_s - self.a_s >= SLOWER_MIN_S and self.b_s >= self.a_s * SLOWER_RATIO

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "a_s": _r(self.a_s),
            "b_s": _r(self.b_s),
            "delta_s": _r(self.delta_s),
            "slower": self.slower,
            "a_cached_steps": self.a_cached,
            "b_cached_steps": self.b_cached,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass(frozen=True)
class Comparison:
    platforms: list[PlatformDiff]
    a_s: float | None
    b_s: float | None

    @property
    def slower(self) -> list[str]:
        """Platforms that got slower from A to B, the largest increase first."""
        worse = [p for p in self.platforms if p.slower]
        worse.sort(key=lambda p: p.delta_s or 0.0, reverse=True)
        return [p.platform for p in worse]

    def to_json(self) -> dict[str, Any]:
        delta = None if self.a_s is None or self.b_s is None else self.b_s - self.a_s
        return {
            "a_s": _r(self.a_s),
            "b_s": _r(self.b_s),
            "delta_s": _r(delta),
            "slower_platforms": self.slower,
            "platforms": [p.to_json() for p in self.platforms],
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _keyed(steps: Sequence[Step]) -> dict[tuple[str, int], Step]:
    seen: dict[str, int] = {}
    out = {}
    for step in steps:
        n = seen.get(step.label, 0)
        seen[step.label] = n + 1
        out[(step.label, n)] = step
    return out


def _lane_s(lane: Lane | None) -> float | None:
    return None if lane is None else lane.duration_s


def compare(a: BuildProgress, b: BuildProgress) -> Comparison:
    """B against A (A is the older build): per platform and per step."""
    names = {str(p): p for p in a.lanes} | {str(p): p for p in b.lanes}
    diffs = []
    for name, platform in names.items():
        la, lb = a.lanes.get(platform), b.lanes.get(platform)
        ka = _keyed(la.steps if la else [])
        kb = _keyed(lb.steps if lb else [])
        steps = []
        for key in list(ka) + [k for k in kb if k not in ka]:
            sa, sb = ka.get(key), kb.get(key)
            steps.append(
                StepDiff(
                    key[0],
                    sa.duration_s if sa else None,
                    sb.duration_s if sb else None,
                    sa.cached if sa else None,
                    sb.cached if sb else None,
                )
            )
        diffs.append(
            PlatformDiff(
                name,
                _lane_s(la),
                _lane_s(lb),
                sum(s.cached for s in (la.steps if la else [])),
                sum(s.cached for s in (lb.steps if lb else [])),
                steps,
            )
        )
    return Comparison(diffs, a.duration_s, b.duration_s)


@dataclass(frozen=True)
class TrendPoint:
    ref: str
    started: float | None
    platforms: dict[str, float | None]

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "started": self.started,
            "platforms": {k: _r(v) for k, v in self.platforms.items()},
        }


def trend(builds: Sequence[tuple[str, float | None, BuildProgress]]) -> list[TrendPoint]:
    """Duration per platform of each build (``(ref, started, progress)``), oldest first."""
    points = [
        TrendPoint(ref, started, {str(p): lane.duration_s for p, lane in progress.lanes.items()})
        for ref, started, progress in builds
    ]
    points.sort(key=lambda t: t.started or 0.0)
    return points

"""Emulation insight: the same Dockerfile step native vs emulated, most expensive first."""

from __future__ import annotations

from dataclasses import dataclass

from mabgui.core.progress.model import BuildProgress
from mabgui.core.progress.steps import Step


@dataclass(frozen=True, slots=True)
class EmulationCost:
    """The same Dockerfile step native vs emulated."""

    label: str  # "[2/5] RUN make"
    native: Step
    emulated: Step
    ratio: float  # emulated duration / native duration
    extra_s: float  # seconds lost to emulation
    cross_compile_hint: bool  # a RUN in a stage that could run on $BUILDPLATFORM


def emulation_insight(progress: BuildProgress, min_native_s: float = 0.05) -> list[EmulationCost]:
    """Pair each emulated step with its native twin, most expensive first.

    Steps pair up by stage, index and command. Cached steps and steps shorter than
    ``min_native_s`` natively are skipped (the ratio of two tiny numbers means nothing).
    """
    native_lane = next((ln for ln in progress.lanes.values() if not ln.emulated), None)
    if native_lane is None:
        return []
    by_key = {(s.stage, s.index, s.name): s for s in native_lane.steps}
    out: list[EmulationCost] = []
    for lane in progress.lanes.values():
        if lane is native_lane:
            continue
        for step in lane.steps:
            if not step.emulated or step.cached:
                continue
            twin = by_key.get((step.stage, step.index, step.name))
            if twin is None or twin.cached:
                continue
            nd, ed = twin.duration_s, step.duration_s
            if nd is None or ed is None or nd < min_native_s:
                continue
            out.append(
                EmulationCost(
                    label=step.label,
                    native=twin,
                    emulated=step,
                    ratio=ed / nd,
                    extra_s=ed - nd,
                    cross_compile_hint=step.name.startswith("RUN"),
                )
            )
    out.sort(key=lambda c: c.extra_s, reverse=True)
    return out

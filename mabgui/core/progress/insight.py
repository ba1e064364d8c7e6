"""Emulation insight: the same Dockerfile RUN step native vs emulated, most expensive first.

Only RUN steps are compared (they execute the platform's programs: QEMU slows exactly those),
and only when the step ran both natively (on one lane) and emulated (on another), neither from
the cache. On a multi-node builder, native is decided per node: the caller passes the node of
each lane (``nodes``, from buildx's routing) and each cost names the nodes it compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mabgui.core.platform import Platform
from mabgui.core.progress.model import BuildProgress
from mabgui.core.progress.steps import Lane, Step

# Per platform lane: the node that ran it ('' unknown) and whether natively there (None: unknown,
# the lane's own answer from the builder's native platforms stands).
LaneNodes = Mapping[Platform, tuple[str, bool | None]]


@dataclass(frozen=True, slots=True)
class EmulationCost:
    """The same Dockerfile RUN step native vs emulated."""

    label: str  # "[2/5] RUN make"
    native: Step
    emulated: Step
    ratio: float  # emulated duration / native duration
    extra_s: float  # seconds lost to emulation
    cross_compile_hint: bool  # a RUN in a stage that could run on $BUILDPLATFORM
    native_node: str = ""  # the node the native twin ran on ('' unknown)
    emulated_node: str = ""


def lane_emulated(lane: Lane, nodes: LaneNodes | None = None) -> bool:
    """Whether ``lane`` ran under QEMU: its node's answer when known, else the lane's own."""
    native = (nodes or {}).get(lane.platform, ("", None))[1]
    return lane.emulated if native is None else not native


def _node(lane: Lane, nodes: LaneNodes | None) -> str:
    return (nodes or {}).get(lane.platform, ("", None))[0]


def _is_run(step: Step) -> bool:
    return step.name.startswith("RUN")


def emulation_insight(
    progress: BuildProgress, min_native_s: float = 0.05, nodes: LaneNodes | None = None
) -> list[EmulationCost]:
    """Pair each emulated RUN step with its native twin, most expensive first.

    Steps pair up by stage, index and command. Cached steps and steps shorter than
    ``min_native_s`` natively are skipped (the ratio of two tiny numbers means nothing).
    """
    lanes = list(progress.lanes.values())
    native_lane = next((ln for ln in lanes if not lane_emulated(ln, nodes)), None)
    if native_lane is None:
        return []
    by_key = {(s.stage, s.index, s.name): s for s in native_lane.steps if _is_run(s)}
    out: list[EmulationCost] = []
    for lane in lanes:
        if lane is native_lane or not lane_emulated(lane, nodes):
            continue
        for step in lane.steps:
            if not _is_run(step) or step.cached:
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
                    cross_compile_hint=True,
                    native_node=_node(native_lane, nodes),
                    emulated_node=_node(lane, nodes),
                )
            )
    out.sort(key=lambda c: c.extra_s, reverse=True)
    return out


def compared(costs: list[EmulationCost]) -> list[str]:
    """What was compared, once each: "linux/amd64 natively on node amd with linux/arm64 under
    QEMU on node amd" (without "on node" when the node is unknown)."""
    out: dict[str, None] = {}
    for c in costs:
        native_on = f" on node {c.native_node}" if c.native_node else ""
        emulated_on = f" on node {c.emulated_node}" if c.emulated_node else ""
        out.setdefault(
            f"{c.native.platform} natively{native_on} with "
            f"{c.emulated.platform} under QEMU{emulated_on}"
        )
    return list(out)

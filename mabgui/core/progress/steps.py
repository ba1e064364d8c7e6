"""What one BuildKit vertex and one platform make of the model: :class:`Step`, :class:`Lane`.

``emulated`` is decided by the caller's *native platforms* (the builder's nodes), never by the
machine Python runs on.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mabgui.core.platform import Platform

STDOUT = 1
STDERR = 2


class StepState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CACHED = "cached"
    DONE = "done"
    ERROR = "error"
    CANCELED = "canceled"  # BuildKit stopped it because another step failed or the user cancelled


@dataclass(slots=True)
class Status:
    """A sub-progress of a step (``transferring context``, ``extracting sha256:…``, pushing)."""

    id: str
    name: str = ""
    current: int = 0
    total: int = 0
    started: float | None = None
    completed: float | None = None


@dataclass(frozen=True, slots=True)
class LogLine:
    """One decoded log line, as the log store hands it out (built on demand)."""

    index: int  # position in BuildProgress.log (global, in arrival order)
    step: Step
    stream: int  # 1 stdout, 2 stderr
    text: str


@dataclass(eq=False, slots=True)
class Step:
    """One BuildKit vertex. ``platform`` is None for shared steps."""

    digest: str
    raw_name: str  # exactly as BuildKit named it: "[linux/arm64 builder 2/5] RUN make"
    name: str  # the command without the bracket prefix: "RUN make"
    platform: Platform | None = None  # the lane it belongs to (the target platform)
    build_platform: Platform | None = None  # where it runs when it differs (cross stage "a->b")
    stage: str = ""  # "builder", "internal", "" ...
    index: int | None = None  # 2 in "2/5"
    total: int | None = None  # 5 in "2/5"
    order: int = 0  # first-seen order over the whole build
    inputs: tuple[str, ...] = ()
    intervals: list[tuple[float, float | None]] = field(default_factory=list)
    cached: bool = False
    error: str = ""
    statuses: dict[str, Status] = field(default_factory=dict)
    log_indexes: array[int] = field(default_factory=lambda: array("I"))  # into BuildProgress.log
    log_bytes: int = 0
    emulated: bool = False  # runs under QEMU on the builder (from the builder's natives)

    @property
    def started(self) -> float | None:
        """Epoch seconds of the first start."""
        return self.intervals[0][0] if self.intervals else None

    @property
    def completed(self) -> float | None:
        """Epoch seconds of the last completion (None while running or queued)."""
        if not self.intervals:
            return None
        return self.intervals[-1][1]

    @property
    def state(self) -> StepState:
        if self.error:
            return StepState.CANCELED if _is_cancel(self.error) else StepState.ERROR
        if self.completed is not None:
            return StepState.CACHED if self.cached else StepState.DONE
        if self.intervals:
            return StepState.RUNNING
        return StepState.QUEUED

    @property
    def duration_s(self) -> float | None:
        """Time spent running (sum of its run intervals); None until it completed once."""
        total = 0.0
        closed = False
        for start, end in self.intervals:
            if end is not None:
                total += max(0.0, end - start)
                closed = True
        return total if closed else None

    def elapsed_s(self, now: float) -> float:
        """Running time up to ``now`` (epoch seconds), counting an open interval."""
        total = 0.0
        for start, end in self.intervals:
            total += max(0.0, (now if end is None else end) - start)
        return total

    @property
    def label(self) -> str:
        """The name without the platform: ``[builder 2/5] RUN make``, ``[internal] load …``."""
        parts = []
        if self.stage:
            parts.append(self.stage)
        if self.index is not None:
            parts.append(f"{self.index}/{self.total}")
        if not parts:
            return self.name
        return f"[{' '.join(parts)}] {self.name}"

    @property
    def log_line_count(self) -> int:
        return len(self.log_indexes)

    @property
    def shared(self) -> bool:
        return self.platform is None

    def to_json(self) -> dict[str, Any]:
        """The step as the summary JSON shows it."""
        duration = self.duration_s
        return {
            "name": self.label,
            "state": str(self.state),
            "duration_s": None if duration is None else round(duration, 3),
            "cached": self.cached,
            "log_lines": self.log_line_count,
        }


@dataclass(eq=False, slots=True)
class Lane:
    """Everything one target platform did, in first-seen order."""

    platform: Platform
    emulated: bool = False
    steps: list[Step] = field(default_factory=list)  # sorted: [internal] first, then stage, i/n
    _stage_rank: dict[str, int] = field(default_factory=dict, repr=False)

    def _key(self, step: Step) -> tuple[int, int, int, int]:
        if step.index is None:
            return (0, 0, 0, step.order)
        rank = self._stage_rank.setdefault(step.stage, len(self._stage_rank))
        return (1, rank, step.index, step.order)

    def _insert(self, step: Step) -> int:
        """Insert in display order; returns the row it went to."""
        key = self._key(step)
        row = bisect.bisect_right(self.steps, key, key=self._key)
        self.steps.insert(row, step)
        return row

    @property
    def state(self) -> StepState:
        """error > canceled > running > queued > done/cached (all steps finished)."""
        states = {s.state for s in self.steps}
        for candidate in (StepState.ERROR, StepState.CANCELED, StepState.RUNNING):
            if candidate in states:
                return candidate
        if not states or StepState.QUEUED in states:
            return StepState.QUEUED if not (states - {StepState.QUEUED}) else StepState.RUNNING
        if states == {StepState.CACHED}:
            return StepState.CACHED
        return StepState.DONE

    @property
    def failed_step(self) -> Step | None:
        """The step that failed (not merely canceled), if any."""
        for step in self.steps:
            if step.state is StepState.ERROR:
                return step
        return None

    @property
    def error(self) -> str:
        step = self.failed_step
        return f"{step.label}: {step.error}" if step is not None else ""

    @property
    def ok(self) -> bool:
        """Every step done or cached; a lane with no step built nothing, so it is not ok."""
        return bool(self.steps) and all(
            s.state in (StepState.DONE, StepState.CACHED) for s in self.steps
        )

    @property
    def current_step(self) -> Step | None:
        """The latest running step (else the last step that changed state)."""
        running = [s for s in self.steps if s.state is StepState.RUNNING]
        if running:
            return max(running, key=lambda s: s.started or 0.0)
        return self.steps[-1] if self.steps else None

    @property
    def progress(self) -> float:
        """Fraction of the numbered steps (``i/n``) that finished (or failed); 0.0 … 1.0."""
        numbered = [s for s in self.steps if s.index is not None]
        if not numbered:
            return 1.0 if self.ok and self.steps else 0.0
        done = sum(1 for s in numbered if s.completed is not None or s.error)
        return done / len(numbered)

    @property
    def started(self) -> float | None:
        return first_start(self.steps)

    @property
    def completed(self) -> float | None:
        if any(s.completed is None and not s.error for s in self.steps):
            return None
        ends = [s.completed for s in self.steps if s.completed is not None]
        return max(ends) if ends else None

    @property
    def duration_s(self) -> float | None:
        start, end = self.started, self.completed
        return None if start is None or end is None else max(0.0, end - start)


def first_start(steps: Iterable[Step]) -> float | None:
    """When a set of steps began in this build.

    Cached vertices keep the timestamps of the build that filled the cache (minutes or days
    earlier), so they only count when every step was cached.
    """
    live: list[float] = []
    cached: list[float] = []
    for step in steps:
        if step.started is not None:
            (cached if step.cached else live).append(step.started)
    starts = live or cached
    return min(starts) if starts else None


def _is_cancel(error: str) -> bool:
    lowered = error.lower()
    return lowered.endswith("context canceled") or lowered in ("canceled", "cancelled")

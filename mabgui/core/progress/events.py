"""What :meth:`ProgressParser.feed` hands out: one event per change, so a view redraws once
per frame what the events name."""

from __future__ import annotations

from dataclasses import dataclass

from mabgui.core.progress.model import BuildResult, BuildWarning, Message
from mabgui.core.progress.steps import Lane, Status, Step


@dataclass(frozen=True, slots=True)
class LaneAdded:
    lane: Lane


@dataclass(frozen=True, slots=True)
class StepAdded:
    step: Step
    lane: Lane | None  # None for a shared step
    row: int  # where it was inserted in lane.steps (or BuildProgress.shared)


@dataclass(frozen=True, slots=True)
class StepChanged:
    """State, timing, cached flag or error of ``step`` changed."""

    step: Step


@dataclass(frozen=True, slots=True)
class StepStatus:
    step: Step
    status: Status


@dataclass(frozen=True, slots=True)
class StepLogs:
    """``count`` complete lines were appended: global log indexes ``first … first+count-1``."""

    step: Step
    first: int
    count: int


@dataclass(frozen=True, slots=True)
class MessageAdded:
    message: Message


@dataclass(frozen=True, slots=True)
class WarningAdded:
    warning: BuildWarning


@dataclass(frozen=True, slots=True)
class BuildFinished:
    result: BuildResult


ProgressEvent = (
    LaneAdded
    | StepAdded
    | StepChanged
    | StepStatus
    | StepLogs
    | MessageAdded
    | WarningAdded
    | BuildFinished
)

"""BuildKit progress (``docker buildx build --progress=rawjson``) folded into a per-platform model.

Pure: no I/O, no Qt, no asyncio. The package, from the bytes up:

* :mod:`.stream` — the streaming reader: bytes in any chunking → JSON values and text lines,
  linear in its input, one record capped, hostile JSON dropped (never raised);
* :mod:`.timestamps`, :mod:`.names` — BuildKit's timestamps and step names;
* :mod:`.steps`, :mod:`.model` — :class:`Step`, :class:`Lane`, :class:`BuildProgress` (with its
  compact :class:`LogStore`) and :class:`BuildResult`;
* :mod:`.events` — what each :meth:`ProgressParser.feed` reports as changed;
* :mod:`.parser` — :class:`ProgressParser`, which folds the values into the model;
* :mod:`.insight` — the same step native vs emulated.

Whether a platform is emulated is decided from the builder's native platforms, which the
caller passes (``native=``); the machine Python runs on plays no part.
"""

from __future__ import annotations

from mabgui.core.progress.events import (
    BuildFinished,
    LaneAdded,
    MessageAdded,
    ProgressEvent,
    StepAdded,
    StepChanged,
    StepLogs,
    StepStatus,
    WarningAdded,
)
from mabgui.core.progress.insight import (
    EmulationCost,
    LaneNodes,
    compared,
    emulation_insight,
    lane_emulated,
)
from mabgui.core.progress.model import (
    BuildProgress,
    BuildResult,
    BuildWarning,
    LogStore,
    Message,
)
from mabgui.core.progress.names import StepName, parse_step_name
from mabgui.core.progress.parser import (
    UNKNOWN_PLATFORM,
    NativeArg,
    ProgressParser,
    natives_of,
    parse_bytes,
)
from mabgui.core.progress.steps import (
    STDERR,
    STDOUT,
    Lane,
    LogLine,
    Status,
    Step,
    StepState,
    first_start,
)
from mabgui.core.progress.stream import MAX_RECORD, StreamReader
from mabgui.core.progress.timestamps import BadTimestamp, parse_timestamp

__all__ = [
    "MAX_RECORD",
    "STDERR",
    "STDOUT",
    "UNKNOWN_PLATFORM",
    "BadTimestamp",
    "BuildFinished",
    "BuildProgress",
    "BuildResult",
    "BuildWarning",
    "EmulationCost",
    "Lane",
    "LaneAdded",
    "LaneNodes",
    "LogLine",
    "LogStore",
    "Message",
    "MessageAdded",
    "NativeArg",
    "ProgressEvent",
    "ProgressParser",
    "Status",
    "Step",
    "StepAdded",
    "StepChanged",
    "StepLogs",
    "StepName",
    "StepState",
    "StepStatus",
    "StreamReader",
    "WarningAdded",
    "compared",
    "emulation_insight",
    "first_start",
    "lane_emulated",
    "natives_of",
    "parse_bytes",
    "parse_step_name",
    "parse_timestamp",
]

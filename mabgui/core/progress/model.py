"""The whole build as folded so far (:class:`BuildProgress`), its log store and its result."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from typing import Any

from mabgui.core.platform import Platform, is_emulated
from mabgui.core.progress.steps import (
    STDERR,
    STDOUT,
    Lane,
    LogLine,
    Step,
    StepState,
    first_start,
)


@dataclass(frozen=True, slots=True)
class Message:
    """A plain-text line buildx printed between the JSON values."""

    text: str
    level: str  # "error" | "warning" | "info"


@dataclass(frozen=True, slots=True)
class BuildWarning:
    """A BuildKit warning (Dockerfile lint and the like), base64 fields decoded."""

    short: str
    detail: tuple[str, ...] = ()
    url: str = ""
    level: int = 0
    step: Step | None = None


@dataclass(slots=True)
class BuildResult:
    """How the build ended: buildx's exit code and the image digest when known."""

    ok: bool
    error: str = ""
    digest: str = ""
    exit_code: int | None = None
    canceled: bool = False
    duration_s: float | None = None  # wall time when the runner measured it


_STREAM_BYTE = {STDOUT: b"\x01", STDERR: b"\x02"}
_plus_one = (1).__add__


class LogStore:
    """Every log line of the build, compact: one byte buffer plus offsets, decoded on demand.

    Holding 100k+ lines as Python strings would cost several times the text itself; here a
    line costs its bytes (with its newline) plus 17 bytes of index: its end offset (8), step
    (4), stream (1) and its entry in the step's ``log_indexes`` (4). ``store[i]`` builds a
    :class:`LogLine`.
    """

    __slots__ = ("_data", "_ends", "_step_list", "_steps", "_streams")

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")
        self._steps = array("I")
        self._streams = bytearray()
        self._step_list: list[Step] = []

    def __len__(self) -> int:
        return len(self._ends)

    @property
    def nbytes(self) -> int:
        return len(self._data)

    def _register(self, step: Step) -> int:
        self._step_list.append(step)
        return len(self._step_list) - 1

    def _extend(self, step_no: int, step: Step, stream: int, block: bytes) -> int:
        """Append ``block`` (whole lines, each ending in a newline); returns the first index.

        Every per-line loop here runs in C (split, map, accumulate, extend).
        """
        data = self._data
        ends = self._ends
        first = len(ends)
        if block.count(b"\n") == 1:  # the common case: BuildKit sends a line at a time
            data += block
            ends.append(len(data))
            self._steps.append(step_no)
            self._streams.append(stream)
            step.log_indexes.append(first)
            step.log_bytes += len(block)
            return first
        parts = block.split(b"\n")
        parts.pop()  # after the last newline
        count = len(parts)
        ends.extend(accumulate(map(_plus_one, map(len, parts)), initial=len(data)))
        ends.pop(first)  # accumulate's initial value
        data += block
        self._steps.extend(repeat(step_no, count))
        self._streams += _STREAM_BYTE[stream] * count
        step.log_indexes.extend(range(first, first + count))
        step.log_bytes += len(block)
        return first

    def text(self, index: int) -> str:
        start = self._ends[index - 1] if index > 0 else 0
        end = self._ends[index] - 1  # without the newline
        if end > start and self._data[end - 1] == 0x0D:  # \r\n
            end -= 1
        text = self._data[start:end].decode("utf-8", "replace")
        if "\r" in text:  # progress redrawn in place: show what a terminal ends up showing
            text = text.rsplit("\r", 1)[1]
        return text

    def stream(self, index: int) -> int:
        return self._streams[index]

    def step(self, index: int) -> Step:
        return self._step_list[self._steps[index]]

    def __getitem__(self, index: int) -> LogLine:
        if index < 0:
            index += len(self._ends)
        if not 0 <= index < len(self._ends):
            raise IndexError(index)
        return LogLine(index, self.step(index), self._streams[index], self.text(index))

    def __iter__(self) -> Iterator[LogLine]:
        for i in range(len(self._ends)):
            yield self[i]

    def lines_of(self, step: Step) -> Iterator[LogLine]:
        for i in step.log_indexes:
            yield self[i]


@dataclass(eq=False)
class BuildProgress:
    """The whole build as folded so far."""

    lanes: dict[Platform, Lane] = field(default_factory=dict)
    shared: list[Step] = field(default_factory=list)
    steps: dict[str, Step] = field(default_factory=dict)  # by digest
    messages: list[Message] = field(default_factory=list)
    warnings: list[BuildWarning] = field(default_factory=list)
    log: LogStore = field(default_factory=LogStore)
    result: BuildResult | None = None
    # The builder's native platforms (the first platform each node's worker lists), as the
    # caller knows them. Unknown (a recording from elsewhere): the parser assumes one (the
    # first lane, then the fastest) and ``native_assumed`` says so.
    natives: tuple[Platform, ...] = ()
    native_assumed: bool = False
    events_seen: int = 0  # vertex/status/log/warning entries folded (the benchmark's unit)

    @property
    def native(self) -> Platform | None:
        """The first native platform (what an unprefixed step of a build without
        ``--platform`` is built for); None while unknown."""
        return self.natives[0] if self.natives else None

    def is_emulated(self, platform: Platform) -> bool:
        """Whether ``platform`` runs under QEMU on this build's builder (False while unknown)."""
        if not self.natives:
            return False
        return all(is_emulated(platform, native) for native in self.natives)

    @property
    def started(self) -> float | None:
        return first_start(self.steps.values())

    @property
    def completed(self) -> float | None:
        ends = [s.completed for s in self.steps.values() if s.completed is not None]
        return max(ends) if ends else None

    @property
    def duration_s(self) -> float | None:
        if self.result is not None and self.result.duration_s is not None:
            return self.result.duration_s
        start, end = self.started, self.completed
        return None if start is None or end is None else max(0.0, end - start)

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def error_text(self) -> str:
        """The ``ERROR: …`` line buildx printed last, without the prefix (else '')."""
        for message in reversed(self.messages):
            if message.level == "error" and message.text.startswith("ERROR:"):
                return message.text[len("ERROR:") :].strip()
        return ""

    @property
    def failed_steps(self) -> list[Step]:
        return [s for s in self.steps.values() if s.state is StepState.ERROR]

    def summary(self) -> dict[str, Any]:
        """The summary JSON of ``mabgui build --json`` and ``mabgui replay --json``."""
        result = self.result
        duration = self.duration_s
        platforms = {}
        for platform, lane in self.lanes.items():
            lane_error = lane.error
            platforms[str(platform)] = {
                "ok": lane.ok and not lane_error,
                "steps": [s.to_json() for s in lane.steps],
                "error": lane_error or None,
            }
        return {
            "ok": bool(result.ok) if result is not None else not self.failed_steps,
            "error": (result.error if result is not None else self.error_text) or None,
            "duration_s": None if duration is None else round(duration, 3),
            "digest": (result.digest if result is not None else "") or None,
            "platforms": platforms,
            "shared": [s.to_json() for s in self.shared],
        }

"""BuildKit progress (``docker buildx build --progress=rawjson``) folded into a per-platform model.

buildx writes one *SolveStatus* JSON value per update to stderr. buildx 0.13.1 pretty-prints
each one over many lines, other versions print one per line, and plain text (``WARNING: …``,
the final ``ERROR: failed to solve: …`` block) is mixed in. :class:`ProgressParser` takes the
raw bytes in chunks of any size, keeps the text as :class:`Message` s, and folds the JSON into
a :class:`BuildProgress`: one :class:`Lane` per platform with its :class:`Step` s, the shared
steps (``[internal] …``, exporting, pushing), warnings, messages and the final result.

Each :meth:`ProgressParser.feed` returns the events that name what changed, so a view can
collect the touched steps and redraw them once per frame instead of once per event.

Pure: no I/O, no Qt, no asyncio.
"""

from __future__ import annotations

import binascii
import bisect
import calendar
import codecs
import json
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate, repeat
from typing import Any

from mabgui.core.platform import Platform, host_platform, is_emulated

__all__ = [
    "BuildFinished",
    "BuildProgress",
    "BuildResult",
    "BuildWarning",
    "EmulationCost",
    "Lane",
    "LaneAdded",
    "LogLine",
    "LogStore",
    "Message",
    "MessageAdded",
    "ProgressEvent",
    "ProgressParser",
    "Status",
    "Step",
    "StepAdded",
    "StepChanged",
    "StepLogs",
    "StepState",
    "StepStatus",
    "WarningAdded",
    "emulation_insight",
    "parse_bytes",
    "parse_step_name",
]


class StepState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CACHED = "cached"
    DONE = "done"
    ERROR = "error"
    CANCELED = "canceled"  # BuildKit stopped it because another step failed or the user cancelled


_MAX_PENDING = 64 << 20  # a "{" value longer than this is not JSON we wait for

STDOUT = 1
STDERR = 2


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
    emulated: bool = False  # runs under QEMU on this machine (filled from the parser's native)

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
        return all(s.state in (StepState.DONE, StepState.CACHED) for s in self.steps)

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


# --- events -------------------------------------------------------------------------------------


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


# --- log storage --------------------------------------------------------------------------------

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


# --- the model ----------------------------------------------------------------------------------


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
    native: Platform = field(default_factory=host_platform)
    events_seen: int = 0  # vertex/status/log/warning entries folded (the benchmark's unit)

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


# --- step names ---------------------------------------------------------------------------------

_PREFIX = re.compile(r"^\[([^\]]*)\]\s?(.*)$", re.DOTALL)
_INDEX = re.compile(r"^(\d+)/(\d+)$")


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


def _is_cancel(error: str) -> bool:
    lowered = error.lower()
    return lowered.endswith("context canceled") or lowered in ("canceled", "cancelled")


# --- timestamps ---------------------------------------------------------------------------------

_ts_cache: dict[str, float] = {}


def parse_timestamp(text: str) -> float:
    """RFC 3339 with nanoseconds (``2026-11-29T16:19:13.058811119Z``) → epoch seconds."""
    base = text[:19]
    epoch = _ts_cache.get(base)
    if epoch is None:
        try:
            epoch = float(
                calendar.timegm(
                    (
                        int(base[0:4]), int(base[5:7]), int(base[8:10]),
                        int(base[11:13]), int(base[14:16]), int(base[17:19]), 0, 0, 0,
                    )
                )
            )  # fmt: skip
        except ValueError:
            return 0.0
        if len(_ts_cache) > 4096:
            _ts_cache.clear()
        _ts_cache[base] = epoch
    rest = text[19:]
    frac = 0.0
    offset = 0.0
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end].isdigit():
            end += 1
        digits = rest[1:end]
        if digits:
            frac = int(digits) / (10 ** len(digits))
        rest = rest[end:]
    if rest and rest[0] in "+-" and len(rest) >= 6:
        sign = 1 if rest[0] == "+" else -1
        try:
            offset = sign * (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60)
        except ValueError:
            offset = 0.0
    return epoch + frac - offset


def _b64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        return text.encode()


# --- the streaming parser -----------------------------------------------------------------------


class ProgressParser:
    """Feed raw ``--progress=rawjson`` bytes in; get :data:`ProgressEvent` lists out.

    Args:
        platforms: the platforms the build asked for. Lanes are created for them up front (in
            that order); a single-platform build's unprefixed ``[1/3] …`` steps go to the first.
        native: the platform the builder runs natively (steps of other platforms are marked
            ``emulated``); defaults to this machine's.
    """

    def __init__(self, platforms: Sequence[Platform] = (), native: Platform | None = None) -> None:
        self.progress = BuildProgress(native=native or host_platform())
        self._buf = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The C scanner decodes a value at an offset without slicing the buffer.
        self._scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
        # (digest, stream) -> the unfinished last line. Per stream: BuildKit reads stdout and
        # stderr through separate pipes, so their chunks arrive in no reliable order.
        self._partial: dict[tuple[str, int], bytes] = {}
        self._step_no: dict[str, int] = {}
        self._default_platform = platforms[0] if len(platforms) == 1 else None
        self._closed = False
        self._truncated = False
        self._initial: list[ProgressEvent] = []
        for platform in platforms:
            self._lane(platform, self._initial)

    @property
    def model(self) -> BuildProgress:
        return self.progress

    # -- input framing --

    def feed(self, data: bytes) -> list[ProgressEvent]:
        """Take the next chunk of the stream (any size, any split) and fold what it completes."""
        events: list[ProgressEvent] = self._initial
        self._initial = []
        if self._closed:
            return events
        text = self._decoder.decode(data)
        buf = self._buf + text if self._buf else text
        pos = 0
        end = len(buf)
        scan = self._scan
        while pos < end:
            if buf[pos] == "{" and buf[pos + 1 : pos + 2] in ("\n", "\r"):
                # A pretty-printed value: it ends at the first "}" in column 0 (nested braces
                # are indented and JSON strings hold no raw newline).
                close = buf.find("\n}", pos)
                nl = buf.find("\n", close + 2) if close >= 0 else -1
                if nl < 0:
                    if end - pos <= _MAX_PENDING:
                        break  # wait for the rest of the value
                    nl = buf.find("\n", pos)  # runaway: treat its first line as text
                    self._text(buf[pos:nl], events)
                    pos = nl + 1
                    continue
                try:
                    value, after = scan(buf, pos)
                except (StopIteration, ValueError):
                    value, after = None, -1
                if after == close + 2 and isinstance(value, dict):
                    try:
                        self._fold(value, events)
                    except (TypeError, ValueError, AttributeError, KeyError) as exc:
                        self._odd_value(exc, events)
                    pos = nl + 1
                else:  # not JSON after all: its first line is text, go on line by line
                    nl = buf.find("\n", pos)
                    self._text(buf[pos:nl], events)
                    pos = nl + 1
                continue
            nl = buf.find("\n", pos)
            if nl < 0:
                break
            if buf[pos] == "{":
                try:
                    value, after = scan(buf, pos)
                except (StopIteration, ValueError):
                    value, after = None, -1
                if after > 0 and isinstance(value, dict) and not buf[after:nl].strip():
                    self.fold(value, events)
                    pos = nl + 1
                    continue
            self._text(buf[pos:nl], events)
            pos = nl + 1
        self._buf = buf[pos:]
        return events

    def _text(self, line: str, events: list[ProgressEvent]) -> None:
        text = line.rstrip("\r\n")
        if not text.strip():
            return
        stripped = text.lstrip()
        if stripped.startswith("ERROR"):
            level = "error"
        elif stripped.startswith("WARN"):
            level = "warning"
        else:
            level = "info"
        message = Message(text, level)
        self.progress.messages.append(message)
        events.append(MessageAdded(message))

    # -- folding --

    def fold(self, status: dict[str, Any], events: list[ProgressEvent]) -> None:
        """Fold one decoded SolveStatus into the model (public for callers with parsed JSON)."""
        try:
            self._fold(status, events)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            self._odd_value(exc, events)

    def _odd_value(self, exc: Exception, events: list[ProgressEvent]) -> None:
        # JSON of an unexpected shape: keep going, say so once per value.
        self._text(f"mabgui: skipped an unreadable progress value ({exc!r})", events)

    def _fold(self, status: dict[str, Any], events: list[ProgressEvent]) -> None:
        logs = status.get("logs")
        if logs is not None and len(status) == 1:  # most values carry only logs
            log = self._log
            for entry in logs:
                log(entry, events)
            self.progress.events_seen += len(logs)
            return
        n = 0
        vertexes = status.get("vertexes")
        if vertexes:
            for v in vertexes:
                self._vertex(v, events)
            n += len(vertexes)
        statuses = status.get("statuses")
        if statuses:
            for s in statuses:
                self._status(s, events)
            n += len(statuses)
        if logs:
            for entry in logs:
                self._log(entry, events)
            n += len(logs)
        warnings = status.get("warnings")
        if warnings:
            for w in warnings:
                self._warning(w, events)
            n += len(warnings)
        self.progress.events_seen += n

    def _lane(self, platform: Platform, events: list[ProgressEvent]) -> Lane:
        lanes = self.progress.lanes
        lane = lanes.get(platform)
        if lane is None:
            lane = Lane(platform, emulated=is_emulated(platform, self.progress.native))
            lanes[platform] = lane
            events.append(LaneAdded(lane))
        return lane

    def _step(self, digest: str, raw_name: str, events: list[ProgressEvent]) -> Step:
        step = self.progress.steps.get(digest)
        if step is not None:
            return step
        parsed = parse_step_name(raw_name)
        platform = parsed.platform
        if platform is None and parsed.index is not None:
            platform = self._default_platform or self._only_lane() or self.progress.native
        step = Step(
            digest=digest,
            raw_name=raw_name,
            name=parsed.name,
            platform=platform,
            build_platform=parsed.build_platform,
            stage=parsed.stage,
            index=parsed.index,
            total=parsed.total,
            order=len(self.progress.steps),
        )
        runs_on = parsed.build_platform or platform
        step.emulated = runs_on is not None and is_emulated(runs_on, self.progress.native)
        self.progress.steps[digest] = step
        self._step_no[digest] = self.progress.log._register(step)
        lane: Lane | None = None
        if platform is not None:
            lane = self._lane(platform, events)
            row = lane._insert(step)
        else:
            row = len(self.progress.shared)
            self.progress.shared.append(step)
        events.append(StepAdded(step, lane, row))
        return step

    def _only_lane(self) -> Platform | None:
        lanes = self.progress.lanes
        return next(iter(lanes)) if len(lanes) == 1 else None

    def _vertex(self, v: dict[str, Any], events: list[ProgressEvent]) -> None:
        digest = v.get("digest")
        if not isinstance(digest, str):
            return
        name = str(v.get("name") or digest)
        step = self._step(digest, name, events)
        changed = False
        if step.raw_name == digest and name != digest:
            # Seen first in a status or log line (BuildKit normally names it first); it keeps
            # its place, but gets its name.
            parsed = parse_step_name(name)
            step.raw_name, step.name, step.stage = name, parsed.name, parsed.stage
            step.index, step.total = parsed.index, parsed.total
            changed = True
        inputs = v.get("inputs")
        if inputs and not step.inputs:
            step.inputs = tuple(inputs)
        started = v.get("started")
        completed = v.get("completed")
        if started:
            start = parse_timestamp(started)
            end = parse_timestamp(completed) if completed else None
            intervals = step.intervals
            if intervals and intervals[-1][0] == start:
                if intervals[-1][1] != end and (end is not None or intervals[-1][1] is None):
                    intervals[-1] = (start, end)
                    changed = True
            else:
                if intervals and intervals[-1][1] is None:  # restarted without an end: close it
                    intervals[-1] = (intervals[-1][0], max(intervals[-1][0], start))
                intervals.append((start, end))
                changed = True
        cached = bool(v.get("cached"))
        if cached != step.cached:
            step.cached = cached
            changed = True
        error = v.get("error") or ""
        if error and error != step.error:
            step.error = str(error)
            changed = True
        if changed:
            if step.completed is not None or step.error:
                self._flush_partial(step, events)
            events.append(StepChanged(step))

    def _status(self, s: dict[str, Any], events: list[ProgressEvent]) -> None:
        digest = s.get("vertex")
        sid = s.get("id")
        if not isinstance(digest, str) or not isinstance(sid, str):
            return
        step = self.progress.steps.get(digest) or self._step(digest, digest, events)
        status = step.statuses.get(sid)
        if status is None:
            status = Status(sid)
            step.statuses[sid] = status
        status.name = s.get("name") or status.name
        status.current = int(s.get("current") or 0)
        status.total = int(s.get("total") or 0)
        started = s.get("started")
        if started and status.started is None:
            status.started = parse_timestamp(started)
        completed = s.get("completed")
        if completed:
            status.completed = parse_timestamp(completed)
        events.append(StepStatus(step, status))

    def _log(self, entry: dict[str, Any], events: list[ProgressEvent]) -> None:
        digest = entry["vertex"]
        step = self.progress.steps.get(digest)
        if step is None:
            if not isinstance(digest, str):
                return
            step = self._step(digest, digest, events)
        stream = STDERR if entry.get("stream") == STDERR else STDOUT
        data = _b64(entry.get("data") or "")
        if not data:
            return
        if self._partial:
            pending = self._partial.pop((digest, stream), None)
            if pending is not None:
                data = pending + data
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            self._partial[(digest, stream)] = data[cut:]
            data = data[:cut]
        if data:
            log = self.progress.log
            first = log._extend(self._step_no[digest], step, stream, data)
            events.append(StepLogs(step, first, len(log._ends) - first))

    def _add_block(
        self, step: Step, stream: int, block: bytes, events: list[ProgressEvent]
    ) -> None:
        first = self.progress.log._extend(self._step_no[step.digest], step, stream, block)
        events.append(StepLogs(step, first, len(self.progress.log) - first))

    def _flush_partial(self, step: Step, events: list[ProgressEvent]) -> None:
        if not self._partial:
            return
        for stream in (STDOUT, STDERR):
            pending = self._partial.pop((step.digest, stream), None)
            if pending is not None:
                self._add_block(step, stream, pending + b"\n", events)

    def _warning(self, w: dict[str, Any], events: list[ProgressEvent]) -> None:
        digest = w.get("vertex")
        step = self.progress.steps.get(digest) if isinstance(digest, str) else None
        detail = tuple(_b64(d).decode("utf-8", "replace") for d in (w.get("detail") or ()) if d)
        warning = BuildWarning(
            short=_b64(w.get("short") or "").decode("utf-8", "replace"),
            detail=detail,
            url=str(w.get("url") or ""),
            level=int(w.get("level") or 0),
            step=step,
        )
        self.progress.warnings.append(warning)
        events.append(WarningAdded(warning))

    # -- end of stream --

    def close(
        self,
        exit_code: int | None = None,
        *,
        digest: str = "",
        canceled: bool = False,
        duration_s: float | None = None,
        error: str = "",
    ) -> list[ProgressEvent]:
        """End of the stream: flush what is buffered and set the final :class:`BuildResult`.

        Without an ``exit_code`` (a replayed file) success is inferred from the stream: no
        failed step and no ``ERROR:`` line. Steps still running when the stream ended are
        marked canceled when the build did not succeed.
        """
        events: list[ProgressEvent] = self._initial
        self._initial = []
        if self._closed:
            return events
        self._buf += self._decoder.decode(b"", final=True)
        if self._buf:
            self._buf += "\n"
            events.extend(self.feed(b""))
            if self._buf:  # an unterminated value: keep its lines as text
                self._truncated = True
                for line in self._buf.split("\n"):
                    self._text(line, events)
                self._buf = ""
        for digest_key, _stream in list(self._partial):
            self._flush_partial(self.progress.steps[digest_key], events)
        progress = self.progress
        stream_error = progress.error_text
        failed = progress.failed_steps
        if exit_code is None:  # a replayed file: judge by what it says
            unfinished = self._truncated or any(
                s.completed is None and not s.error for s in progress.steps.values()
            )
            ok = not failed and not stream_error and not canceled and not unfinished
        else:
            ok = exit_code == 0 and not canceled
        if not ok:
            for step in progress.steps.values():
                if step.intervals and step.completed is None and not step.error:
                    step.error = "canceled"
                    events.append(StepChanged(step))
        message = error or stream_error
        if not ok and not message:
            if canceled:
                message = "build canceled"
            elif failed:
                message = f"{failed[0].raw_name}: {failed[0].error}"
            elif exit_code is not None:
                message = f"buildx exited with code {exit_code}"
            elif self._truncated:
                message = "the recorded stream is cut off in the middle of a progress value"
            else:
                message = "the recorded build did not finish (steps still running or queued)"
        result = BuildResult(
            ok=ok,
            error="" if ok else message,
            digest=digest,
            exit_code=exit_code,
            canceled=canceled,
            duration_s=duration_s,
        )
        progress.result = result
        self._closed = True
        events.append(BuildFinished(result))
        return events


def parse_bytes(
    data: bytes | Iterable[bytes],
    platforms: Sequence[Platform] = (),
    native: Platform | None = None,
    exit_code: int | None = None,
) -> BuildProgress:
    """Parse a whole recorded stream (or an iterable of chunks) and close it."""
    parser = ProgressParser(platforms, native)
    if isinstance(data, bytes | bytearray):
        parser.feed(bytes(data))
    else:
        for chunk in data:
            parser.feed(chunk)
    parser.close(exit_code)
    return parser.progress


# --- emulation insight --------------------------------------------------------------------------


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

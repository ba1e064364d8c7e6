"""The progress parser: the rawjson stream folded into a :class:`BuildProgress`.

:class:`ProgressParser` takes the raw bytes in chunks of any size (framed by
:class:`~mabgui.core.progress.stream.StreamReader`), keeps the text as :class:`Message` s and
folds each JSON value into one :class:`Lane` per platform with its :class:`Step` s, the shared
steps (``[internal] …``, exporting, pushing), warnings, messages and the final result. Each
:meth:`ProgressParser.feed` returns the events that name what changed.

Whatever the input (hostile JSON, wrong types, out-of-range numbers), the parser never raises:
a value it cannot fold is skipped with one message saying so, a record too long or too deeply
nested is dropped with one message saying how much.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Sequence
from typing import Any

from mabgui.core.platform import Platform
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
from mabgui.core.progress.model import BuildProgress, BuildResult, BuildWarning, Message
from mabgui.core.progress.names import parse_step_name
from mabgui.core.progress.steps import STDERR, STDOUT, Lane, Status, Step, StepState
from mabgui.core.progress.stream import MAX_RECORD, StreamReader
from mabgui.core.progress.timestamps import parse_timestamp

# A platform nobody named: an unprefixed step of a build without --platform whose builder's
# native platform the caller did not know (a recording from elsewhere).
UNKNOWN_PLATFORM = Platform("unknown", "unknown")
# What a value of an unexpected shape raises while folding: skipped with a message.
_ODD = (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError)

NativeArg = Platform | Sequence[Platform] | None


def natives_of(native: NativeArg) -> tuple[Platform, ...]:
    """A ``native`` argument (one platform, several, or None: unknown) as a tuple."""
    if native is None:
        return ()
    if isinstance(native, Platform):
        return (native,)
    return tuple(native)


def _b64(text: Any) -> bytes:
    """Base64 text → bytes (a TypeError for a non-text value: the value is skipped)."""
    try:
        data: bytes = binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        return str(text).encode()
    return data


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    """A JSON count: an int (floats truncated); anything else (inf, text) raises."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return int(value)  # OverflowError for inf, ValueError for nan


class ProgressParser:
    """Feed raw ``--progress=rawjson`` bytes in; get :data:`ProgressEvent` lists out.

    Args:
        platforms: the platforms the build asked for. Lanes are created for them up front (in
            that order); a single-platform build's unprefixed ``[1/3] …`` steps go to the first.
        native: the builder's native platforms (the first platform each of its nodes lists),
            as the caller knows them; steps of other platforms are marked ``emulated``. None
            (a recording from elsewhere): the first lane counts as native while the stream
            runs, the lane that ran the shared steps fastest once it ended, and
            ``progress.native_assumed`` says so.
        max_record: the longest line or pretty-printed value kept (longer ones are dropped
            with a message).
    """

    def __init__(
        self,
        platforms: Sequence[Platform] = (),
        native: NativeArg = None,
        *,
        max_record: int = MAX_RECORD,
    ) -> None:
        natives = natives_of(native)
        self.progress = BuildProgress(natives=natives, native_assumed=not natives)
        self._events: list[ProgressEvent] = []
        self._reader = StreamReader(self._on_value, self._on_text, self._on_dropped, max_record)
        # (digest, stream) -> the unfinished last line. Per stream: BuildKit reads stdout and
        # stderr through separate pipes, so their chunks arrive in no reliable order.
        self._partial: dict[tuple[str, int], bytes] = {}
        self._step_no: dict[str, int] = {}
        self._default_platform = platforms[0] if len(platforms) == 1 else None
        self._closed = False
        for platform in platforms:
            self._lane(platform, self._events)

    @property
    def model(self) -> BuildProgress:
        return self.progress

    def set_native(self, native: NativeArg) -> None:
        """The builder's native platforms, once known (after the checks before the build);
        lanes and steps already seen are marked again."""
        natives = natives_of(native)
        if not natives:
            return
        self.progress.native_assumed = False
        self._mark(natives, self._events)

    def _mark(self, natives: tuple[Platform, ...], events: list[ProgressEvent]) -> None:
        progress = self.progress
        progress.natives = natives
        for lane in progress.lanes.values():
            lane.emulated = progress.is_emulated(lane.platform)
        for step in progress.steps.values():
            runs_on = step.build_platform or step.platform
            emulated = runs_on is not None and progress.is_emulated(runs_on)
            if emulated != step.emulated:
                step.emulated = emulated
                events.append(StepChanged(step))

    def _assume_native(self, events: list[ProgressEvent]) -> None:
        """Natives unknown (a recording from elsewhere): at the end, the lane that ran the
        steps every lane finished fastest is taken as native (QEMU costs several times the
        native time). Without such steps the first lane stays the assumption."""
        lanes = list(self.progress.lanes.values())
        if len(lanes) < 2:
            return
        done: list[dict[tuple[str, int | None, str], float]] = []
        for lane in lanes:
            done.append(
                {
                    (s.stage, s.index, s.name): s.duration_s or 0.0
                    for s in lane.steps
                    if s.index is not None and s.state is StepState.DONE
                }
            )
        common = set(done[0]).intersection(*done[1:])
        if not common:
            return
        times = [sum(d[key] for key in common) for d in done]
        fastest = lanes[times.index(min(times))]
        if (fastest.platform,) != self.progress.natives:
            self._mark((fastest.platform,), events)

    # -- input framing --

    def feed(self, data: bytes) -> list[ProgressEvent]:
        """Take the next chunk of the stream (any size, any split) and fold what it completes."""
        if not self._closed and data:
            self._reader.feed(data)
        events, self._events = self._events, []
        return events

    def _on_value(self, value: dict[str, Any]) -> None:
        try:
            self._fold(value, self._events)
        except _ODD as exc:
            self._odd_value(exc, self._events)

    def _on_text(self, line: str) -> None:
        self._text(line, self._events)

    def _on_dropped(self, chars: int, reason: str) -> None:
        self._warn(f"mabgui: dropped {reason} ({chars:,} characters)", self._events)

    def _warn(self, text: str, events: list[ProgressEvent]) -> None:
        """A message of mabgui's own about the stream (shown like buildx's warnings)."""
        message = Message(text, "warning")
        self.progress.messages.append(message)
        events.append(MessageAdded(message))

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
        except _ODD as exc:
            self._odd_value(exc, events)

    def _odd_value(self, exc: Exception, events: list[ProgressEvent]) -> None:
        # JSON of an unexpected shape: keep going, say so once per value.
        reason = f"{type(exc).__name__}: {str(exc)[:120]}"
        self._warn(f"mabgui: skipped an unreadable progress value ({reason})", events)

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
            progress = self.progress
            if not progress.natives:  # unknown: the first lane counts as native (assumed)
                progress.natives = (platform,)
            lane = Lane(platform, emulated=progress.is_emulated(platform))
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
            platform = (
                self._default_platform
                or self._only_lane()
                or self.progress.native
                or UNKNOWN_PLATFORM
            )
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
        lane = self._lane(platform, events) if platform is not None else None
        runs_on = parsed.build_platform or platform
        step.emulated = runs_on is not None and self.progress.is_emulated(runs_on)
        self.progress.steps[digest] = step
        self._step_no[digest] = self.progress.log._register(step)
        if lane is not None:
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
        name = _str(v.get("name")) or digest
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
            step.inputs = tuple(i for i in inputs if isinstance(i, str))
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
        error = _str(v.get("error"))
        if error and error != step.error:
            step.error = error
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
        status.name = _str(s.get("name")) or status.name
        status.current = _int(s.get("current") or 0)
        status.total = _int(s.get("total") or 0)
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
            url=_str(w.get("url")),
            level=_int(w.get("level") or 0),
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
        if self._closed:
            return self.feed(b"")
        self._reader.close()
        events, self._events = self._events, []
        for digest_key, _stream in list(self._partial):
            self._flush_partial(self.progress.steps[digest_key], events)
        progress = self.progress
        if progress.native_assumed:
            self._assume_native(events)
        stream_error = progress.error_text
        failed = progress.failed_steps
        if exit_code is None:  # a replayed file: judge by what it says
            unfinished = self._reader.truncated or any(
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
            elif self._reader.truncated:
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
    native: NativeArg = None,
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

"""The streaming rawjson reader: raw bytes in chunks of any size → JSON values and text lines.

buildx writes one *SolveStatus* JSON value per update: buildx 0.13.1 pretty-prints each one
over many lines (``{`` alone on a line, closed by ``}`` in column 0), other versions print one
per line, and plain text (``WARNING: …``, the final ``ERROR: failed to solve: …``) is mixed in.

The reader is **linear in its input**, whatever the chunking and whatever the data: each
character is decoded once, searched for a terminator once and joined once (an unfinished
record waits as a list of parts, re-joined only when its end has arrived). One record (a line
or a pretty-printed value) is capped at :data:`MAX_RECORD` characters: a longer one is dropped
whole, and the caller is told how much was dropped and why. Hostile JSON (nesting deeper than
the decoder's recursion limit) is dropped the same way, never raised.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from typing import Any

MAX_RECORD = 32 << 20  # characters in one line or one pretty-printed value
_DEEP = object()  # _decode's answer for a value nested too deeply to decode

ValueCallback = Callable[[dict[str, Any]], None]
TextCallback = Callable[[str], None]
DroppedCallback = Callable[[int, str], None]


class StreamReader:
    """Feed bytes; complete records go to the callbacks as they are recognised.

    ``on_value(dict)`` gets each decoded SolveStatus, ``on_text(line)`` each other line (without
    its newline), ``on_dropped(chars, reason)`` each record that was dropped.
    """

    def __init__(
        self,
        on_value: ValueCallback,
        on_text: TextCallback,
        on_dropped: DroppedCallback,
        max_record: int = MAX_RECORD,
    ) -> None:
        self._on_value = on_value
        self._on_text = on_text
        self._on_dropped = on_dropped
        self._max = max_record
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The C scanner of the stdlib decoder, without json.loads's per-call overhead.
        self._scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
        self._pending: list[str] = []  # the unfinished record, in parts
        self._pending_size = 0
        self._pretty = False  # the unfinished record is a pretty-printed value
        self._close_seen = False  # ... whose closing "\n}" arrived (its newline not yet)
        self._last = ""  # the last character held, to see a "\n}" split across chunks
        self._dropping = 0  # characters dropped so far of an over-long record (0: none)
        self.truncated = False  # the stream ended inside a pretty-printed value
        mib = max_record >> 20
        exact = mib and max_record == mib << 20
        self._limit = f"{mib} MiB" if exact else f"{max_record} characters"

    def feed(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._take(text)

    def close(self) -> None:
        """End of input: an unterminated last line still counts; a cut value is text."""
        self._take(self._decoder.decode(b"", final=True))
        if self._dropping:
            self._report_drop()
        if not self._pending:
            return
        buf = "".join(self._pending) + "\n"
        self._reset()
        pos = self._split(buf)
        if pos < len(buf):  # a value cut off: keep its lines as text
            self.truncated = True
            self._lines(buf, pos, len(buf) - 1, values=False)

    # -- framing --

    def _take(self, text: str) -> None:
        if not text:
            return
        if self._dropping:
            text = self._skip(text)
            if not text:
                return
        if self._pending:
            if not self._completes(text):
                self._hold(text)
                return
            buf = "".join(self._pending) + text
            self._reset()
        else:
            buf = text
        pos = self._split(buf)
        if pos < len(buf):
            tail = buf[pos:]
            self._pretty = tail[:1] == "{" and tail[1:2] in ("\n", "\r")
            self._close_seen = self._pretty and tail.find("\n}") >= 0
            self._hold(tail)

    def _reset(self) -> None:
        self._pending = []
        self._pending_size = 0
        self._pretty = self._close_seen = False
        self._last = ""

    def _close_in(self, text: str) -> int:
        """Where a pretty value's "\\n}" ends in ``text`` (also split across chunks), or -1."""
        if self._last == "\n" and text[:1] == "}":
            return 1
        found = text.find("\n}")
        return found + 2 if found >= 0 else -1

    def _completes(self, text: str) -> bool:
        """Whether ``text`` holds the end of the unfinished record (its terminator)."""
        if self._pending_size < 2:  # "{" alone: too short to know its kind (and cheap)
            return True
        if not self._pretty:
            return "\n" in text
        if self._close_seen:
            return "\n" in text
        after = self._close_in(text)
        if after < 0:
            return False
        self._close_seen = True
        return text.find("\n", after) >= 0

    def _hold(self, text: str) -> None:
        self._pending.append(text)
        self._pending_size += len(text)
        self._last = text[-1]
        if self._pending_size > self._max:
            pretty, close_seen, last = self._pretty, self._close_seen, self._last
            self._dropping = self._pending_size
            self._reset()
            self._pretty, self._close_seen, self._last = pretty, close_seen, last

    def _skip(self, text: str) -> str:
        """Drop the rest of an over-long record; returns what follows it ('' if not yet)."""
        start = 0
        if self._pretty and not self._close_seen:
            after = self._close_in(text)
            if after < 0:
                self._dropping += len(text)
                self._last = text[-1]
                return ""
            self._close_seen = True
            start = after
        nl = text.find("\n", start)
        if nl < 0:
            self._dropping += len(text)
            self._last = text[-1]
            return ""
        self._dropping += nl + 1
        self._report_drop()
        return text[nl + 1 :]

    def _report_drop(self) -> None:
        what = "a progress value" if self._pretty else "a line"
        self._on_dropped(self._dropping, f"{what} longer than {self._limit}")
        self._dropping = 0
        self._reset()

    # -- records in one buffer --

    def _split(self, buf: str) -> int:
        """Hand out every complete record of ``buf``; returns where the unfinished one starts."""
        pos = 0
        end = len(buf)
        close = -1  # the next "\n}" at or after pos (end: none left), cached: searched once
        limit = self._max
        scan = self._scan
        on_value = self._on_value
        while pos < end:
            if buf[pos] == "{" and buf[pos + 1 : pos + 2] in ("\n", "\r"):
                # A pretty-printed value: it ends at the first "}" in column 0 (nested braces
                # are indented and JSON strings hold no raw newline).
                if close < pos:
                    close = buf.find("\n}", pos)
                    if close < 0:
                        close = end
                if close >= end:
                    break
                nl = buf.find("\n", close + 2)
                if nl < 0:
                    break
                if close + 2 - pos > limit:
                    self._on_dropped(nl + 1 - pos, f"a progress value longer than {self._limit}")
                elif buf[close + 2 : nl].strip():
                    self._lines(buf, pos, nl, values=True)
                else:
                    text = buf[pos : close + 2]
                    try:  # inlined _decode: the hot path
                        value, after = scan(text, 0)
                    except (StopIteration, ValueError):
                        value = after = None
                    except RecursionError:
                        value, after = _DEEP, None
                    if after == len(text) and type(value) is dict:
                        on_value(value)
                    elif value is _DEEP:
                        self._on_dropped(nl + 1 - pos, "a progress value nested too deeply")
                    else:  # not JSON after all (or junk after it): its lines are text
                        self._lines(buf, pos, nl, values=True)
                pos = nl + 1
                continue
            nl = buf.find("\n", pos)
            if nl < 0:
                break
            self._line(buf[pos:nl], values=True)
            pos = nl + 1
        return pos

    def _lines(self, buf: str, pos: int, stop: int, *, values: bool) -> None:
        """Every line of ``buf[pos:stop]`` on its own (a one-line value or text)."""
        while pos <= stop:
            nl = buf.find("\n", pos, stop)
            if nl < 0:
                nl = stop
            self._line(buf[pos:nl], values=values)
            pos = nl + 1

    def _line(self, line: str, *, values: bool) -> None:
        if len(line) > self._max:
            self._on_dropped(len(line) + 1, f"a line longer than {self._limit}")
            return
        if values and line[:1] == "{":
            value = self._decode(line)
            if isinstance(value, dict):
                self._on_value(value)
                return
            if value is _DEEP:
                self._on_dropped(len(line) + 1, "a progress value nested too deeply")
                return
        self._on_text(line)

    def _decode(self, text: str) -> Any:
        try:
            value, after = self._scan(text, 0)
        except (StopIteration, ValueError):
            return None
        except RecursionError:
            return _DEEP
        if after < len(text) and text[after:].strip():
            return None
        return value

"""Replaying a recorded stream in the Builds view: pacing by the stream's own clock, and
choosing the recording to open.

A recording is read by the core (:func:`mabgui.core.build.history.read_recording`); here only
the wall-clock pacing of a replay lives, so its lanes move as the build did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from mabgui.core.progress import ProgressEvent, StepChanged
from mabgui.ui import settings as saved

REPLAY_CHUNK = 32 * 1024  # bytes fed to the parser between two yields to the event loop
PACED_CHUNK = 4 * 1024  # a paced replay feeds smaller slices so the lanes move smoothly
MAX_IDLE_S = 2.0  # a paced replay skips quiet stretches longer than this


class Pacer:
    """The clock of a paced replay: stream time runs ``speed`` times as fast as the wall's."""

    def __init__(self) -> None:
        self._paced: tuple[float, float, float] | None = None  # stream t0, wall t0, speed

    @property
    def active(self) -> bool:
        return self._paced is not None

    def stop(self) -> None:
        self._paced = None

    def now(self) -> float:
        """The stream's time now (0 when no paced replay runs)."""
        if self._paced is None:
            return 0.0
        stream_t0, wall_t0, speed = self._paced
        return stream_t0 + (time.monotonic() - wall_t0) * speed

    async def pace(self, events: Sequence[ProgressEvent], speed: float) -> None:
        """Sleep until the wall clock catches up with the stream's latest timestamp."""
        latest = 0.0
        for event in events:
            if type(event) is StepChanged:
                assert isinstance(event, StepChanged)
                for start, end in event.step.intervals[-1:]:
                    latest = max(latest, end if end is not None else start)
        if not latest:
            return
        now = time.monotonic()
        if self._paced is None:
            self._paced = (latest, now, speed)
            return
        stream_t0, wall_t0, _speed = self._paced
        delay = (latest - stream_t0) / speed - (now - wall_t0)
        if delay > MAX_IDLE_S:  # skip the quiet part: shift the origin
            self._paced = (stream_t0, wall_t0 - (delay - MAX_IDLE_S), speed)
            delay = MAX_IDLE_S
        if delay > 0:
            await asyncio.sleep(delay)


def choose_recording(parent: QWidget) -> str:
    """Ask for a recorded rawjson file (starting in the folder of the last one); '' if none."""
    settings = QSettings()
    start = saved.read_str(settings, "builds/recording_dir", str(Path.home()))
    path, _filter = QFileDialog.getOpenFileName(
        parent,
        "Open a recorded rawjson stream",
        start,
        "BuildKit rawjson (*.rawjson *.json *.log *.txt *.gz);;All files (*)",
    )
    if path:
        settings.setValue("builds/recording_dir", str(Path(path).parent))
    return path

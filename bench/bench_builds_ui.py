"""Builds view throughput: a recorded 3-platform stream through the Qt views (offscreen).

What it measures (results in bench/RESULTS.md, section "Builds view"):

1. **replay**: the real 3 platforms × 30 steps × 200 log lines rawjson stream replayed N times
   through ``BuildsView.replay_bytes`` — the same path as a live build: the core parser folds
   128 KiB chunks, the view queues events and renders once per frame (lanes, steps, virtualised
   log, timeline or insight tab). Reports events/s (``BuildProgress.events_seen``) and the
   longest event-loop stall, seen both from asyncio (a 5 ms sleeper) and from Qt (a 5 ms timer).
   Targets: ≥ 50k events/s, no stall above 50 ms.
2. **big log**: the same stream folded 6× into *one* model (BuildKit repeats vertexes; logs
   append), so the log pane holds 100k+ lines: time of scroll-to-end, and of a platform,
   step and text filter until complete (the pane filters in 20k-line slices, one per
   event-loop turn), and the stalls meanwhile.

Run: ``QT_QPA_PLATFORM=offscreen python bench/bench_builds_ui.py [--repeat 10] [STREAM]``.
STREAM defaults to bench/data/progress-3x30x200.rawjson.gz (recorded by the Builds core bench).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STREAM = ROOT / "bench" / "data" / "progress-3x30x200.rawjson.gz"


class StallMonitor:
    """Longest gap between wake-ups of an asyncio sleeper and of a Qt timer (both 5 ms).

    Besides the wall-clock gap it records the main thread's CPU time inside each asyncio gap:
    on a loaded machine (other jobs on the 2 cores) a wall gap can be the OS scheduling
    something else, while the CPU gap is the work this process did without yielding.
    """

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.asyncio_max = 0.0
        self.cpu_max = 0.0
        self.qt_max = 0.0
        self._last_qt = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._qt_tick)
        self._task: asyncio.Task[None] | None = None

    def _qt_tick(self) -> None:
        now = time.perf_counter()
        self.qt_max = max(self.qt_max, now - self._last_qt)
        self._last_qt = now

    async def _sleeper(self) -> None:
        last = time.perf_counter()
        last_cpu = time.thread_time()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            cpu = time.thread_time()
            self.asyncio_max = max(self.asyncio_max, now - last)
            self.cpu_max = max(self.cpu_max, cpu - last_cpu)
            last, last_cpu = now, cpu

    def start(self) -> None:
        self.asyncio_max = self.qt_max = self.cpu_max = 0.0
        self._last_qt = time.perf_counter()
        self._timer.start()
        self._task = asyncio.ensure_future(self._sleeper())

    async def stop(self) -> tuple[float, float, float]:
        self._timer.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.asyncio_max * 1e3, self.qt_max * 1e3, self.cpu_max * 1e3


async def bench(data: bytes, repeat: int, tab: str) -> dict[str, object]:
    from mabgui.core import progress as P
    from mabgui.ui.views.builds.view import BuildsView

    view = BuildsView(autoload=False)
    view.resize(1240, 760)
    view.show()
    pane = {"log": view.log_pane, "timeline": view.timeline, "insight": view.insight}[tab]
    view.bottom.setCurrentWidget(pane)
    await asyncio.sleep(0.2)
    monitor = StallMonitor()

    # 1. replay the stream `repeat` times, as a live build would arrive
    monitor.start()
    events = 0
    lines = 0
    frames_before = view._frames
    t0 = time.perf_counter()
    c0 = time.process_time()
    for _ in range(repeat):
        progress = await view.replay_bytes(data, title="bench")
        events += progress.events_seen
        lines += len(progress.log)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    stall_asyncio, stall_qt, stall_cpu = await monitor.stop()
    frames = view._frames - frames_before
    assert progress.result is not None, "the replay did not finish"
    assert progress.result.ok, progress.result
    replay = {
        "repeat": repeat,
        "events": events,
        "log_lines": lines,
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed),
        "cpu_seconds": round(cpu, 3),
        "events_per_cpu_s": round(events / cpu),
        "frames": frames,
        "max_stall_ms_asyncio": round(stall_asyncio, 1),
        "max_stall_ms_qt": round(stall_qt, 1),
        "max_stall_cpu_ms": round(stall_cpu, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }

    # 2. one model with 100k+ log lines (the stream folded 6x into one parser)
    view.bottom.setCurrentWidget(view.log_pane)
    parser = P.ProgressParser()
    view.attach(parser.progress, "big log")
    monitor.start()
    for _ in range(6):
        for start in range(0, len(data), 128 * 1024):
            view.on_events(parser.feed(data[start : start + 128 * 1024]))
            await asyncio.sleep(0)
    view.on_events(parser.close())
    view.flush()
    big = parser.progress
    timings: dict[str, float] = {}
    pane_ = view.log_pane
    arm64 = next(p for p in big.lanes if p.architecture == "arm64")

    def timed(name: str, action: object) -> None:
        t = time.perf_counter()
        action()  # type: ignore[operator]
        timings[name] = round((time.perf_counter() - t) * 1e3, 1)

    async def filtered(name: str, platform: object, step: object, text: str) -> int:
        """Filter through the pane as a user does (incremental), until every line is seen."""
        t = time.perf_counter()
        pane_.text_filter.blockSignals(True)
        pane_.text_filter.setText(text)
        pane_.text_filter.blockSignals(False)
        pane_.model.set_filter(platform, step, text, incremental=True)  # type: ignore[arg-type]
        pane_._catch_up()
        while pane_.model.pending():  # noqa: ASYNC110 - polling the pane is the point
            await asyncio.sleep(0)
        timings[name] = round((time.perf_counter() - t) * 1e3, 1)
        return pane_.model.rowCount()

    timed("scroll_to_end_ms", pane_.view.scrollToBottom)
    await filtered("filter_platform_ms", arm64, None, "")
    step = max(big.lanes[arm64].steps, key=lambda s: s.log_line_count)
    await filtered("filter_step_ms", arm64, step, "")
    text_rows = await filtered("filter_text_ms", None, None, "line 199:")
    await filtered("unfilter_ms", None, None, "")
    await asyncio.sleep(0.2)
    stall_asyncio2, stall_qt2, stall_cpu2 = await monitor.stop()
    big_log = {
        "log_lines": len(big.log),
        "log_bytes": big.log.nbytes,
        "text_filter_rows": text_rows,
        **timings,
        "max_stall_ms_asyncio": round(stall_asyncio2, 1),
        "max_stall_ms_qt": round(stall_qt2, 1),
        "max_stall_cpu_ms": round(stall_cpu2, 1),
    }
    view.close()
    return {"tab": tab, "replay": replay, "big_log": big_log}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stream", nargs="?", default=str(DEFAULT_STREAM))
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--tab", choices=("log", "timeline", "insight"), default="log")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after start-up (long-lived Qt/pyqtgraph objects out of gen-2 scans)",
    )
    args = parser.parse_args()
    raw = Path(args.stream).read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw

    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.gc_freeze:
        import gc

        import mabgui.ui.views.builds.view  # noqa: F401 - import everything before freezing

        gc.collect()
        gc.freeze()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result = loop.run_until_complete(bench(data, args.repeat, args.tab))
    result["stream"] = {"path": args.stream, "bytes": len(data)}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        r = result["replay"]
        b = result["big_log"]
        assert isinstance(r, dict)
        assert isinstance(b, dict)
        print(
            f"replay ({args.tab} tab): {r['events']:,} events, {r['log_lines']:,} lines in "
            f"{r['seconds']} s = {r['events_per_s']:,} events/s ({r['events_per_cpu_s']:,} per CPU "
            f"s), {r['frames']} frames, max stall {r['max_stall_ms_asyncio']} ms (asyncio) / "
            f"{r['max_stall_ms_qt']} ms (Qt) / {r['max_stall_cpu_ms']} ms CPU; load "
            f"{r['load_avg_1min']}"
        )
        print(
            f"big log: {b['log_lines']:,} lines ({b['log_bytes'] / 1e6:.1f} MB): "
            f"scroll to end {b['scroll_to_end_ms']} ms, platform filter "
            f"{b['filter_platform_ms']} ms, step filter {b['filter_step_ms']} ms, text filter "
            f"{b['filter_text_ms']} ms, unfilter {b['unfilter_ms']} ms; max stall "
            f"{b['max_stall_ms_asyncio']} ms (asyncio) / {b['max_stall_ms_qt']} ms (Qt) / "
            f"{b['max_stall_cpu_ms']} ms CPU"
        )
        print(f"peak RSS {result['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Hostile progress streams (issue 15, cases 7 and 9): never a traceback, linear time, a cap.

The small cases are files in ``tests/fixtures/progress/hostile``; the large ones (200k-deep
nesting, lines far over the cap) are generated here. ``test_progress_fuzz.py`` fuzzes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mabgui.core import progress as P
from mabgui.core.build import history
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

HOSTILE = FIXTURES / "progress" / "hostile"
REAL = (FIXTURES / "progress" / "multi-platform.rawjson").read_bytes()
AMD64 = Platform.parse("linux/amd64")
ROOT = Path(__file__).parents[2]


def check_model(progress: P.BuildProgress) -> None:
    """Everything a view or the CLI reads from a model works on it."""
    json.dumps(progress.summary())
    P.emulation_insight(progress)
    for lane in progress.lanes.values():
        _ = (lane.state, lane.ok, lane.progress, lane.error, lane.duration_s, lane.current_step)
    for line in progress.log:
        assert isinstance(line.text, str)
    for step in progress.steps.values():
        _ = (step.label, step.state, step.duration_s, step.to_json())


def _parse(data: bytes, chunk: int | None = None, **kw: object) -> P.BuildProgress:
    parser = P.ProgressParser([AMD64], AMD64, **kw)  # type: ignore[arg-type]
    if chunk is None:
        parser.feed(data)
    else:
        for start in range(0, len(data), chunk):
            parser.feed(data[start : start + chunk])
    parser.close()
    check_model(parser.progress)
    return parser.progress


@pytest.mark.parametrize("path", sorted(HOSTILE.glob("*.rawjson")), ids=lambda p: p.name)
@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_hostile_corpus_never_raises(path: Path, chunk: int | None) -> None:
    data = path.read_bytes()
    _parse(data, chunk)
    _parse(data + REAL, chunk)  # and the real stream after it still folds


def test_numbers_out_of_range_skip_the_value_with_a_message() -> None:
    progress = _parse((HOSTILE / "numbers.rawjson").read_bytes())
    texts = [m.text for m in progress.messages]
    assert any("skipped an unreadable progress value (OverflowError" in t for t in texts)
    assert "[1/1] RUN n" in [s.label for s in progress.steps.values()]


@pytest.mark.parametrize("pretty", [False, True])
def test_deep_nesting_is_one_dropped_value(pretty: bool) -> None:
    deep = '{"vertexes": ' + "[" * 200_000 + "]" * 200_000 + "}"
    if pretty:
        deep = '{\n "vertexes": ' + "[" * 200_000 + "]" * 200_000 + "\n}"
    progress = _parse(deep.encode() + b"\n" + REAL)
    dropped = [m.text for m in progress.messages if "nested too deeply" in m.text]
    assert len(dropped) == 1
    assert progress.steps  # the rest of the stream still folds


def test_a_line_over_the_cap_is_dropped_and_said() -> None:
    parser = P.ProgressParser([AMD64], AMD64, max_record=1000)
    parser.feed(b"x" * 5000 + b"\nERROR: after it\n")
    parser.feed(b"{\n" + b' "a": 1,\n' * 500)  # a pretty value that grows over the cap
    parser.feed(b"}\n" + REAL)
    parser.close()
    texts = [m.text for m in parser.progress.messages]
    assert "mabgui: dropped a line longer than 1000 characters (5,001 characters)" in texts
    assert any(t.startswith("mabgui: dropped a progress value longer than 1000") for t in texts)
    assert "ERROR: after it" in texts
    assert parser.progress.steps


def _chunks(total: int, piece: bytes) -> Iterator[bytes]:
    for _ in range(total // len(piece)):
        yield piece


def test_one_huge_line_is_read_in_linear_time() -> None:
    """96 MiB without a newline in 64 KiB chunks: the former parser re-joined its buffer on
    every chunk (quadratic: 110 s for 160 MB); now each byte is handled once."""
    t0 = time.monotonic()
    parser = P.ProgressParser([AMD64], AMD64)
    for chunk in _chunks(96 << 20, b"A" * (64 << 10)):
        parser.feed(chunk)
    parser.feed(b"\n" + REAL)
    parser.close()
    took = time.monotonic() - t0
    texts = [m.text for m in parser.progress.messages]
    assert "mabgui: dropped a line longer than 32 MiB (100,663,297 characters)" in texts
    assert parser.progress.steps
    assert took < 15, f"{took:.1f} s for 96 MiB"


def test_many_unclosed_pretty_starts_stay_linear() -> None:
    """ "{" lines that never close, then one "}": each is looked at once, not once per start."""
    t0 = time.monotonic()
    _parse(b"{\n" * 500_000 + b"}\n" + REAL)
    assert time.monotonic() - t0 < 15


def test_dev_zero_as_a_replay_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(history.HistoryError, match="not a regular file"):
        history.open_recording("/dev/zero")
    res = subprocess.run(
        [sys.executable, "-m", "mabgui", "replay", "/dev/zero", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert res.returncode == 1
    assert json.loads(res.stdout)["ok"] is False
    assert "not a regular file" in res.stderr


@pytest.mark.parametrize("compress", [False, True])
def test_a_pipe_is_read_once_plain_or_gzip(tmp_path: Path, compress: bool) -> None:
    import gzip
    import os
    import threading

    fifo = tmp_path / "stream.fifo"
    os.mkfifo(fifo)
    data = (FIXTURES / "progress" / "fail-arm64.rawjson").read_bytes()
    payload = gzip.compress(data) if compress else data

    def write() -> None:
        with fifo.open("wb") as fh:
            fh.write(payload)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    progress = history.open_recording(fifo)
    writer.join(10)
    assert progress.summary() == P.parse_bytes(data).summary()


def test_timestamps_use_fromisoformat_and_refuse_junk() -> None:
    assert P.parse_timestamp("2026-11-29T16:22:37.389106956Z") == pytest.approx(
        1795969357.389106, abs=1e-6
    )
    assert P.parse_timestamp("2026-11-29T17:22:37+01:00") == 1795969357.0
    for bad in ("abc", "", 5, None, "2026-13-01T00:00:00Z", "9" * 100):
        with pytest.raises(P.BadTimestamp):
            P.parse_timestamp(bad)

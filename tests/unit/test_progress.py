"""The rawjson parser and model over recorded real buildx 0.13.1 streams (fixtures/progress)."""

from __future__ import annotations

import gzip
import random
from datetime import datetime

import pytest

from mabgui.core import progress as P
from mabgui.core.platform import Platform
from tests.conftest import FIXTURES

HERE = FIXTURES / "progress"
AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
ARMV7 = Platform.parse("linux/arm/v7")
THREE = [AMD64, ARM64, ARMV7]


def load(name: str) -> bytes:
    return (HERE / name).read_bytes()


def parse(name: str, platforms: list[Platform] | None = None, **kw: object) -> P.BuildProgress:
    return P.parse_bytes(load(name), platforms or [], native=AMD64, **kw)  # type: ignore[arg-type]


def test_multi_platform_three_lanes_done() -> None:
    progress = parse("multi-platform.rawjson", THREE)
    assert list(progress.lanes) == THREE
    assert progress.result is not None
    assert progress.result.ok
    for platform, lane in progress.lanes.items():
        assert lane.state is P.StepState.DONE
        assert lane.ok
        assert lane.progress == 1.0
        assert lane.emulated == (platform != AMD64)
        labels = [s.label for s in lane.steps]
        assert labels[0].startswith("[internal] load metadata for 127.0.0.1:5000/busybox")
        assert labels[1].startswith("[1/4] FROM 127.0.0.1:5000/busybox:latest")
        assert labels[2:] == [
            "[2/4] COPY hello.txt /hello.txt",
            '[3/4] RUN echo "arch: $(uname -m)" && cat /hello.txt && echo "to stderr" >&2',
            '[4/4] RUN for i in 1 2 3; do echo "line $i"; done > /lines && cat /lines',
        ]
        for step in lane.steps:
            assert step.platform == platform
            assert step.started is not None
            assert step.completed is not None
            assert step.duration_s is not None
            assert step.duration_s >= 0
    shared = [s.label for s in progress.shared]
    assert shared[:3] == [
        "[internal] load build definition from Dockerfile",
        "[internal] load .dockerignore",
        "[internal] load build context",
    ]
    assert "exporting to image" in shared
    assert any(s.startswith("pushing 127.0.0.1:5000/mabgui-build-test-") for s in shared)


def test_multi_platform_logs_per_platform_and_stream() -> None:
    progress = parse("multi-platform.rawjson", THREE)
    uname = {AMD64: "x86_64", ARM64: "aarch64", ARMV7: "armv7l"}
    for platform, lane in progress.lanes.items():
        run = lane.steps[3]
        lines = [(line.stream, line.text) for line in progress.log.lines_of(run)]
        assert (P.STDOUT, f"arch: {uname[platform]}") in lines
        assert (P.STDOUT, "hello from the context") in lines
        assert (P.STDERR, "to stderr") in lines
        assert run.log_line_count == 3
        loop = [line.text for line in progress.log.lines_of(lane.steps[4])]
        assert loop == ["line 1", "line 2", "line 3"]
    assert len(progress.log) == 18
    assert progress.log[0].step.platform in THREE
    assert progress.log[-1].index == 17
    with pytest.raises(IndexError):
        progress.log[18]


def test_summary_json_shape_matches_the_issue() -> None:
    summary = parse("multi-platform.rawjson", THREE).summary()
    assert set(summary) == {"ok", "error", "duration_s", "digest", "platforms", "shared"}
    assert summary["ok"] is True
    assert summary["error"] is None
    assert list(summary["platforms"]) == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    lane = summary["platforms"]["linux/arm64"]
    assert set(lane) == {"ok", "steps", "error"}
    assert lane["ok"] is True
    assert lane["error"] is None
    for step in [*lane["steps"], *summary["shared"]]:
        assert set(step) == {"name", "state", "duration_s", "cached", "log_lines"}
    assert lane["steps"][3]["log_lines"] == 3
    assert summary["duration_s"] > 0


def test_failing_on_arm64_marks_exactly_that_lane() -> None:
    progress = parse("fail-arm64.rawjson", THREE)
    lanes = progress.lanes
    assert lanes[ARM64].state is P.StepState.ERROR
    assert lanes[AMD64].state is P.StepState.DONE
    # arm/v7 passed the check; BuildKit canceled its next step when arm64 failed.
    assert lanes[ARMV7].state is P.StepState.CANCELED
    assert lanes[ARMV7].failed_step is None
    failed = lanes[ARM64].failed_step
    assert failed is not None
    assert failed.label == '[2/3] RUN echo "checking $(uname -m)" && [ "$(uname -m)" != aarch64 ]'
    assert "did not complete successfully: exit code: 1" in failed.error
    assert [line.text for line in progress.log.lines_of(failed)] == ["checking aarch64"]
    assert progress.failed_steps == [failed]
    result = progress.result
    assert result is not None
    assert not result.ok
    assert result.error.startswith("failed to solve: process")
    summary = progress.summary()
    assert summary["ok"] is False
    assert summary["platforms"]["linux/arm64"]["ok"] is False
    assert "exit code: 1" in summary["platforms"]["linux/arm64"]["error"]
    assert summary["platforms"]["linux/amd64"]["ok"] is True
    assert summary["platforms"]["linux/arm/v7"]["error"] is None


def test_trailing_error_text_is_kept_as_messages() -> None:
    progress = parse("fail-arm64.rawjson", THREE)
    texts = [m.text for m in progress.messages]
    assert "Dockerfile:2" in texts
    assert any(">>> RUN echo" in t for t in texts)
    errors = [m for m in progress.messages if m.level == "error"]
    assert errors[-1].text.startswith("ERROR: failed to solve:")
    assert progress.error_text.startswith("failed to solve: process")


def test_one_line_json_variant_gives_the_same_model() -> None:
    pretty = parse("fail-arm64.rawjson", THREE)
    oneline = parse("fail-arm64.oneline.rawjson", THREE)
    assert oneline.summary() == pretty.summary()
    assert oneline.events_seen == pretty.events_seen
    assert [m.text for m in oneline.messages] == [m.text for m in pretty.messages]


@pytest.mark.parametrize(
    "name",
    ["multi-platform.rawjson", "fail-arm64.rawjson", "fail-arm64.oneline.rawjson"],
)
def test_any_chunking_gives_the_same_result(name: str) -> None:
    data = load(name)
    whole = P.parse_bytes(data, THREE, native=AMD64)
    rng = random.Random(5)
    for sizes in ([1], [7], [4096], [rng.randint(1, 300) for _ in range(50)]):
        chunks, pos, i = [], 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            chunks.append(data[pos : pos + n])
            pos += n
            i += 1
        split = P.parse_bytes(chunks, THREE, native=AMD64)
        assert split.summary() == whole.summary()
        assert [line.text for line in split.log] == [line.text for line in whole.log]
        assert [m.text for m in split.messages] == [m.text for m in whole.messages]


def test_cross_stage_runs_on_the_build_platform() -> None:
    progress = parse("cross-stage.rawjson", [AMD64, ARM64])
    arm = progress.lanes[ARM64]
    cross = [s for s in arm.steps if s.build_platform is not None]
    assert len(cross) == 1
    step = cross[0]
    assert step.raw_name.startswith("[linux/amd64->arm64 build 2/2] RUN")
    assert step.platform == ARM64
    assert step.build_platform == AMD64
    assert step.stage == "build"
    assert (step.index, step.total) == (2, 2)
    assert not step.emulated  # it runs natively on amd64 for the arm64 image
    assert [line.text for line in progress.log.lines_of(step)] == []
    stages = {s.stage for s in arm.steps}
    assert stages == {"internal", "stage-1", "build"}
    final = next(s for s in arm.steps if s.label.startswith("[stage-1 3/3] RUN cat /out"))
    assert final.emulated
    assert [line.text for line in progress.log.lines_of(final)] == [
        "built for arm64 on x86_64",
        "aarch64",
    ]
    assert progress.result is not None
    assert progress.result.ok


def test_cached_rebuild() -> None:
    progress = parse("cached-rebuild.rawjson", THREE)
    for lane in progress.lanes.values():
        numbered = [s for s in lane.steps if s.index is not None and s.index > 1]
        assert [s.state for s in numbered] == [P.StepState.CACHED] * 3
        assert all(s.cached and s.log_line_count == 0 for s in numbered)
        assert lane.ok
    summary = progress.summary()
    steps = summary["platforms"]["linux/arm64"]["steps"]
    assert [s["cached"] for s in steps] == [False, False, True, True, True]
    assert not P.emulation_insight(progress)  # nothing ran: nothing to compare


def test_stale_times_of_cached_steps_do_not_stretch_the_build() -> None:
    # The cached FROM vertices keep the timestamps of the build that filled the cache, 110 s
    # before this 61.9 s build (wall time measured by the Builds view).
    gz = gzip.decompress(load("stale-cached-from.rawjson.gz"))
    progress = P.parse_bytes(gz, THREE, native=AMD64)
    from_steps = [s for s in progress.steps.values() if s.cached and "FROM" in s.name]
    assert from_steps
    assert min(s.started or 0 for s in from_steps) < (progress.started or 0) - 100
    assert progress.duration_s is not None
    assert 55 < progress.duration_s < 62
    for lane in progress.lanes.values():
        assert lane.duration_s is not None
        assert lane.duration_s < 62


def test_emulation_insight_pairs_native_and_emulated_steps() -> None:
    progress = parse("multi-platform.rawjson", THREE)
    costs = P.emulation_insight(progress, min_native_s=0.0)
    assert costs
    assert {c.emulated.platform for c in costs} == {ARM64, ARMV7}
    assert all(c.native.platform == AMD64 for c in costs)
    assert costs == sorted(costs, key=lambda c: c.extra_s, reverse=True)
    for cost in costs:
        assert cost.label == cost.native.label
        assert cost.ratio == pytest.approx(
            (cost.emulated.duration_s or 0) / (cost.native.duration_s or 1)
        )
    assert any(c.cross_compile_hint for c in costs)


def test_events_rebuild_the_model_in_order() -> None:
    """A view that applies only the events ends up with the model's rows, in order."""
    parser = P.ProgressParser(THREE, native=AMD64)
    data = load("fail-arm64.rawjson")
    events: list[P.ProgressEvent] = []
    for i in range(0, len(data), 997):
        events += parser.feed(data[i : i + 997])
    events += parser.close(1)
    rows: dict[object, list[P.Step]] = {}
    lanes_seen: list[Platform] = []
    log_next = 0
    changed: set[P.Step] = set()
    for ev in events:
        if isinstance(ev, P.LaneAdded):
            lanes_seen.append(ev.lane.platform)
            rows[ev.lane.platform] = []
        elif isinstance(ev, P.StepAdded):
            key = ev.lane.platform if ev.lane is not None else None
            assert ev.lane is None or key in rows
            rows.setdefault(key, []).insert(ev.row, ev.step)
        elif isinstance(ev, P.StepLogs):
            assert ev.first == log_next
            log_next += ev.count
            assert ev.step.log_indexes[-1] == log_next - 1
        elif isinstance(ev, P.StepChanged):
            changed.add(ev.step)
    assert lanes_seen == THREE
    for platform, lane in parser.progress.lanes.items():
        assert rows[platform] == lane.steps
    assert rows[None] == parser.progress.shared
    assert log_next == len(parser.progress.log)
    assert isinstance(events[-1], P.BuildFinished)
    assert not events[-1].result.ok
    assert parser.progress.failed_steps[0] in changed
    assert parser.close() == []  # closing twice is harmless
    assert parser.feed(b"{}\n") == []


def test_text_and_junk_never_crash() -> None:
    data = load("multi-platform.rawjson")
    junk = (
        b"WARNING: something odd\n{ not json\n"
        + b'{\n  "broken": \n}\n'
        + b'[1, 2]\n{"vertexes": 5}\n'
        + data[: len(data) // 2]
        + b"\xff\xfe garbage bytes\n"
    )
    parser = P.ProgressParser(THREE, native=AMD64)
    parser.feed(junk)
    events = parser.close()
    progress = parser.progress
    texts = [m.text for m in progress.messages]
    assert texts[0] == "WARNING: something odd"
    assert any(t.startswith("mabgui: skipped an unreadable progress value") for t in texts)
    assert progress.messages[0].level == "warning"
    assert "{ not json" in texts
    assert progress.steps  # the valid part was folded
    # Cut in the middle: steps still running, so the replay is not a success.
    assert progress.result is not None
    assert not progress.result.ok
    assert isinstance(events[-1], P.BuildFinished)


def test_truncated_value_at_end_is_kept_as_text() -> None:
    data = load("multi-platform.rawjson")
    cut = data[: data.index(b'"vertexes"', 2000) + 120]
    progress = P.parse_bytes(cut, THREE, native=AMD64)
    texts = [m.text for m in progress.messages]
    assert texts[:2] == ["{", '  "vertexes": [']  # the unfinished value's lines, as text
    assert progress.result is not None
    assert not progress.result.ok


@pytest.mark.parametrize(
    ("raw", "platform", "build", "stage", "index", "total", "name"),
    [
        ("[linux/arm64 3/31] RUN make", "linux/arm64", None, "", 3, 31, "RUN make"),
        ("[linux/arm64  3/31] RUN make", "linux/arm64", None, "", 3, 31, "RUN make"),
        ("[linux/arm/v7 builder 2/5] COPY . .", "linux/arm/v7", None, "builder", 2, 5, "COPY . ."),
        ("[linux/amd64->arm64 build 3/4] RUN go build", "linux/arm64", "linux/amd64", "build", 3,
         4, "RUN go build"),
        ("[linux/amd64->arm/v7 build 1/2] FROM x", "linux/arm/v7", "linux/amd64", "build", 1, 2,
         "FROM x"),
        ("[linux/arm64 internal] load metadata for x", "linux/arm64", None, "internal", None, None,
         "load metadata for x"),
        ("[internal] load .dockerignore", None, None, "internal", None, None, "load .dockerignore"),
        ("[2/3] RUN true", None, None, "", 2, 3, "RUN true"),
        ("[stage-1 2/3] COPY a b", None, None, "stage-1", 2, 3, "COPY a b"),
        ("exporting to image", None, None, "", None, None, "exporting to image"),
        ("[auth] library/busybox:pull token", None, None, "auth", None, None,
         "library/busybox:pull token"),
    ],
)  # fmt: skip
def test_parse_step_name(
    raw: str,
    platform: str | None,
    build: str | None,
    stage: str,
    index: int | None,
    total: int | None,
    name: str,
) -> None:
    parsed = P.parse_step_name(raw)
    assert (str(parsed.platform) if parsed.platform else None) == platform
    assert (str(parsed.build_platform) if parsed.build_platform else None) == build
    assert (parsed.stage, parsed.index, parsed.total, parsed.name) == (stage, index, total, name)


def test_unprefixed_steps_of_a_single_platform_build_go_to_its_lane() -> None:
    # The fixture's names carry platforms; strip them to get what a 1-platform build prints.
    data = load("multi-platform.rawjson").replace(b"[linux/arm64 ", b"[")
    progress = P.parse_bytes(data, [ARM64], native=AMD64)
    lane = progress.lanes[ARM64]
    assert any(s.label.startswith("[3/4] RUN") for s in lane.steps)


@pytest.mark.parametrize(
    "text",
    ["2026-11-29T16:22:33.0015199Z", "2026-11-29T16:22:33.140561462Z", "2026-11-29T16:22:33Z",
     "2026-11-29T17:22:33.5+01:00"],
)  # fmt: skip
def test_timestamps(text: str) -> None:
    expected = datetime.fromisoformat(text).timestamp()
    assert P.parse_timestamp(text) == pytest.approx(expected, abs=1e-6)


def test_step_state_and_intervals_from_repeated_vertices() -> None:
    progress = parse("multi-platform.rawjson", THREE)
    load_def = progress.shared[0]
    # BuildKit sends it completed, then started again, then completed: two intervals.
    assert len(load_def.intervals) == 2
    assert load_def.duration_s == pytest.approx(
        sum(end - start for start, end in load_def.intervals if end is not None)
    )
    assert load_def.elapsed_s(0.0) == pytest.approx(load_def.duration_s)
    assert load_def.statuses
    status = next(iter(load_def.statuses.values()))
    assert status.name == "transferring"
    assert status.completed is not None


def test_partial_lines_carriage_returns_and_interleaved_streams() -> None:
    """BuildKit sends output as written: lines split over entries, \\r redraws, mixed streams."""
    progress = P.parse_bytes(load("partial-lines.rawjson"), [AMD64], native=AMD64)
    lane = progress.lanes[AMD64]
    run = next(s for s in lane.steps if s.name.startswith("RUN"))
    lines = [(line.stream, line.text) for line in progress.log.lines_of(run)]
    # stdout and stderr reach BuildKit through separate pipes: each keeps its own partial line.
    assert lines == [
        (P.STDOUT, "no newline yet ... done"),
        (P.STDOUT, "progress 100%"),  # "progress 10%\r" + "progress 100%\n"
        (P.STDOUT, ""),
        (P.STDOUT, "last words without newline"),  # flushed when the step completed
        (P.STDERR, "to stderr, unterminated"),
    ]
    # A single-platform build has no platform prefix: its steps go to the requested lane.
    assert [s.label.split(" ")[0] for s in lane.steps] == ["[1/2]", "[2/2]"]
    assert progress.summary()["platforms"]["linux/amd64"]["steps"][1]["log_lines"] == 5


# --- native platforms: from the builder, never from this machine --------------------------------

BENCH = FIXTURES.parent.parent / "bench" / "data" / "progress-3x30x200.rawjson.gz"


def test_native_platforms_come_from_the_caller() -> None:
    data = gzip.decompress(BENCH.read_bytes())
    one = P.parse_bytes(data, THREE, native=ARM64)
    assert one.natives == (ARM64,)
    assert not one.native_assumed
    assert {p for p, lane in one.lanes.items() if lane.emulated} == {AMD64, ARMV7}
    two = P.parse_bytes(data, THREE, native=[AMD64, ARM64])  # a builder with two nodes
    assert {p for p, lane in two.lanes.items() if lane.emulated} == {ARMV7}
    assert all(not s.emulated for s in two.lanes[ARM64].steps)


def test_unknown_natives_are_assumed_and_said() -> None:
    data = gzip.decompress(BENCH.read_bytes())
    progress = P.parse_bytes(data)  # a recording from elsewhere: nobody said
    assert progress.native_assumed
    assert progress.natives == (AMD64,)  # the lane that ran the common steps fastest
    assert {p for p, lane in progress.lanes.items() if lane.emulated} == {ARM64, ARMV7}
    # A failed build has no step that every lane finished: the first lane stays assumed.
    failed = P.parse_bytes(load("fail-arm64.rawjson"))
    assert failed.natives == (next(iter(failed.lanes)),)


def test_set_native_marks_lanes_and_steps_again() -> None:
    parser = P.ProgressParser(THREE)
    assert parser.progress.native_assumed
    parser.feed(load("multi-platform.rawjson"))
    parser.set_native(ARM64)
    events = parser.feed(b"")
    assert not parser.progress.native_assumed
    assert {p for p, lane in parser.progress.lanes.items() if lane.emulated} == {AMD64, ARMV7}
    changed = {e.step.platform for e in events if isinstance(e, P.StepChanged)}
    assert changed == {AMD64, ARM64}  # steps whose flag flipped are redrawn

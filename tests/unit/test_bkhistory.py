"""BuildKit history: parsers over recorded buildx 0.30.1 output, bundles, merge, compare."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest

from mabgui.core.build import bkcompare, bkhistory, bkstatus, bundle, history
from mabgui.core.build import bkhistory_parse as P
from mabgui.core.platform import Platform
from mabgui.core.progress import ProgressParser, parse_bytes

FIX = Path(__file__).parents[1] / "fixtures" / "bkhistory"
THREE = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def _read(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def _lanes(progress: object) -> dict[str, list[str]]:
    return {str(p): [s.label for s in lane.steps] for p, lane in progress.lanes.items()}  # type: ignore[attr-defined]


# --- capabilities --------------------------------------------------------------------------


def test_capabilities_of_0_30_1_and_0_13_1() -> None:
    new = P.parse_capabilities(
        _read("history-help.0.30.1.txt"), _read("history-ls-help.0.30.1.txt"), "v0.30.1"
    )
    assert new.history
    assert new.history_json
    assert new.export
    assert new.remove
    assert new.note == ""
    old = P.parse_capabilities(_read("history-help.0.13.1.txt"), "", "0.13.1+ds1")
    assert not old.history
    assert not old.export
    assert "added in buildx v0.20.0" in old.note
    assert "mabgui's own builds only" in old.note


# --- ls / inspect --------------------------------------------------------------------------


def test_parse_ls() -> None:
    records = P.parse_ls(_read("ls.json"))
    assert len(records) >= 2
    fail, ok = records[0], records[1]
    assert fail.name == "fail"
    assert fail.status == "failed"
    assert fail.builder == "default"
    assert fail.source == "buildkit"
    assert fail.build_id == "pzve9pk6b8hpinxzhq14dkwov"
    assert fail.node == "default"
    assert ok.status == "completed"
    assert ok.steps == 22
    assert ok.cached_steps == 3
    assert ok.duration_s == pytest.approx(1.322, abs=0.01)
    assert ok.started is not None
    assert fail.started is not None
    assert fail.started > ok.started
    assert P.parse_ls("") == []
    with pytest.raises(ValueError, match="Expecting property name"):
        P.parse_ls("{not json")


def test_parse_inspect_ok_and_failed() -> None:
    ok = P.parse_inspect(_read("ok.inspect.json"))
    assert ok.platforms == tuple(THREE)
    assert ok.status == "completed"
    assert ok.duration_s == pytest.approx(1.3225, abs=0.001)
    (material,) = ok.materials
    assert material.image == (
        "127.0.0.1:5000/busybox@sha256:07704030d1e67eeb54267e249e21f7b0c456ca8d395a07be4eba6f155080e139"
    )
    assert material.platform == "linux/amd64"
    kinds = {(a["platform"], a["type"]) for a in ok.attachments}
    assert ("", "application/vnd.oci.image.index.v1+json") in kinds
    assert ("linux/arm64", "https://slsa.dev/provenance/v0.2") in kinds
    failed = P.parse_inspect(_read("fail.inspect.json"))
    assert failed.status == "failed"
    assert "exit code: 3" in failed.error
    assert failed.materials == ()
    with pytest.raises(ValueError, match="not print a JSON object"):
        P.parse_inspect("[]")


def test_material_image_without_digest() -> None:
    m = P.Material("pkg:docker/alpine@3.20?platform=linux%2Farm64", ())
    assert m.image == "alpine:3.20"
    assert P.Material("pkg:git/github.com/x", ()).image == ""


def test_logs_replay_matches_the_live_stream() -> None:
    """`history logs --progress rawjson` gives the same lanes as the live rawjson."""
    for name in ("ok", "fail"):
        live = parse_bytes((FIX / f"{name}.build.rawjson").read_bytes())
        replay = parse_bytes((FIX / f"{name}.logs.rawjson").read_bytes())
        assert _lanes(replay) == _lanes(live)
    failed = parse_bytes((FIX / "fail.logs.rawjson").read_bytes())
    arm = failed.lanes[Platform.parse("linux/arm64")]
    assert arm.failed_step is not None
    assert "RUN if" in arm.failed_step.label


# --- the status stream and bundles ---------------------------------------------------------


@pytest.mark.parametrize("name", ["ok", "fail"])
def test_bundle_opens_with_the_same_lanes(name: str) -> None:
    (rec,) = bundle.open_bundle(FIX / f"{name}.dockerbuild")
    assert rec.name == name
    logs = parse_bytes((FIX / f"{name}.logs.rawjson").read_bytes())
    assert _lanes(rec.progress) == _lanes(logs)
    assert [s.label for s in rec.progress.shared] == [s.label for s in logs.shared]
    assert rec.status_messages >= 1
    assert rec.trace_bytes > 0
    assert rec.progress.result is not None
    assert rec.progress.result.ok is (name == "ok")


def test_bundle_ok_has_index_and_provenance() -> None:
    (rec,) = bundle.open_bundle(FIX / "ok.dockerbuild")
    assert rec.index is not None
    assert {p.get("platform") for p in rec.provenance} == set(THREE)
    assert rec.progress.result is not None
    assert rec.progress.result.digest.startswith("sha256:98e3e15c")
    assert rec.progress.result.duration_s == pytest.approx(1.3225, abs=0.001)


def test_failed_bundle_names_the_failing_step() -> None:
    (rec,) = bundle.open_bundle(FIX / "fail.dockerbuild")
    arm = rec.progress.lanes[Platform.parse("linux/arm64")]
    assert arm.failed_step is not None
    assert "exit code: 3" in arm.failed_step.error
    assert rec.progress.result is not None
    assert "exit code: 3" in rec.progress.result.error


def test_status_roundtrip_through_protobuf() -> None:
    data = bkstatus.encode(
        [
            {
                "vertexes": [
                    {"digest": "sha256:a", "name": "[linux/arm64 1/1] RUN x", "started": 10.5}
                ]
            },
            {"logs": [{"vertex": "sha256:a", "msg": b"hello\n"}]},
            {
                "vertexes": [
                    {
                        "digest": "sha256:a",
                        "name": "[linux/arm64 1/1] RUN x",
                        "started": 10.5,
                        "completed": 12.25,
                    }
                ]
            },
        ]
    )
    parser = ProgressParser()
    for status in bkstatus.status_dicts(data):
        parser.fold(status, [])
    parser.close()
    step = parser.progress.steps["sha256:a"]
    assert step.duration_s == pytest.approx(1.75)
    assert [line.text for line in parser.progress.log.lines_of(step)] == ["hello"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x00", "inside a length prefix"),
        (struct.pack("<I", 100) + b"abc", "runs past its end"),
        (struct.pack("<I", bkstatus.MAX_MESSAGE + 1), "limit"),
        (struct.pack("<I", 3) + b"\x0a\xff\xff", "not a BuildKit StatusResponse"),
    ],
)
def test_hostile_status_streams(data: bytes, match: str) -> None:
    with pytest.raises(bkstatus.StatusStreamError, match=match):
        list(bkstatus.status_dicts(data))


def _layout(
    manifest: dict[str, object] | None, record: bytes = b"{}", extra: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    members: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    if manifest is not None:
        body = json.dumps(manifest).encode()
        members["blobs/sha256/" + "a" * 64] = body
        members["index.json"] = json.dumps(
            {"manifests": [{"digest": "sha256:" + "a" * 64}]}
        ).encode()
    members["blobs/sha256/" + "b" * 64] = record
    members.update(extra or {})
    return members


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"not gzip at all", "not a .dockerbuild bundle"),
        (gzip.compress(b"\x00" * 10), "not a .dockerbuild bundle"),
        (bundle.write_bundle_bytes({"oci-layout": b"{}"}), "no index.json"),
        (
            bundle.write_bundle_bytes(_layout({"config": {"mediaType": "application/x"}})),
            "not a BuildKit history record",
        ),
        (
            bundle.write_bundle_bytes(
                _layout(
                    {"config": {"mediaType": bundle.RECORD_TYPE, "digest": "sha256:" + "c" * 64}}
                )
            ),
            "lacks blob",
        ),
        (
            bundle.write_bundle_bytes(
                _layout({"config": {"mediaType": bundle.RECORD_TYPE, "digest": "../../etc"}})
            ),
            "no valid digest",
        ),
        (
            bundle.write_bundle_bytes(
                _layout(
                    {"config": {"mediaType": bundle.RECORD_TYPE, "digest": "sha256:" + "b" * 64}},
                    b"[1]",
                )
            ),
            "not a JSON object",
        ),
        (
            bundle.write_bundle_bytes(
                _layout(
                    {
                        "config": {"mediaType": bundle.RECORD_TYPE, "digest": "sha256:" + "b" * 64},
                        "layers": [
                            {"mediaType": bkstatus.MEDIA_TYPE, "digest": "sha256:" + "d" * 64}
                        ],
                    },
                    extra={"blobs/sha256/" + "d" * 64: struct.pack("<I", 99)},
                )
            ),
            "runs past its end",
        ),
    ],
)
def test_hostile_bundles(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "x.dockerbuild"
    path.write_bytes(content)
    with pytest.raises(bundle.BundleError, match=match):
        bundle.open_bundle(path)


def test_bundle_size_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.dockerbuild"
    path.write_bytes(bundle.write_bundle_bytes({"index.json": b"x" * 2000}))
    monkeypatch.setattr(bundle, "MAX_BLOB", 1000)
    with pytest.raises(bundle.BundleError, match="limit"):
        bundle.open_bundle(path)
    monkeypatch.setattr(bundle, "MAX_FILE", 10)
    with pytest.raises(bundle.BundleError, match="refused"):
        bundle.open_bundle(path)
    with pytest.raises(bundle.BundleError, match="does not exist"):
        bundle.open_bundle(tmp_path / "missing.dockerbuild")
    with pytest.raises(bundle.BundleError, match="directory"):
        bundle.open_bundle(tmp_path)


# --- merge with mabgui's own records -------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _save_own(started: float, ref: str = "") -> history.HistoryEntry:
    from mabgui.core.build import BuildSpec

    raw = (FIX / "ok.build.rawjson").read_bytes()
    parser = ProgressParser([Platform.parse(p) for p in THREE])
    parser.feed(raw)
    parser.close(0)
    spec = BuildSpec(context="/tmp/h12/ok", platforms=[Platform.parse(p) for p in THREE])
    entry = history.save(spec, parser.progress, gzip.compress(raw), started=started)
    bkhistory.store_ref(entry.path, ref)
    return entry


def test_merge_matches_by_ref_newest_first(data_dir: Path) -> None:
    bk = P.parse_ls(_read("ls.json"))
    ok_ref = "default/default/30k2lviieooujcrtn2fuefbno"
    matched = _save_own(1796160488.0, ok_ref)
    alone = _save_own(1896160488.0)
    assert bkhistory.entry_ref(matched) == ok_ref
    own = [(e, bkhistory.entry_ref(e)) for e in history.list_entries()]
    merged = P.merge(bk, own)
    assert len(merged) == len(bk) + 1
    assert merged[0].source == "mabgui"
    assert merged[0].mabgui_id == alone.id
    assert merged[0].platforms == tuple(THREE)
    assert merged[0].steps is not None
    assert merged[0].steps > 0
    (ok,) = [r for r in merged if r.ref == ok_ref]
    assert ok.source == "buildkit"
    assert ok.mabgui_id == matched.id
    starts = [r.started or 0 for r in merged]
    assert starts == sorted(starts, reverse=True)
    keys = set(merged[0].to_json())
    assert {
        "ref",
        "name",
        "status",
        "builder",
        "source",
        "platforms",
        "started",
        "duration_s",
        "steps",
        "cached_steps",
    } <= keys


def test_metadata_ref(tmp_path: Path) -> None:
    assert bkhistory.metadata_ref(str(FIX / "ok.metadata.json")) == (
        "default/default/30k2lviieooujcrtn2fuefbno"
    )
    assert bkhistory.metadata_ref(str(tmp_path / "none.json")) == ""


# --- compare and trend ---------------------------------------------------------------------


def test_compare_finds_the_slower_platform() -> None:
    a = parse_bytes((FIX / "ok.build.rawjson").read_bytes())
    b = parse_bytes((FIX / "ok.build.rawjson").read_bytes())
    arm = b.lanes[Platform.parse("linux/arm64")]
    step = arm.steps[-1]
    start, end = step.intervals[-1]
    assert end is not None
    step.intervals[-1] = (start, end + 5.0)  # the arm64 lane's last step took 5 s longer
    result = bkcompare.compare(a, b)
    assert result.slower == ["linux/arm64"]
    (arm_diff,) = [p for p in result.platforms if p.platform == "linux/arm64"]
    assert arm_diff.delta_s == pytest.approx(5.0, abs=0.01)
    (changed,) = [s for s in arm_diff.steps if s.delta_s and abs(s.delta_s) > 1]
    assert changed.label == step.label
    assert result.to_json()["slower_platforms"] == ["linux/arm64"]


def test_compare_cache_changes_and_trend() -> None:
    a = parse_bytes((FIX / "ok.build.rawjson").read_bytes())
    b = parse_bytes((FIX / "ok.logs.rawjson").read_bytes())
    step = next(iter(b.lanes.values())).steps[-1]
    step.cached = not step.cached
    result = bkcompare.compare(a, b)
    changes = [s.cache_change for p in result.platforms for s in p.steps if s.cache_change]
    assert changes
    assert set(changes) <= {"lost", "gained"}
    points = bkcompare.trend([("r2", 20.0, b), ("r1", 10.0, a)])
    assert [p.ref for p in points] == ["r1", "r2"]
    assert set(points[0].platforms) == set(THREE)


# --- paging past buildx's 50-record `history ls` -------------------------------------------


def _fake_builder(
    monkeypatch: pytest.MonkeyPatch,
    data: Path,
    starts: list[float],
    rounds: list[int] | None = None,
) -> list[float | None]:
    """A stand-in for `history ls` over records started at ``starts``: as BuildKit does, the
    newest 50 that match ``startedAt<T`` (whole seconds). ``rounds`` gets how many pages were
    in flight at each answer's start of a round (pages asked together)."""
    monkeypatch.setenv("MABGUI_DATA_DIR", str(data))  # the listing keeps a hint there
    records = [
        P.Record(ref=f"b/n/r{i}", name="x", status="completed", builder="b", source="buildkit",
                 started=s)
        for i, s in enumerate(starts)
    ]  # fmt: skip
    asked: list[float | None] = []

    in_flight = [0]

    async def page(builder: str | None, before: float | None) -> list[P.Record]:
        import asyncio

        asked.append(before)
        in_flight[0] += 1
        if rounds is not None and in_flight[0] == 1:
            rounds.append(len(asked))
        await asyncio.sleep(0)  # pages asked together are all in flight here
        in_flight[0] -= 1
        match = [r for r in records if before is None or int(r.started or 0) < before]
        match.sort(key=lambda r: r.started or 0.0, reverse=True)
        return match[: P.LS_PAGE]

    monkeypatch.setattr(bkhistory, "_ls_page", page)
    return asked


def test_list_pages_past_fifty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import asyncio

    starts = [1_800_000_000 + i * 0.3 for i in range(173)]  # ~3 records a second
    asked = _fake_builder(monkeypatch, tmp_path, starts)
    records = asyncio.run(bkhistory.list_buildkit("b"))
    assert len(records) == 173
    assert len({r.ref for r in records}) == 173
    assert [r.started for r in records] == sorted(starts, reverse=True)
    assert asked[0] is None
    assert len(asked) <= 12
    first = asyncio.run(bkhistory.list_buildkit("b", pages=1))
    assert len(first) == P.LS_PAGE
    limited = asyncio.run(bkhistory.list_buildkit("b", max_records=60))
    assert len(limited) == 60


def test_list_asks_pages_together_and_reuses_where_they_began(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Pages run concurrently (a few rounds, not one page after another); the next listing
    knows where pages begin (the last listing's start seconds) and asks them all at once."""
    import asyncio

    starts = [1_800_000_000 + i * 0.07 for i in range(501)]  # ~14 a second, as a bake loop
    rounds: list[int] = []
    asked = _fake_builder(monkeypatch, tmp_path, starts, rounds)
    records = asyncio.run(bkhistory.list_buildkit("b"))
    assert [r.started for r in records] == sorted(starts, reverse=True)
    assert 1 < len(rounds) <= 5  # cold: the first page, then rounds of guessed pages
    rounds.clear()
    asked.clear()
    again = asyncio.run(bkhistory.list_buildkit("b"))
    assert [r.ref for r in again] == [r.ref for r in records]
    # warm: no page waits for another's answer, only for a free slot (8 processes at a time)
    assert len(asked) <= 12
    assert len(rounds) == -(-len(asked) // bkhistory.LS_CONCURRENCY)
    # 120 newer builds and the 30 oldest gone (BuildKit's limits): the hint is stale, the
    # listing still complete.
    changed = starts[30:] + [1_800_000_100 + i * 0.07 for i in range(120)]
    rounds.clear()
    _fake_builder(monkeypatch, tmp_path, changed, rounds)
    later = asyncio.run(bkhistory.list_buildkit("b"))
    assert [r.started for r in later] == sorted(changed, reverse=True)
    assert len(rounds) <= 3


def test_list_skips_a_second_with_over_a_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import asyncio

    burst = [1_800_000_100 + i / 100 for i in range(70)]  # 70 records inside one second
    older: list[float] = [1_800_000_000 + i for i in range(20)]
    _fake_builder(monkeypatch, tmp_path, burst + older)
    records = asyncio.run(bkhistory.list_buildkit("b"))
    assert len(records) == 50 + 20  # the 20 oldest of the burst second cannot be reached
    assert P.rfc3339_seconds(1_800_000_100.7) == "2027-01-15T08:01:40Z"


def test_parse_builders_skips_stopped_ones() -> None:
    text = "\n".join(
        json.dumps(b)
        for b in (
            {"Name": "default", "Nodes": [{"Name": "default", "Status": "running"}]},
            {"Name": "stopped", "Nodes": [{"Name": "stopped0", "Status": "inactive"}]},
            {"Name": "twonodes", "Nodes": [{"Status": "inactive"}, {"Status": "running"}]},
        )
    )
    assert P.parse_builders(text) == ["default", "twonodes"]
    assert P.parse_builders(text, running_only=False) == ["default", "stopped", "twonodes"]


def test_merge_matches_a_failed_mabgui_build_by_name_and_time(data_dir: Path) -> None:
    """buildx writes no metadata file when a build fails: no ref to match by."""
    bk = P.parse_ls(_read("ls.json"))
    ok = next(r for r in bk if r.name == "ok")
    assert ok.started is not None
    own = _save_own(ok.started - 0.8)  # mabgui started buildx 0.8 s before BuildKit's record
    far = _save_own(ok.started - 600)  # another "ok" build, long before: its own row
    merged = P.merge(bk, [(own, ""), (far, "")])
    (matched,) = [r for r in merged if r.ref == ok.ref]
    assert matched.mabgui_id == own.id
    assert [r.mabgui_id for r in merged if r.source == "mabgui"] == [far.id]


def test_bundle_details_and_materials() -> None:
    (rec,) = bundle.open_bundle(FIX / "ok.dockerbuild")
    details = rec.details()
    inspected = P.parse_inspect(_read("ok.inspect.json"))
    assert details.platforms == inspected.platforms
    assert details.steps == inspected.steps
    assert details.cached_steps == inspected.cached_steps
    assert details.dockerfile == "Dockerfile"
    assert {m.image for m in rec.materials} == {m.image for m in inspected.materials}
    assert {m.platform for m in rec.materials} == set(THREE)
    (failed,) = bundle.open_bundle(FIX / "fail.dockerbuild")
    assert failed.details().status == "failed"
    assert "exit code: 3" in failed.details().error

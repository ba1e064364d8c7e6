"""Per-platform builds (mabgui.core.perplatform) over recorded buildx outputs.

The sub-builds replay rawjson streams recorded from buildx 0.30.1 on a docker-container builder
(``tests/fixtures/perplatform``: an amd64 build that pushed by digest, an arm64 build whose
``RUN [ "$(uname -m)" != aarch64 ]`` failed); the registry side is a recording join.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mabgui.cli.main import main
from mabgui.core.build import BuildError, BuildSpec, OutputKind, Validation, check_spec
from mabgui.core.errors import MabguiError
from mabgui.core.perplatform import (
    IndexInfo,
    PerPlatformError,
    PerPlatformRun,
    SubResult,
    sub_spec,
)
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildFinished, StepState
from mabgui.core.progress.merge import LaneMerger, tag_value

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "perplatform"
AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
ARMV7 = Platform.parse("linux/arm/v7")
TARGET = "127.0.0.1:5000/app:1"
D_AMD = "sha256:" + "a" * 64
D_ARM = "sha256:" + "b" * 64
D_V7 = "sha256:" + "c" * 64
D_INDEX = "sha256:" + "d" * 64

OK = (FIXTURES / "ok-amd64.rawjson").read_bytes()
FAIL = (FIXTURES / "fail-arm64.rawjson").read_bytes()


def spec(*platforms: Platform, tags: tuple[str, ...] = (TARGET,)) -> BuildSpec:
    return BuildSpec(
        context=".", platforms=list(platforms), tags=list(tags),
        output=OutputKind.PUSH, per_platform=True,
    )  # fmt: skip


class Recorded:
    """Sub-builds that replay a recorded stream per platform, in small chunks."""

    def __init__(self, outcomes: dict[Platform, tuple[bytes, int, str]]) -> None:
        self.outcomes = outcomes
        self.specs: list[BuildSpec] = []
        self.running = 0
        self.most = 0

    async def __call__(self, sub: BuildSpec, sink: object) -> SubResult:
        assert callable(sink)
        self.specs.append(sub)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            data, code, digest = self.outcomes[sub.platforms[0]]
            for i in range(0, len(data), 700):
                sink(data[i : i + 700])
                await asyncio.sleep(0)
            error = "" if code == 0 else "failed to solve: exit code: 1"
            return SubResult(code, digest if code == 0 else "", error)
        finally:
            self.running -= 1


class Join:
    def __init__(self, fail: MabguiError | None = None) -> None:
        self.calls: list[tuple[str, list[tuple[Platform, str]], bool, str]] = []
        self.fail = fail

    async def __call__(
        self, target: str, images: list[tuple[Platform, str]], append: bool, previous: str
    ) -> IndexInfo:
        self.calls.append((target, images, append, previous))
        if self.fail is not None:
            raise self.fail
        op = "append" if append else "create"
        have = ["linux/amd64"] if append else []
        added = [str(p) for p, _ in images]
        return IndexInfo(target, D_INDEX, have + added, op, previous, added)


async def lookup_absent(target: str) -> str:
    return ""


# --- naming apart and merging ---------------------------------------------------------------


def test_tag_value_puts_each_step_in_its_platform_lane_and_keeps_builds_apart() -> None:
    value = {
        "vertexes": [
            {"digest": "sha256:1", "inputs": ["sha256:0"], "name": "[2/3] RUN x"},
            {"digest": "sha256:2", "name": "[internal] load .dockerignore"},
            {"digest": "sha256:3", "name": "exporting to image"},
            {"digest": "sha256:4", "name": "[linux/amd64->arm64 tools 1/2] RUN y"},
        ],
        "statuses": [{"vertex": "sha256:1", "id": "s"}],
        "logs": [{"vertex": "sha256:1", "data": ""}],
    }
    out = tag_value(value, ARM64)
    names = [v["name"] for v in out["vertexes"]]
    assert names == [
        "[linux/arm64 2/3] RUN x",
        "[linux/arm64 internal] load .dockerignore",
        "[linux/arm64] exporting to image",
        "[linux/amd64->arm64 tools 1/2] RUN y",  # already names its platform
    ]
    assert out["vertexes"][0]["digest"] == "linux/arm64|sha256:1"
    assert out["vertexes"][0]["inputs"] == ["linux/arm64|sha256:0"]
    assert out["statuses"][0]["vertex"] == out["logs"][0]["vertex"] == "linux/arm64|sha256:1"
    assert value["vertexes"][0]["name"] == "[2/3] RUN x"  # the input is not changed


def test_merger_folds_two_recorded_builds_into_one_lane_each() -> None:
    merger = LaneMerger([AMD64, ARM64], [AMD64])
    for i in range(0, max(len(OK), len(FAIL)), 333):  # interleaved, split anywhere
        merger.feed(AMD64, OK[i : i + 333])
        merger.feed(ARM64, FAIL[i : i + 333])
    merger.end(AMD64)
    merger.end(ARM64)
    merger.take()
    progress = merger.progress
    assert list(progress.lanes) == [AMD64, ARM64]
    amd, arm = progress.lanes[AMD64], progress.lanes[ARM64]
    assert amd.ok
    assert not amd.emulated
    assert arm.emulated
    assert arm.state is StepState.ERROR
    assert arm.failed_step is not None
    assert "aarch64" in arm.failed_step.label
    assert not progress.shared  # every step belongs to the build of one platform
    # the same [internal] step of both builds stays two steps
    assert sum("load build definition" in s.label for s in progress.steps.values()) == 2
    assert progress.error_text.endswith("[linux/arm64]")


# --- the orchestration ------------------------------------------------------------------------


async def test_a_failing_platform_leaves_the_index_of_the_others() -> None:
    subs = Recorded({AMD64: (OK, 0, D_AMD), ARM64: (FAIL, 1, ""), ARMV7: (OK, 0, D_V7)})
    join = Join()
    run = PerPlatformRun(spec(AMD64, ARM64, ARMV7), sub_build=subs, join=join, lookup=lookup_absent)
    batches = []
    result = await run.run(batches.append)
    assert join.calls == [
        (TARGET, [(AMD64, f"127.0.0.1:5000/app@{D_AMD}"), (ARMV7, f"127.0.0.1:5000/app@{D_V7}")],
         False, ""),
    ]  # fmt: skip
    assert result.partial
    assert not result.ok
    doc = result.to_json()
    assert doc["ok"] is False
    assert doc["partial"] is True
    assert doc["index"]["platforms"] == ["linux/amd64", "linux/arm/v7"]
    assert doc["index"]["digest"] == D_INDEX
    assert [f["platform"] for f in doc["failed"]] == ["linux/arm64"]
    assert "aarch64" in doc["failed"][0]["step"]
    assert "linux/arm64" in result.summary()
    assert "linux/arm/v7" in result.summary()
    finished = [e for b in batches for e in b if isinstance(e, BuildFinished)]
    assert len(finished) == 1
    assert not finished[0].result.ok
    assert finished[0].result.digest == D_INDEX
    # each sub-build: one platform, pushed by digest into the tag's repository, untagged
    for sub in subs.specs:
        argv = sub.argv()
        assert sub.tags == []
        assert len(sub.platforms) == 1
        assert ("type=image,name=127.0.0.1:5000/app,push-by-digest=true,name-canonical=true,"
                "push=true") in argv  # fmt: skip
        assert "--push" not in argv
        assert "--tag" not in argv


async def test_all_platforms_ok_is_a_full_success() -> None:
    subs = Recorded({AMD64: (OK, 0, D_AMD), ARMV7: (OK, 0, D_V7)})
    run = PerPlatformRun(spec(AMD64, ARMV7), sub_build=subs, join=Join(), lookup=lookup_absent)
    result = await run.run()
    assert result.ok
    assert not result.partial
    assert result.to_json()["failed"] == []
    assert run.progress.result is not None
    assert run.progress.result.ok


async def test_every_platform_failing_pushes_nothing() -> None:
    join = Join()
    subs = Recorded({ARM64: (FAIL, 1, "")})
    result = await PerPlatformRun(spec(ARM64), sub_build=subs, join=join).run()
    assert join.calls == []
    assert result.index is None
    assert not result.ok
    assert "no index was pushed" in result.summary()


@pytest.mark.parametrize(("jobs", "most"), [(1, 1), (2, 2)])
async def test_concurrency_is_bounded(jobs: int, most: int) -> None:
    subs = Recorded({p: (OK, 0, D_AMD) for p in (AMD64, ARM64, ARMV7)})
    run = PerPlatformRun(spec(AMD64, ARM64, ARMV7), jobs=jobs, sub_build=subs, join=Join())
    await run.run()
    assert subs.most == most
    assert len(subs.specs) == 3


async def test_append_reads_the_tag_before_and_hands_it_to_the_join() -> None:
    join = Join()

    async def lookup(target: str) -> str:
        return D_INDEX

    subs = Recorded({ARM64: (OK, 0, D_ARM)})
    run = PerPlatformRun(spec(ARM64), append=True, sub_build=subs, join=join, lookup=lookup)
    result = await run.run()
    assert join.calls == [(TARGET, [(ARM64, f"127.0.0.1:5000/app@{D_ARM}")], True, D_INDEX)]
    assert result.ok
    assert result.index is not None
    assert result.to_json()["index"]["added"] == ["linux/arm64"]
    assert result.summary().startswith("appended linux/arm64 to")


async def test_append_to_a_missing_index_is_refused_before_any_build() -> None:
    subs = Recorded({})
    run = PerPlatformRun(spec(ARM64), append=True, sub_build=subs, lookup=lookup_absent)
    with pytest.raises(PerPlatformError, match="no index to append to"):
        await run.run()
    assert subs.specs == []


async def test_a_refused_join_is_reported_not_raised() -> None:
    join = Join(fail=MabguiError("the target changed since the preview", hint="preview again"))
    subs = Recorded({ARM64: (OK, 0, D_ARM)})
    result = await PerPlatformRun(spec(ARM64), sub_build=subs, join=join).run()
    assert result.index is None
    assert not result.ok
    assert result.to_json()["index_error"] == "the target changed since the preview"
    assert result.index_hint == "preview again"


async def test_cancel_stops_every_build_and_pushes_nothing() -> None:
    started = asyncio.Event()

    async def forever(sub: BuildSpec, sink: object) -> SubResult:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError

    join = Join()
    run = PerPlatformRun(spec(AMD64, ARM64), sub_build=forever, join=join)
    task = asyncio.ensure_future(run.run())
    await started.wait()
    await run.cancel()
    result = await asyncio.wait_for(task, 10)
    assert result.canceled
    assert join.calls == []
    assert not result.ok
    assert all(o.canceled for o in result.outcomes)


async def test_a_per_platform_build_needs_one_tag() -> None:
    with pytest.raises(PerPlatformError, match="exactly one tag"):
        await PerPlatformRun(spec(AMD64, tags=())).run()
    with pytest.raises(PerPlatformError, match="needs a tag"):
        await PerPlatformRun(spec(AMD64, tags=("127.0.0.1:5000/app@sha256:" + "a" * 64,))).run()
    errors = check_spec(BuildSpec(context=".", per_platform=True)).errors
    assert any("per-platform" in e for e in errors)


async def test_a_refusing_preflight_stops_it_before_any_build() -> None:
    async def refuse(s: BuildSpec) -> Validation:
        return Validation(errors=["builder 'default' uses the docker driver"])

    subs = Recorded({})
    run = PerPlatformRun(spec(AMD64), sub_build=subs, preflight=refuse)
    with pytest.raises(BuildError, match="docker driver"):
        await run.run()
    assert subs.specs == []
    assert run.validation is not None


def test_spec_keeps_per_platform_and_sub_spec_drops_it() -> None:
    s = spec(AMD64, ARM64)
    assert BuildSpec.from_json(s.to_json()).per_platform
    sub = sub_spec(s, ARM64, "127.0.0.1:5000/app")
    assert not sub.per_platform
    assert sub.output is OutputKind.DIGEST
    assert s.tags == [TARGET]


def test_cli_append_needs_per_platform(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", "--append", "-t", TARGET, "--platform", "linux/arm64", "."])
    assert code != 0
    assert "--append goes with --per-platform" in capsys.readouterr().err


def test_merger_keeps_every_log_line_with_its_step() -> None:
    from mabgui.core.progress import parse_bytes

    data = (FIXTURES.parent / "progress" / "fail-arm64.rawjson").read_bytes()
    alone = parse_bytes(data, [AMD64, ARM64])
    assert len(alone.log) > 0
    merger = LaneMerger([ARM64])
    merger.feed(ARM64, data)
    merger.end(ARM64)
    merger.take()
    merged = merger.progress
    assert [merged.log.text(i) for i in range(len(merged.log))] == [
        alone.log.text(i) for i in range(len(alone.log))
    ]

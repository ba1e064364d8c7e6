"""Builds on the real engine: 3-platform push, failure on arm64 only, cancel, refusals, history."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from mabgui.core import build as B
from mabgui.core import preflight
from mabgui.core import progress as P
from mabgui.core.build import history
from mabgui.core.platform import Platform
from tests.conftest import Engine

AMD64, ARM64, ARMV7 = (Platform.parse(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7"))
THREE = [AMD64, ARM64, ARMV7]
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json,"
    "application/vnd.docker.distribution.manifest.list.v2+json"
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("MABGUI_DATA_DIR", str(data))
    return data


def _context(tmp_path: Path, engine: Engine, body: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {engine.base_image}\n{body}\n")
    return ctx


def _repo(engine: Engine) -> str:
    return f"{engine.registry}/mabgui-build-test-{uuid.uuid4().hex[:12]}"


def _index(engine: Engine, repo: str, tag: str) -> tuple[str, dict[str, object]]:
    name = repo.split("/", 1)[1]
    req = urllib.request.Request(
        f"http://{engine.registry}/v2/{name}/manifests/{tag}", headers={"Accept": INDEX_TYPES}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Docker-Content-Digest"], json.loads(resp.read())


def _delete(engine: Engine, repo: str, digest: str) -> None:
    name = repo.split("/", 1)[1]
    req = urllib.request.Request(
        f"http://{engine.registry}/v2/{name}/manifests/{digest}", method="DELETE"
    )
    # The registry may not allow deletes; the repo name is unique anyway.
    with contextlib.suppress(OSError):
        urllib.request.urlopen(req, timeout=10).close()


def _mabgui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mabgui", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **(env or {})},
    )


def test_three_platform_build_pushes_an_index_with_three_lanes(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    ctx = _context(tmp_path, engine, 'RUN echo "built on $(uname -m)" && echo warn >&2')
    repo = _repo(engine)
    spec = B.BuildSpec(
        context=str(ctx), platforms=THREE, tags=[f"{repo}:e2e"], output=B.OutputKind.PUSH,
        no_cache=True,
    )  # fmt: skip
    run = B.BuildRun(spec, preflight=preflight.validate)
    seen_running: set[Platform] = set()
    batches = 0

    async def consume() -> None:
        nonlocal batches
        async for _batch in run.events():
            batches += 1
            for lane in run.progress.lanes.values():
                if lane.state is P.StepState.RUNNING:
                    seen_running.add(lane.platform)

    asyncio.run(consume())
    progress = run.progress
    result = progress.result
    assert result is not None
    assert result.ok, result.error
    assert run.validation is not None
    assert run.validation.native == (AMD64,)  # the default builder's node, from the engine
    # The default builder does not list arm/v7, QEMU builds it: a warning, not a refusal.
    assert any("linux/arm/v7" in w for w in run.validation.warnings)
    assert list(progress.lanes) == THREE
    assert seen_running == set(THREE)  # each lane was seen live while running
    assert batches > 3
    machine = {AMD64: "x86_64", ARM64: "aarch64", ARMV7: "armv7l"}
    for platform, lane in progress.lanes.items():
        assert lane.state is P.StepState.DONE
        assert lane.emulated == (platform != AMD64)
        run_step = next(s for s in lane.steps if s.name.startswith("RUN"))
        lines = [(line.stream, line.text) for line in progress.log.lines_of(run_step)]
        assert (P.STDOUT, f"built on {machine[platform]}") in lines
        assert (P.STDERR, "warn") in lines
    digest, index = _index(engine, repo, "e2e")
    try:
        assert result.digest == digest
        manifests = index["manifests"]
        assert isinstance(manifests, list)
        platforms = {
            Platform.parse(
                "/".join(
                    x
                    for x in (
                        m["platform"]["os"],
                        m["platform"]["architecture"],
                        m["platform"].get("variant", ""),
                    )
                    if x
                )
            )
            for m in manifests
            if m["platform"]["os"] != "unknown"
        }
        assert platforms == set(THREE)
        # Saved in history with the raw stream; reopening shows the same build.
        (entry,) = history.list_entries()
        assert entry.id == run.history_id
        assert entry.digest == digest
        assert entry.platforms == {str(p): "done" for p in THREE}
        reopened = history.load(entry)
        assert reopened.summary() == progress.summary()
    finally:
        _delete(engine, repo, digest)


def test_failure_on_arm64_only_via_cli(engine: Engine, tmp_path: Path, data_dir: Path) -> None:
    ctx = _context(
        tmp_path, engine, 'RUN echo "arch is $(uname -m)" && [ "$(uname -m)" != aarch64 ]'
    )
    record = tmp_path / "stream.rawjson"
    res = _mabgui(
        "build", "--platform", "linux/amd64,linux/arm64", "--no-cache", "--json",
        "--record", str(record), str(ctx),
        env={"MABGUI_DATA_DIR": str(data_dir)},
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert res.stdout.startswith("{"), res.stderr  # it built (and failed), not refused
    summary = json.loads(res.stdout)
    assert summary["ok"] is False
    arm = summary["platforms"]["linux/arm64"]
    amd = summary["platforms"]["linux/amd64"]
    assert arm["ok"] is False
    assert "exit code: 1" in arm["error"]
    failed = [s for s in arm["steps"] if s["state"] == "error"]
    assert len(failed) == 1
    assert failed[0]["name"].startswith('[2/2] RUN echo "arch is $(uname -m)"')
    assert failed[0]["log_lines"] == 1
    # amd64 passed the check (or was canceled when arm64 failed first): never failed.
    assert amd["error"] is None
    assert {s["state"] for s in amd["steps"]} <= {"done", "cached", "canceled"}
    assert "mabgui: error: build failed on linux/arm64 at [2/2] RUN echo" in res.stderr
    assert "arch is aarch64" in res.stderr  # the failing step's log as the hint
    assert "linux/amd64 at" not in res.stderr
    # The recorded stream replays to the same summary and exit code.
    replay = _mabgui("replay", "--json", str(record))
    assert replay.returncode == 1
    assert json.loads(replay.stdout)["platforms"] == summary["platforms"]
    assert len(history.list_entries(root=data_dir / "builds")) == 1


EXECUTOR = Path("/var/lib/docker/buildkit/executor")


def _build_containers(marker: str) -> list[str]:
    """BuildKit's RUN containers (runc bundles of the docker driver) whose command has marker."""
    found = []
    for config in EXECUTOR.glob("*/config.json"):
        try:
            if marker in config.read_text(errors="replace"):
                found.append(config.parent.name)
        except OSError:
            continue
    return found


def _pgrep(pattern: str) -> list[str]:
    res = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
    return [line for line in res.stdout.splitlines() if "pgrep" not in line]


def test_cancel_during_sleep_stops_everything_within_5s(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    marker = f"mabgui-cancel-{uuid.uuid4().hex[:10]}"
    ctx = _context(tmp_path, engine, f"RUN echo {marker} && sleep 60")
    spec = B.BuildSpec(context=str(ctx), platforms=[AMD64], no_cache=True)
    run = B.BuildRun(spec)

    async def scenario() -> float:
        task = asyncio.ensure_future(run.run())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lane = run.progress.lanes[AMD64]
            if any(s.name.startswith("RUN") and s.log_line_count for s in lane.steps):
                break  # the sleep step is running: it printed the marker
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the sleep step never started")
        assert _build_containers(marker), "the RUN container should exist while it runs"
        t0 = time.monotonic()
        await run.cancel()
        await asyncio.wait_for(task, 5)
        return time.monotonic() - t0

    took = asyncio.run(scenario())
    assert took < 5.0
    result = run.progress.result
    assert result is not None
    assert result.canceled
    assert not result.ok
    assert run.pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(run.pid, 0)
    ours = [line for line in _pgrep("buildx build") if str(ctx) in line]
    assert ours == []
    # The RUN container (sleep 60) is gone too: BuildKit cancelled the solve.
    deadline = time.monotonic() + 5
    while _build_containers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _build_containers(marker) == []
    step = next(s for s in run.progress.lanes[AMD64].steps if s.name.startswith("RUN"))
    assert step.state in (P.StepState.CANCELED, P.StepState.ERROR)
    assert history.list_entries()[0].canceled


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/ctx"], "build context '/nonexistent/ctx' does not exist"),
        (["--file", "/nonexistent/Dockerfile", "CTX"], "Dockerfile '/nonexistent/Dockerfile'"),
        (["--platform", "linux/amd64,linux/mips99", "CTX"], "unknown architecture 'mips99'"),
        (["--platform", "amd64", "--builder", "no-such-builder-x", "CTX"],
         "'no-such-builder-x' does not exist (builders: "),
        (["--push", "CTX"], "push needs at least one tag"),
    ],
)  # fmt: skip
def test_invalid_input_is_refused_before_start(
    engine: Engine, tmp_path: Path, data_dir: Path, args: list[str], message: str
) -> None:
    ctx = _context(tmp_path, engine, "RUN true")
    argv = [str(ctx) if a == "CTX" else a for a in args]
    started = time.monotonic()
    res = _mabgui("build", *argv, env={"MABGUI_DATA_DIR": str(data_dir)})
    assert res.returncode == 1
    assert message in res.stderr
    assert time.monotonic() - started < 30
    assert not (data_dir / "builds").exists()  # nothing ran, nothing saved


def test_missing_dockerfile_in_context_is_refused(engine: Engine, tmp_path: Path) -> None:
    spec = B.BuildSpec(context=str(tmp_path), platforms=[AMD64])

    async def go() -> None:
        with pytest.raises(B.BuildError, match=r"Dockerfile .* not found in the build context"):
            async for _ in B.BuildRun(spec, save_history=False).events():
                pass

    asyncio.run(go())


def test_validation_warns_for_platforms_without_emulator_and_accepts_load(
    engine: Engine, tmp_path: Path
) -> None:
    ctx = _context(tmp_path, engine, "RUN true")
    mips = Platform.parse("linux/mips64le")  # parses, but no builder or emulator offers it
    v = asyncio.run(preflight.validate(B.BuildSpec(context=str(ctx), platforms=[AMD64, mips])))
    assert v.ok, v.errors
    (warning,) = [w for w in v.warnings if "linux/mips64le" in w]
    assert "no emulator for it is registered" in warning
    assert "mabgui emulators install mips64le" in warning
    # The engine runs the containerd image store: --load of several platforms is allowed.
    load = B.BuildSpec(context=str(ctx), platforms=[AMD64, ARM64], output=B.OutputKind.LOAD)
    assert asyncio.run(preflight.validate(load)).ok


def test_local_output_writes_one_tree_per_platform(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    ctx = _context(tmp_path, engine, "RUN uname -m > /arch")
    out = tmp_path / "out"
    res = _mabgui(
        "build", "--platform", "linux/amd64,linux/arm64", "--output", f"type=local,dest={out}",
        "--json", str(ctx), env={"MABGUI_DATA_DIR": str(data_dir)},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ok"] is True
    assert (out / "linux_amd64" / "arch").read_text().strip() == "x86_64"
    assert (out / "linux_arm64" / "arch").read_text().strip() == "aarch64"


# --- issue 15: values, killed processes, flags through positionals, odd platforms ---------------


def _every_file(root: Path) -> list[tuple[Path, bytes]]:
    import gzip

    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            found.append((path, data))
    return found


def test_no_build_arg_or_secret_value_reaches_any_file(engine: Engine, tmp_path: Path) -> None:
    """A build with values BuildKit expands into step names and logs: history, --record and
    the log file (all under a fresh HOME) hold none of them."""
    home = tmp_path / "home"
    home.mkdir()
    secret = tmp_path / "token.txt"
    secret.write_text("file-secret-e2e-value")
    values = {"GITHUB_PAT": "ghp_e2evalue0123", "DB_PASSWORD": "pw-e2e-hunter2"}
    ctx = _context(
        tmp_path,
        engine,
        "ARG GITHUB_PAT\nARG DB_PASSWORD\n"
        'RUN echo "pat=$GITHUB_PAT pw=$DB_PASSWORD"\n'
        "RUN --mount=type=secret,id=tok cat /run/secrets/tok",
    )
    record = home / "stream.rawjson"
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "MABGUI_DATA_DIR": str(home / "mabgui-data"),
        "MABGUI_LOG_DIR": str(home / "state" / "mabgui" / "log"),
    }
    build_args = [a for k, v in values.items() for a in ("--build-arg", f"{k}={v}")]
    res = _mabgui(
        "-v", "build", "--no-cache", "--platform", "linux/amd64", *build_args,
        "--secret", f"id=tok,src={secret}", "--record", str(record), "--json", str(ctx),
        env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "RUN echo" in res.stdout  # the summary on stdout is for the user: not stored
    files = _every_file(home)
    names = {p.name for p, _ in files}
    assert {"build.json", "progress.rawjson.gz", "stream.rawjson", "mabgui.log"} <= names
    for path, data in files:
        for value in (*values.values(), "file-secret-e2e-value"):
            assert value.encode() not in data, f"{value!r} in {path}"
    log_text = next(d for p, d in files if p.name == "mabgui.log").decode()
    assert "GITHUB_PAT=***" in log_text
    assert "exit 0 after" in log_text
    log_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("mabgui: INFO")]
    assert log_lines
    assert not [ln for ln in log_lines if values["GITHUB_PAT"] in ln]


def test_kill_9_of_mabgui_build_leaves_no_buildx_behind(engine: Engine, tmp_path: Path) -> None:
    marker = f"mabgui-k9-{uuid.uuid4().hex[:10]}"
    ctx = _context(tmp_path, engine, f"RUN echo {marker} && sleep 60")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mabgui", "build", "--no-cache", "-q", str(ctx)],
        env={**os.environ, "MABGUI_DATA_DIR": str(tmp_path / "data")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not _build_containers(marker):
            assert time.monotonic() < deadline, "the sleep step never started"
            assert proc.poll() is None, "mabgui ended before the step started"
            time.sleep(0.1)
    finally:
        proc.kill()  # SIGKILL: no clean-up of ours runs
        proc.wait()
    deadline = time.monotonic() + 10
    while [ln for ln in _pgrep("buildx build") if str(ctx) in ln] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [ln for ln in _pgrep("buildx build") if str(ctx) in ln] == []
    # The daemon's BuildKit cancels the solve when buildx's session drops: its step container
    # goes a little later, with the daemon's own timing (seen up to ~15 s on a loaded machine).
    deadline = time.monotonic() + 45
    while _build_containers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _build_containers(marker) == []


def test_a_context_named_like_a_flag_is_built(engine: Engine, tmp_path: Path) -> None:
    ctx = tmp_path / "--help"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {engine.base_image}\nRUN echo flag-context\n")
    res = subprocess.run(
        [sys.executable, "-m", "mabgui", "build", "--json", "--no-history", "--", "--help"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["ok"] is True
    steps = [s["name"] for lane in summary["platforms"].values() for s in lane["steps"]]
    assert any("RUN echo flag-context" in name for name in steps)


def test_an_unwritable_history_warns_but_the_build_succeeds(engine: Engine, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    ctx = _context(tmp_path, engine, "RUN true")
    res = _mabgui("build", "--json", str(ctx), env={"MABGUI_DATA_DIR": str(blocker)})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ok"] is True
    assert "mabgui: warning: the build was not saved in the history" in res.stderr


def test_another_os_is_explained_and_never_an_ok_lane(engine: Engine, tmp_path: Path) -> None:
    ctx = _context(tmp_path, engine, "RUN true")
    res = _mabgui(
        "build", "--json", "--no-history", "--platform", "windows/amd64", str(ctx),
        env={"MABGUI_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert "QEMU emulates processors, not operating systems" in res.stderr
    assert "emulators install" not in res.stderr
    data = json.loads(res.stdout)
    for lane in data.get("platforms", {}).values():
        assert not (lane["ok"] and not lane["steps"])

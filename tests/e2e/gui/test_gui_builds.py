"""The Builds view driving real builds (dockerd + buildx + QEMU + registry on 127.0.0.1:5000).

Three small builds from the local busybox base through the form's Start path: a pushed
3-platform build (three lanes finish, "Inspect result" names the pushed digest), one failing
only on arm64 (exactly that lane turns red), a cancel during ``sleep 60`` (ends within 5 s,
no buildx left), and a spec refused before start. The form offers the platforms the real
default builder can build.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from mabgui.core.build import BuildSpec, OutputKind
from mabgui.core.platform import Platform
from mabgui.ui.views.builds.form import BuildForm
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import FIXTURES
from tests.gui.conftest import run_until

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
ARMV7 = Platform.parse("linux/arm/v7")
PLATFORMS = [AMD64, ARM64, ARMV7]

pytestmark = pytest.mark.engine


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def view(qtbot, qloop):  # type: ignore[no-untyped-def]
    widget = BuildsView(autoload=False)
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    widget.show()
    yield widget
    run = widget.build_run
    if run is not None and run.running:
        qloop.run_until_complete(run.cancel())
    widget.tasks.cancel_all()
    widget.close()


def _context(tmp_path: Path, engine, *runs: str) -> Path:  # type: ignore[no-untyped-def]
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    lines = [f"FROM {engine.base_image}", *(f"RUN {r}" for r in runs)]
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    return ctx


def _wait_finished(qloop, view: BuildsView, results: list, timeout: float = 240) -> None:  # type: ignore[no-untyped-def,type-arg]
    """Wait for the build to end; on timeout say where it was (lanes, last messages)."""
    try:
        run_until(qloop, lambda: bool(results), timeout=timeout)
    except pytest.fail.Exception:
        messages = [view.messages.item(i).text() for i in range(view.messages.count())]
        lanes = [
            f"{w.lane.platform}: {w.state_label.text()}" for w in view.lane_widgets() if w.lane
        ]
        pytest.fail(
            f"the build did not finish within {timeout} s: {view.state.text()!r}, lanes {lanes}, "
            f"messages {messages[-5:]}, error {view.error.text()!r}"
        )


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _delete_pushed(reference: str) -> None:
    """Best effort: remove the pushed manifest (the registry may not allow deletes)."""
    name, _, digest = reference.partition("@")
    repo = name.split("/", 1)[1].rsplit(":", 1)[0]
    request = urllib.request.Request(
        f"http://127.0.0.1:5000/v2/{repo}/manifests/{digest}", method="DELETE"
    )
    with contextlib.suppress(OSError):
        urllib.request.urlopen(request, timeout=5).read()


def test_three_platform_push_then_inspect(view, qloop, qtbot, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(tmp_path, engine, 'echo "built on $(uname -m)"', "echo to-stderr >&2")
    repo = f"{engine.registry}/mabgui-ui-test-{uuid.uuid4().hex[:10]}"
    spec = BuildSpec(
        context=str(ctx),
        platforms=PLATFORMS,
        tags=[f"{repo}:v1"],
        output=OutputKind.PUSH,
        no_cache=True,
        builder="default",
    )
    view.form.set_spec(spec)
    results = []
    view.finished.connect(results.append)
    view.form.start_button.click()
    _wait_finished(qloop, view, results)
    result = results[-1]
    assert result.ok, result.error
    assert [w.lane.platform for w in view.lane_widgets() if w.lane] == PLATFORMS
    for platform in PLATFORMS:
        lane = view.lane(platform)
        assert not lane.failed
        assert "done" in lane.state_label.text()
        assert lane.bar.value() == 1.0
    log = view.progress.log
    texts = {log.text(i) for i in range(len(log))}
    assert {"built on x86_64", "built on aarch64", "built on armv7l"} <= texts
    assert view.log_pane.model.rowCount() == len(log)
    assert view.inspect_button.isEnabled()
    with qtbot.waitSignal(view.inspect_requested) as blocker:
        view.inspect_button.click()
    reference = blocker.args[0]
    assert reference.startswith(f"{repo}:v1@sha256:")
    _delete_pushed(reference)


def test_failure_only_on_arm64_marks_that_lane(view, qloop, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(
        tmp_path, engine, 'echo "checking $(uname -m)"; [ "$(uname -m)" != aarch64 ]', "true"
    )
    view.form.set_spec(BuildSpec(context=str(ctx), platforms=PLATFORMS, no_cache=True))
    results = []
    view.finished.connect(results.append)
    view.form.start_button.click()
    _wait_finished(qloop, view, results)
    assert not results[-1].ok
    failed = [p for p in PLATFORMS if view.lane(p).failed]
    assert failed == [ARM64]
    lane = view.lane(ARM64)
    assert "exit code: 1" in lane.error.text()
    assert "RUN" in lane.current.full_text()
    assert "linux/arm64" in view.error.text()
    step = view.progress.lanes[ARM64].failed_step  # type: ignore[union-attr]
    assert step is not None
    view.log_pane.show_step(step)
    texts = [
        view.log_pane.model.data(view.log_pane.model.index(r, 0))
        for r in range(view.log_pane.model.rowCount())
    ]
    assert any("checking aarch64" in t for t in texts)


def test_cancel_during_sleep_stops_buildx(view, qloop, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(tmp_path, engine, f"echo {uuid.uuid4().hex} && sleep 60")
    view.form.set_spec(BuildSpec(context=str(ctx), platforms=[AMD64, ARM64], no_cache=True))
    results = []
    view.finished.connect(results.append)
    view.form.start_button.click()

    def sleeping() -> bool:
        progress = view.progress
        return progress is not None and any(
            "sleep 60" in s.name and s.started is not None for s in progress.steps.values()
        )

    run_until(qloop, sleeping, timeout=120)
    run = view.build_run
    assert run is not None
    pid = run.pid
    assert pid is not None
    assert view.cancel_button.isEnabled()
    # opening a recording must not silently end the running build
    view.open_recording(FIXTURES / "progress" / "fail-arm64.rawjson")
    assert "A build is running" in view.error.text()
    assert run.running
    t0 = time.monotonic()
    view.cancel_button.click()
    run_until(qloop, lambda: bool(results), timeout=10)
    assert time.monotonic() - t0 < 5.0
    assert results[-1].canceled
    assert "canceled" in view.state.text()
    assert "running" not in view.state.text()
    for platform in (AMD64, ARM64):  # every lane reads the user's cancel, no step runs
        lane = view.lane(platform)
        assert lane is not None
        assert lane.state_label.text().startswith("canceled")
        assert "because you cancelled" in lane.current.full_text()
    assert not view.cancel_button.isEnabled()
    assert view.form.start_button.isEnabled()
    run_until(qloop, lambda: not _group_alive(pid), timeout=5)


def test_invalid_spec_is_refused_before_start(view, qloop, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no-such-dir"
    view.start_build(BuildSpec(context=str(missing), platforms=[AMD64]))
    run_until(qloop, lambda: "refused before it started" in view.error.text(), timeout=60)
    assert str(missing) in view.error.text() or "context" in view.error.text()
    assert "not started" in view.state.text()
    assert not view.cancel_button.isEnabled()
    assert not view.form.problems.isHidden()
    run = view.build_run
    assert run is not None
    assert run.pid is None  # buildx never ran


def test_unlisted_but_emulated_platforms_are_offered_marked(qtbot, qloop, engine) -> None:  # type: ignore[no-untyped-def]
    # The default builder here does not list linux/arm/v7 although qemu-arm is registered:
    # buildx still builds it, so the form offers it, marked, instead of hiding it.
    widget = BuildForm()
    qtbot.addWidget(widget)
    widget.load_builders()
    run_until(qloop, lambda: "default" in widget.builder_platforms(), timeout=60)
    widget.builder.setCurrentText("default")
    assert ARMV7 in widget.platform_boxes
    assert widget.platform_boxes[ARMV7].text() == "linux/arm/v7 (QEMU*)"
    assert "does not list it" in widget.platform_boxes[ARMV7].toolTip()
    assert widget.platform_boxes[ARM64].text() == "linux/arm64 (QEMU)"
    assert "not listed by it" in widget.platforms_note.text()

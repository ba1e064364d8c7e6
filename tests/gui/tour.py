"""The main window in its main states, from recorded data (no registry, no build needed).

Used by the layout walk (tests/gui/test_layout.py) and the picture tour
(scripts/screenshots.py). Each state is an async function that puts a shown ``MainWindow``
into it; work the window starts by itself (builders listed, emulators read) ends first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from mabgui.core import buildx
from mabgui.core import progress as P
from mabgui.core.build import BuildSpec, OutputKind, history
from mabgui.core.engine import EngineFacts
from mabgui.core.overview import Overview
from mabgui.core.platform import Platform
from mabgui.core.registry.manifest import OfflineSource, fetch_tree
from mabgui.core.registry.reference import parse_reference
from mabgui.ui.main_window import AREAS, MainWindow
from mabgui.ui.tasks import TaskManager
from mabgui.ui.views.builders.view import BuildersView
from mabgui.ui.views.builds.view import BuildsView
from mabgui.ui.views.manifests.view import ManifestsView

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STREAMS = FIXTURES / "progress"
PLATFORMS = [Platform.parse(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7")]
PUSHED = "127.0.0.1:5000/mabgui-tour/multi-arch-app:1.0"
DIGEST = "sha256:eb98b368a78e72d3deb5b0950009eebea120d892c0246562d71548de0219a369"


async def settle(window: MainWindow, timeout: float = 30.0) -> None:
    """Wait until no task of the window (listing builders, reading emulators…) runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_busy(m) for m in window.task_managers()):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)


def _busy(manager: TaskManager) -> bool:
    return manager.running_count() > 0


def area(window: MainWindow, name: str) -> object:
    window.nav.setCurrentRow(AREAS.index(name))
    return window.views[name]


async def builders(window: MainWindow) -> None:
    """A two-node builder (recorded `buildx ls`) selected, its details beside."""
    view = area(window, "Builders")
    assert isinstance(view, BuildersView)
    await settle(window)
    builders = buildx.resolve_hosts(
        buildx.parse_ls_json((FIXTURES / "buildx" / "ls-multi-current.txt").read_text()),
        {"default": "unix:///var/run/docker.sock", "mabgui-e2e-second": "unix:///tmp/s.sock"},
    )
    facts = EngineFacts(
        context="default", endpoint="unix:///var/run/docker.sock", os_type="linux",
        architecture="x86_64", image_store=True,
    )  # fmt: skip
    builders = buildx.with_engine(builders, facts)
    emulatable = frozenset(
        Platform.parse(p) for p in ("linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/s390x")
    )
    view.overview = Overview(builders, facts, emulatable)
    view.model.set_overview(view.overview)
    view.tree.expandAll()
    view.select("mabgui-fixture-multi")
    view.status.setText(f"{len(builders)} builders (recorded) · current: default")
    await asyncio.sleep(0.05)


async def emulators(window: MainWindow) -> None:
    area(window, "Emulators")
    await settle(window)


def _parse(name: str, fraction: float = 1.0) -> P.BuildProgress:
    data = (STREAMS / name).read_bytes()
    if fraction >= 1.0:
        return P.parse_bytes(data, PLATFORMS)
    lines = data.splitlines(keepends=True)
    parser = P.ProgressParser(PLATFORMS)
    parser.feed(b"".join(lines[: int(len(lines) * fraction)]))
    return parser.progress


async def build_live(window: MainWindow) -> None:
    """A 3-platform build half-way: lanes running, the form folded away."""
    view = area(window, "Builds")
    assert isinstance(view, BuildsView)
    await settle(window)
    progress = _parse("multi-platform.rawjson", 0.3)
    view.show_form(False)
    # not "live": the recorded steps' own clock, not today's
    view.attach(progress, f"Build of <b>~/src/app</b> for {', '.join(map(str, PLATFORMS))}")
    view.flush()
    await asyncio.sleep(0.1)


async def build_finished(window: MainWindow) -> None:
    """The same build pushed: lanes done, the result (reference, digest) in the header."""
    view = area(window, "Builds")
    assert isinstance(view, BuildsView)
    await settle(window)
    data = (STREAMS / "multi-platform.rawjson").read_bytes()
    progress = P.parse_bytes(data, PLATFORMS, exit_code=0)
    assert progress.result is not None
    progress.result = dataclasses.replace(progress.result, digest=DIGEST)
    spec = BuildSpec(
        context=str(Path.home() / "src" / "app"),
        platforms=PLATFORMS,
        tags=[PUSHED],
        output=OutputKind.PUSH,
    )
    entry = history.save(spec, progress, gzip.compress(data), started=time.time() - 60)
    view.show_form(False)
    view.reopen(entry)
    await _until(lambda: view.result_row.isVisibleTo(view))


async def build_failed(window: MainWindow) -> None:
    """arm64 failed: its lane and step selected, the log on its error."""
    view = area(window, "Builds")
    assert isinstance(view, BuildsView)
    await settle(window)
    view.show_form(False)
    await view.replay_bytes(
        (STREAMS / "fail-arm64.rawjson").read_bytes(), "Build of <b>~/src/fail</b>", PLATFORMS
    )


async def timeline(window: MainWindow) -> None:
    await build_finished(window)
    view = window.views["Builds"]
    assert isinstance(view, BuildsView)
    view.bottom.setCurrentWidget(view.timeline)
    await asyncio.sleep(0.2)


async def build_form(window: MainWindow) -> None:
    """The form before any build: the step before the run."""
    view = area(window, "Builds")
    assert isinstance(view, BuildsView)
    await settle(window)
    view.show_form(True)


async def manifests(window: MainWindow) -> None:
    """A multi-platform index with attestations (recorded), the first platform selected."""
    view = area(window, "Manifests")
    assert isinstance(view, ManifestsView)
    await settle(window)
    folder = FIXTURES / "manifests" / "buildx-attested"
    docs = {
        p.name.replace("_", ":", 1): p.read_bytes()
        for p in folder.iterdir()
        if p.name.startswith("sha256_")
    }
    source = OfflineSource(docs, (folder / "root.txt").read_text().strip())
    tree = await fetch_tree(source, parse_reference("127.0.0.1:5000/mabgui-tour/app:attested"))
    view.ref_box.setEditText("127.0.0.1:5000/mabgui-tour/app:attested")
    view.show_tree(tree, 0.21)
    view.view.expandToDepth(1)
    view.view.setCurrentIndex(view.model.index(0, 0, view.model.index(0, 0)))
    await asyncio.sleep(0.05)


async def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the tour state did not appear")
        await asyncio.sleep(0.02)


STATES: dict[str, Callable[[MainWindow], Coroutine[Any, Any, None]]] = {
    "builders": builders,
    "emulators": emulators,
    "build-form": build_form,
    "build-live": build_live,
    "build-finished": build_finished,
    "build-failed": build_failed,
    "timeline": timeline,
    "manifests": manifests,
}

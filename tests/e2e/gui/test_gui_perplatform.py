"""The Builds form's "Per platform" option on the real stack: the run keeps what built.

A docker-container builder (``mabgui builder create`` defaults, in a private ``DOCKER_CONFIG``;
the docker driver cannot push by digest) builds amd64, arm64 and arm/v7 from the form with the
option ticked; ``RUN [ "$(uname -m)" != aarch64 ]`` fails on arm64 only. The arm64 lane turns
red, the others finish, the run says which platforms the pushed index holds, and the registry
has exactly that index.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mabgui.core.build import BuildSpec, OutputKind
from mabgui.core.perplatform import PerPlatformRun
from mabgui.core.platform import Platform
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import missing_engine_part
from tests.e2e.docker_config import private_config
from tests.gui.conftest import run_until

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
ARMV7 = Platform.parse("linux/arm/v7")
PLATFORMS = [AMD64, ARM64, ARMV7]

pytestmark = pytest.mark.engine


def _run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), capture_output=True, check=False, timeout=300)


@pytest.fixture
def builder(engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCKER_CONFIG", str(private_config(tmp_path / "docker-config")))
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    if _run("docker", "image", "inspect", "moby/buildkit:buildx-stable-1").returncode != 0:
        missing_engine_part("moby/buildkit:buildx-stable-1 is not loaded")
    name = f"mabgui-e2e-ppgui-{uuid.uuid4().hex[:8]}"
    try:
        res = _run(sys.executable, "-m", "mabgui", "builder", "create", "--name", name,
                   "--bootstrap")  # fmt: skip
        assert res.returncode == 0, res.stderr
        yield name
    finally:
        _run("docker", "buildx", "rm", "--force", name)


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


def test_per_platform_option_keeps_the_platforms_that_built(  # type: ignore[no-untyped-def]
    view, qloop, engine, builder: str, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f'FROM {engine.base_image}\nRUN [ "$(uname -m)" != aarch64 ]\nRUN uname -m > /arch\n'
    )
    image = f"{engine.registry}/mabgui-ui-perplat-{uuid.uuid4().hex[:10]}:1"
    spec = BuildSpec(context=str(ctx), platforms=PLATFORMS, tags=[image],
                     output=OutputKind.PUSH, builder=builder)  # fmt: skip
    view.form.set_spec(spec)
    view.form.per_platform.setChecked(True)
    results: list = []  # type: ignore[type-arg]
    view.finished.connect(results.append)
    view.form.start_button.click()
    run_until(qloop, lambda: bool(results), timeout=240)
    run = view.build_run
    assert isinstance(run, PerPlatformRun)
    assert not results[-1].ok
    assert [p for p in PLATFORMS if view.lane(p).failed] == [ARM64]
    assert run.result.partial
    assert run.result.index is not None
    assert run.result.index.platforms == ["linux/amd64", "linux/arm/v7"]
    messages = [view.messages.item(i).text() for i in range(view.messages.count())]
    said = [m for m in messages if "the index holds linux/amd64, linux/arm/v7" in m]
    assert said, messages
    assert "not in the index: linux/arm64" in said[0]
    banner = view.error.text()  # the failure, then what was pushed all the same
    assert "linux/arm64</b> failed at" in banner
    assert "Index pushed" in banner
    assert "--append --platform linux/arm64" in banner
    assert view.inspect_button.isEnabled()  # the index of the others can be opened
    assert view.result_ref == f"{image}@{run.result.index.digest}"
    raw = _run("docker", "buildx", "imagetools", "inspect", "--raw", image)
    assert raw.returncode == 0, raw.stderr
    arches = [m["platform"]["architecture"] for m in json.loads(raw.stdout)["manifests"]
              if m["platform"]["os"] != "unknown"]  # fmt: skip
    assert arches == ["amd64", "arm"]

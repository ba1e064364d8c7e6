"""BuildKit's own history on the real engine: builds run with plain `docker buildx build`.

buildx 0.30.1 is the default plugin here (/usr/local/lib/docker/cli-plugins); the 0.13.1 test
points a private DOCKER_CONFIG's cli-plugins at Debian's 0.13.1 (tests/e2e/docker_config.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from mabgui import cli
from mabgui.core.progress import parse_bytes
from tests.conftest import Engine, missing_engine_part

OLD_BUILDX = Path("/usr/libexec/docker/cli-plugins/docker-buildx")
THREE = "linux/amd64,linux/arm64,linux/arm/v7"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _context(tmp_path: Path, engine: Engine, body: str) -> Path:
    ctx = tmp_path / f"h12-{uuid.uuid4().hex[:10]}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {engine.base_image}\n{body}\n")
    return ctx


def _plain_build(engine: Engine, ctx: Path, platforms: str = THREE) -> tuple[int, bytes]:
    """`docker buildx build` itself, not mabgui; returns (exit code, its rawjson stream)."""
    res = subprocess.run(
        [engine.docker, "buildx", "build", "--platform", platforms, "--progress=rawjson", str(ctx)],
        capture_output=True,
        timeout=600,
    )
    return res.returncode, res.stderr


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _find(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [r for r in records if r["name"] == name]
    return found


def _lanes(summary: dict[str, Any]) -> dict[str, list[str]]:
    return {p: [s["name"] for s in lane["steps"]] for p, lane in summary["platforms"].items()}


def test_plain_build_listed_shown_exported_and_deleted(
    engine: Engine, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = _context(tmp_path, engine, 'RUN echo "on $(uname -m)"\nRUN echo two > /two')
    code, stream = _plain_build(engine, ctx)
    assert code == 0, stream[-2000:]
    records = _cli_json(capsys, "history", "--limit", "20", "--json")
    rec = _find(records, ctx.name)
    assert rec["source"] == "buildkit"
    assert rec["status"] == "completed"
    assert rec["platforms"] == THREE.split(",")
    assert rec["steps"]
    assert rec["steps"] > 0
    assert rec["builder"]

    shown = _cli_json(capsys, "history", "show", rec["ref"], "--json")
    replay = parse_bytes(stream).summary()
    assert _lanes(shown) == _lanes(replay)
    counts = {p: len(s) for p, s in _lanes(shown).items()}
    assert set(counts) == set(THREE.split(","))
    assert len(set(counts.values())) == 1  # FROM + 2 RUNs (+ metadata) on every platform
    assert min(counts.values()) >= 3
    assert shown["ok"] is True
    assert any(
        m["image"].startswith(engine.base_image.rsplit(":", 1)[0]) for m in shown["materials"]
    )
    assert any(a["type"].endswith("index.v1+json") for a in shown["attachments"])

    bundle = tmp_path / "rec.dockerbuild"
    assert cli.main(["history", "export", rec["ref"], "-o", str(bundle)]) == 0
    capsys.readouterr()
    assert cli.main(["history", "rm", rec["ref"], "--json"]) == 1  # refuses without --force
    assert "without confirmation" in capsys.readouterr().out
    assert cli.main(["history", "rm", rec["ref"], "--force"]) == 0
    capsys.readouterr()
    after = _cli_json(capsys, "history", "--limit", "50", "--fast", "--json")
    assert ctx.name not in [r["name"] for r in after]
    opened = _cli_json(capsys, "history", "open", str(bundle), "--json")
    assert _lanes(opened) == _lanes(shown)
    assert opened["ok"] is True


def test_failed_plain_build_names_platform_and_step(
    engine: Engine, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = _context(
        tmp_path,
        engine,
        'RUN if [ "$(uname -m)" = aarch64 ]; then echo "no arm64" >&2; exit 7; fi',
    )
    code, _stream = _plain_build(engine, ctx, "linux/amd64,linux/arm64")
    assert code != 0
    rec = _find(_cli_json(capsys, "history", "--limit", "20", "--json"), ctx.name)
    assert rec["status"] == "failed"
    assert "exit code: 7" in rec["error"]
    shown = _cli_json(capsys, "history", "show", rec["ref"], "--json")
    arm = shown["platforms"]["linux/arm64"]
    assert arm["ok"] is False
    failed = [s for s in arm["steps"] if s["state"] == "error"]
    assert len(failed) == 1
    assert "RUN if" in failed[0]["name"]
    assert shown["ok"] is False
    cli.main(["history", "rm", rec["ref"], "--force"])


def test_a_mabgui_build_is_listed_once(
    engine: Engine, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = _context(tmp_path, engine, "RUN echo once")
    assert cli.main(["build", str(ctx), "--platform", "linux/amd64", "-q"]) == 0
    capsys.readouterr()
    records = _cli_json(capsys, "history", "--limit", "30", "--json")
    rec = _find(records, ctx.name)
    assert rec["source"] == "buildkit"
    assert rec["mabgui_id"]
    # A failed build leaves no metadata file (no ref): matched by name and start time.
    bad = _context(tmp_path, engine, "RUN exit 5")
    assert cli.main(["build", str(bad), "--platform", "linux/amd64", "-q"]) == 1
    capsys.readouterr()
    failed = _find(_cli_json(capsys, "history", "--limit", "30", "--json"), bad.name)
    assert failed["source"] == "buildkit"
    assert failed["status"] == "failed"
    assert failed["mabgui_id"]


def test_buildx_0_13_1_lists_mabgui_builds_with_a_note(
    engine: Engine,
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not OLD_BUILDX.exists():
        missing_engine_part(f"Debian's buildx 0.13.1 is not installed at {OLD_BUILDX}")
    config = tmp_path / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-buildx").symlink_to(OLD_BUILDX)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    version = subprocess.run([engine.docker, "buildx", "version"], capture_output=True, text=True)
    assert "0.13.1" in version.stdout
    ctx = _context(tmp_path, engine, "RUN echo old")
    assert cli.main(["build", str(ctx), "--platform", "linux/amd64", "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["history", "--json"]) == 0
    out, err = capsys.readouterr()
    records = json.loads(out)
    assert [r["source"] for r in records] == ["mabgui"]
    assert records[0]["name"] == ctx.name
    assert "no `history` command (added in buildx v0.20.0)" in err
    assert os.environ["DOCKER_CONFIG"] == str(config)

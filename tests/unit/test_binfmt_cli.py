"""`mabgui emulators` over recorded binfmt_misc files (the local backend pointed at a copy)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mabgui import cli

FIXTURES = Path(__file__).parent.parent / "fixtures" / "binfmt"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dest = tmp_path / "binfmt_misc"
    shutil.copytree(FIXTURES / "extra", dest)
    return dest


def _local(root: Path) -> list[str]:
    return ["--backend", "local", "--root", str(root)]


def test_json_lists_every_handler(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulators", *_local(root), "--no-builders", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mounted"] is True
    assert data["writable"] is True
    assert data["backend"] == "local"
    handlers = {h["name"]: h for h in data["handlers"]}
    assert set(handlers) == {
        "mabgui-test-ext", "python3.11", "qemu-aarch64", "qemu-arm", "qemu-ppc64le",
        "qemu-riscv64", "qemu-s390x",
    }  # fmt: skip
    assert handlers["qemu-arm"]["platforms"] == ["linux/arm/v7", "linux/arm/v6"]
    assert handlers["qemu-s390x"]["flags"] == "POF"
    assert handlers["mabgui-test-ext"]["enabled"] is False
    assert handlers["mabgui-test-ext"]["extension"] == ".mbgt"
    assert handlers["python3.11"]["platforms"] == []
    for h in handlers.values():
        assert {"name", "enabled", "interpreter", "flags", "platforms"} <= set(h)


def test_table(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulators", *_local(root), "--no-builders"]) == 0
    out = capsys.readouterr().out
    assert "qemu-s390x       enabled   linux/s390x" in out
    assert "mabgui-test-ext  disabled  (extension: .mbgt)" in out


def test_missing_f_flag_is_warned(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arm = root / "qemu-arm"
    arm.write_text(arm.read_text().replace("flags: POF", "flags: PO"))
    assert cli.main(["emulators", *_local(root), "--no-builders"]) == 0
    assert "! qemu-arm: flag F (fix-binary) is missing" in capsys.readouterr().out


def test_disable_writes_the_handler_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulators", "disable", "qemu-s390x", *_local(root)]) == 0
    assert (root / "qemu-s390x").read_text() == "0"


def test_errors_exit_1_with_a_hint(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulators", "enable", "qemu-sparc", *_local(root)]) == 1
    err = capsys.readouterr().err
    assert "mabgui: error: no handler named 'qemu-sparc'" in err
    assert "hint: Registered handlers:" in err
    assert cli.main(["emulators", "install", "sparc", *_local(root)]) == 1
    assert "unknown architecture 'sparc'" in capsys.readouterr().err
    assert cli.main(["emulators", "remove", "--all", *_local(root)]) == 1
    assert "Add --yes to confirm" in capsys.readouterr().err
    assert (root / "status").read_text() == "enabled\n"
    assert cli.main(["emulators", "register", ":x:Q::m::/bin/sh:", *_local(root)]) == 1
    assert "type must be M (magic) or E (extension)" in capsys.readouterr().err


def test_unmounted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulators", *_local(tmp_path), "--no-builders"]) == 1
    err = capsys.readouterr().err
    assert "binfmt_misc is not mounted" in err
    assert f"sudo mount -t binfmt_misc binfmt_misc {tmp_path}" in err
    assert cli.main(["emulators", *_local(tmp_path), "--no-builders", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["mounted"] is False


def test_options_before_or_after_the_action(root: Path) -> None:
    args = cli.build_parser().parse_args(["emulators", "--root", "/x", "disable", "qemu-arm"])
    assert args.root == "/x"
    assert args.backend == "auto"
    args = cli.build_parser().parse_args(
        ["emulators", "disable", "qemu-arm", "--backend", "daemon", "--image", "img:1"]
    )
    assert (args.backend, args.image, args.name) == ("daemon", "img:1", "qemu-arm")

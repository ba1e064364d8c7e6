"""`mabgui emulators` over recorded binfmt_misc files (the local backend pointed at a copy)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

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


def _actions() -> list[str]:
    """Every action of `mabgui emulators`, read from the parser so new ones are covered too
    (argparse has no public accessor for its subparsers)."""
    parser = cli.build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    emulators = top.choices["emulators"]
    sub = next(a for a in emulators._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_action_has_a_help(capsys: pytest.CaptureFixture[str]) -> None:
    actions = _actions()
    assert {"enable", "disable", "remove", "install", "register", "fix-binary", "mount"} <= set(
        actions
    )
    for argv in (["emulators", "--help"], *(["emulators", a, "--help"] for a in actions)):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 0, argv
        out = capsys.readouterr().out
        assert out.startswith("usage: mabgui emulators")
        assert "tonistiigi/binfmt:latest" in out  # the defaults are spelled out


@pytest.mark.parametrize("where", ["before", "after"])
def test_toggles_print_json_in_every_outcome(
    root: Path, tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(action: str, name: str, at: Path) -> tuple[int, dict[str, Any]]:
        options = [*_local(at), "--json"]
        argv = (
            ["emulators", *options, action, "--", name]
            if where == "before"
            else ["emulators", action, *options, "--", name]
        )
        code = cli.main(argv)
        return code, json.loads(capsys.readouterr().out)

    code, data = run("disable", "qemu-s390x", root)
    assert (code, data["ok"], data["name"], data["enabled"]) == (0, True, "qemu-s390x", False)
    code, data = run("enable", "qemu-sparc", root)
    assert (code, data["ok"], data["kind"]) == (1, False, "binfmt")
    assert data["error"] == "no handler named 'qemu-sparc'"
    assert "Registered handlers:" in data["hint"]
    for bad in ("-x", "--all", "../status", "status"):
        code, data = run("enable", bad, root)
        assert (code, data["ok"]) == (1, False)
        assert "is not a valid handler name" in data["error"]
    code = cli.main(["emulators", "enable", *_local(root), "--json"])  # no NAME: usage, in JSON
    data = json.loads(capsys.readouterr().out)
    assert (code, data["ok"], data["kind"]) == (2, False, "usage")
    assert data["error"] == "name the handler to enable"
    code, data = run("disable", "qemu-arm", tmp_path)  # not mounted: the command to run by hand
    assert (code, data["ok"]) == (1, False)
    assert data["command"] == f"sudo mount -t binfmt_misc binfmt_misc {tmp_path}"
    assert data["command"] in data["hint"]


def test_the_command_to_run_by_hand_is_in_the_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["emulators", "enable", "qemu-arm", *_local(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "mabgui: error: binfmt_misc is not mounted" in err
    assert "to do it by hand, run:" in err
    assert f"sudo mount -t binfmt_misc binfmt_misc {tmp_path}" in err


def test_names_starting_with_a_dash_never_reach_a_write(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p.name: p.read_text() for p in root.iterdir()}
    assert cli.main(["emulators", "remove", *_local(root), "--", "qemu-arm", "--all"]) == 1
    assert "'--all' is not a valid handler name" in capsys.readouterr().err
    assert cli.main(["emulators", "fix-binary", *_local(root), "--", "-F"]) == 1
    assert "'-F' is not a valid handler name" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in root.iterdir()} == before

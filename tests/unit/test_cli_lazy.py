"""The CLI defines only the chosen command's area: same help, same commands, fewer imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mabgui.cli.main import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]


def _help(words: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser(words).parse_args(words)
    return capsys.readouterr().out


def test_top_level_help_is_the_same_lazy_or_full() -> None:
    full = build_parser().format_help()
    assert build_parser([]).format_help() == full
    for name in COMMANDS:
        assert build_parser([name]).format_help() == full, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_chosen_command_is_fully_defined(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    lazy = _help([name, "--help"], capsys)
    with pytest.raises(SystemExit):
        build_parser().parse_args([name, "--help"])
    assert lazy == capsys.readouterr().out
    assert f"usage: mabgui {name}" in lazy


def test_the_table_names_every_command_the_areas_define() -> None:
    with pytest.raises(Exception, match="invalid choice") as info:  # lists every choice
        build_parser().parse_args(["no-such-command"])
    listed = str(info.value).split("choose from ", 1)[1].strip(")")
    assert [word.strip(" '") for word in listed.split(",")] == list(COMMANDS)


def test_a_command_imports_only_its_own_area() -> None:
    probe = (
        "import sys\n"
        "from mabgui.cli.main import build_parser\n"
        "build_parser(['copy', 'a', 'b']).parse_args(['copy', 'a', 'b'])\n"
        "print(__import__('json').dumps(sorted(m for m in sys.modules if m.startswith(("
        "'mabgui', 'httpx', 'docker', 'google', 'importlib.metadata')))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "mabgui.cli.index" in loaded
    others = {f"mabgui.cli.{area}" for area, _ in COMMANDS.values()} - {"mabgui.cli.index"}
    assert not loaded & others
    heavy = {"httpx", "docker", "google.protobuf", "importlib.metadata", "mabgui.core.registry"}
    assert not loaded & heavy
    assert not any(m.startswith("mabgui.core.build") for m in loaded)


def test_the_cli_does_not_import_httpx_s_own_command_line() -> None:
    probe = (
        "import sys\n"
        "import mabgui.cli.main\n"
        "import httpx\n"
        "assert callable(httpx.main)\n"
        "print('rich' in sys.modules, 'click' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_the_version_read_directly_is_importlib_metadata_s() -> None:
    from importlib.metadata import version

    import mabgui

    assert mabgui.installed_version() == version("mabgui")

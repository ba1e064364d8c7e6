"""The subprocess runner over real processes: output, timeouts and no orphans after a stop."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mabgui.core import log, process


async def test_run_captures_output_and_exit_code() -> None:
    res = await process.run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"])
    assert res.returncode == 3
    assert res.stdout.strip() == "out"
    assert not res.ok


async def test_missing_program_is_a_typed_error() -> None:
    with pytest.raises(process.CommandNotFound, match="no-such-program-xyz"):
        await process.run(["no-such-program-xyz"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still "exists": read its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_timeout_kills_the_whole_group(tmp_path: os.PathLike[str]) -> None:
    pidfile = os.path.join(tmp_path, "child.pid")
    # The child ignores SIGINT and starts a grandchild: only a group SIGKILL stops both.
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"p = subprocess.Popen(['sleep', '60'])\n"
        f"open({pidfile!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(process.CommandTimeout, match="did not finish within 1 s"):
        await process.run([sys.executable, "-c", script], timeout=1)
    grandchild = int(Path(pidfile).read_text())  # noqa: ASYNC240 - a tiny local file
    for _ in range(50):
        if not _alive(grandchild):
            break
        await asyncio.sleep(0.05)
    assert not _alive(grandchild)


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


async def _wait_for(path: Path, timeout: float = 10.0) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while not path.exists() or not path.read_text().strip():  # noqa: ASYNC240 - tiny local file
        assert asyncio.get_running_loop().time() < deadline, f"{path} never written"
        await asyncio.sleep(0.02)
    return path.read_text()  # noqa: ASYNC240


async def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while _alive(pid):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_cancel_stops_the_process(tmp_path: Path) -> None:
    """The child and its own child (its process group) are gone once the cancel returns."""
    pidfile = tmp_path / "pids"
    script = (
        "import os, subprocess, time\n"
        "p = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pidfile)!r}, 'w').write(f'{{os.getpid()}} {{p.pid}}')\n"
        "time.sleep(60)\n"
    )
    task = asyncio.ensure_future(process.run([sys.executable, "-c", script], timeout=60))
    child, grandchild = (int(p) for p in (await _wait_for(pidfile)).split())
    assert _alive(child)
    assert _alive(grandchild)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(child)  # reaped by the time the cancel returned
    assert await _gone(grandchild)
    assert _group(child) == []  # nothing of its process group runs (zombies aside)


def test_children_die_with_mabgui_even_on_kill_9(tmp_path: Path) -> None:
    """A mabgui process killed with SIGKILL runs no clean-up: the parent-death signal stops
    what it started (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    pidfile = tmp_path / "pid"
    script = (
        "import asyncio, os, signal\n"
        "from mabgui.core import process\n"
        "async def main():\n"
        "    proc = await process.spawn(['sleep', '60'])\n"
        f"    open({str(pidfile)!r}, 'w').write(str(proc.pid))\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, check=False)
    assert done.returncode == -9
    orphan = int(pidfile.read_text())
    assert asyncio.run(_gone(orphan)), "the child outlived its killed parent"


async def test_every_command_is_logged_without_values() -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = log.get("process")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    log.add_secret("registered-secret-value")
    try:
        argv = [
            sys.executable, "-c", "import sys; sys.exit(4)", "--build-arg",
            "TOKEN=plain-value", "--build-arg=B=other-value", "registered-secret-value",
        ]  # fmt: skip
        res = await process.run(argv)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert res.returncode == 4
    text = "\n".join(log.redact(r.getMessage()) for r in records)
    assert "TOKEN=***" in text
    assert "B=***" in text
    for value in ("plain-value", "other-value", "registered-secret-value"):
        assert value not in text
    assert "exit 4 after" in text
    assert " s: " in text

"""The subprocess runner over real processes: output, timeouts and no orphans after a stop."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from mabgui.core import process


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


async def test_cancel_stops_the_process() -> None:
    task = asyncio.ensure_future(process.run(["sleep", "30"], timeout=60))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

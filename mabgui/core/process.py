"""Run external commands (docker, buildx) as asyncio subprocesses: argv lists, never a shell.

Every child gets its own process group so that a cancel or a timeout stops it *and* whatever it
started (buildx plugins, ssh helpers): first SIGINT (buildx then cancels the solve cleanly), and
after a grace period SIGKILL to the whole group. No orphans are left behind. On Linux a child
also gets the parent-death signal (``PR_SET_PDEATHSIG`` = SIGKILL), so it dies with mabgui even
when mabgui is killed with ``kill -9`` and no clean-up of ours runs.

Every command is logged (``log.get("process")``): its argv with values masked (build-arg
values, registered secrets, credential-looking text), then its exit code and duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mabgui.core import log
from mabgui.core.errors import MabguiError

DEFAULT_GRACE_S = 3.0
_log = log.get("process")
# Flags whose next argument is NAME=VALUE with a value that must not be logged.
_VALUE_FLAGS = frozenset({"--build-arg", "--env", "-e", "--label"})
_PR_SET_PDEATHSIG = 1


class CommandNotFound(MabguiError):
    """The executable is not on PATH (docker CLI or buildx plugin missing)."""

    def __init__(self, program: str) -> None:
        super().__init__(f"{program!r} was not found on PATH")
        self.program = program


class CommandTimeout(MabguiError):
    """The command did not finish within its timeout and was stopped."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(
            f"`{' '.join(argv[:4])}` did not finish within {timeout:g} s and was stopped"
        )
        self.argv = list(argv)
        self.timeout = timeout


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def message(self) -> str:
        """The command's own error text (stderr, else stdout), trimmed."""
        return self.stderr.strip() or self.stdout.strip() or f"exit code {self.returncode}"


# Where Docker Desktop and package managers put the docker CLI when an app started from a desktop
# launcher (Finder, Start menu) does not have the shell's PATH.
_EXTRA_BIN_DIRS = (
    "~/.docker/bin",
    "/usr/local/bin",
    "/opt/homebrew/bin",
    "/Applications/Docker.app/Contents/Resources/bin",
    "~/.rd/bin",
    r"C:\Program Files\Docker\Docker\resources\bin",
)


def which(program: str) -> str:
    """The full path of ``program``: PATH first, then the usual Docker install folders."""
    path = shutil.which(program)
    if path is None:
        extra = os.pathsep.join(os.path.expanduser(d) for d in _EXTRA_BIN_DIRS)
        path = shutil.which(program, path=extra)
    if path is None:
        raise CommandNotFound(program)
    return path


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The environment for a child process, or None to inherit ours unchanged.

    A frozen (PyInstaller) app runs with LD_LIBRARY_PATH pointing into its bundle; docker and
    buildx must not load those libraries, so the value from before the app started is restored.
    """
    frozen = bool(getattr(sys, "frozen", False))
    if env is None and not frozen:
        return None
    full = {**os.environ, **(env or {})}
    if frozen:
        for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
            original = os.environ.get(f"{var}_ORIG")
            if original is not None:
                full[var] = original
            else:
                full.pop(var, None)
    return full


def masked_argv(argv: Sequence[str]) -> str:
    """``argv`` as one line for a log: ``--build-arg K=V`` as ``K=***``, secrets masked."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next and "=" in arg:
            arg = arg.split("=", 1)[0] + "=" + log.MASK
        elif arg.startswith(tuple(f"{flag}=" for flag in _VALUE_FLAGS if flag.startswith("--"))):
            flag, _, rest = arg.partition("=")
            arg = f"{flag}={rest.split('=', 1)[0]}={log.MASK}" if "=" in rest else arg
        mask_next = arg in _VALUE_FLAGS
        out.append(arg)
    return log.redact(" ".join(out))


def log_exit(argv: Sequence[str], returncode: int | None, duration_s: float) -> None:
    """Log how a command ended (called by :func:`run`, and by callers of :func:`spawn`)."""
    _log.info("exit %s after %.2f s: %s", returncode, duration_s, masked_argv(argv[:3]))


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that sets the parent-death signal (Linux only; None elsewhere).

    libc and its ``prctl`` are looked up here, in the parent: the child, between fork and
    exec, only makes the call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return None
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: follow it now
            os.kill(os.getpid(), kill)

    return preexec


def _group_kwargs() -> dict[str, object]:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import subprocess

        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    kwargs: dict[str, object] = {"start_new_session": True}  # setsid(), then preexec_fn
    preexec = _die_with_parent()
    if preexec is not None:
        kwargs["preexec_fn"] = preexec
    return kwargs


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin: int | None = asyncio.subprocess.DEVNULL,
) -> asyncio.subprocess.Process:
    """Start ``argv`` in a new process group with piped stdout and stderr.

    The child dies with this process (parent-death signal, Linux). The start is logged; the
    caller logs the end with :func:`log_exit`.
    """
    exe = which(argv[0]) if os.sep not in argv[0] else argv[0]
    full_env = child_environment(env)
    _log.info("run: %s", masked_argv(argv))
    return await asyncio.create_subprocess_exec(
        exe,
        *argv[1:],
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
        cwd=cwd,
        **_group_kwargs(),  # type: ignore[arg-type]
    )


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform == "win32":  # pragma: no cover - no process groups there
            if proc.returncode is None:
                proc.kill()
        else:
            # The whole group, even when the leader already exited: its children may still run.
            os.killpg(proc.pid, sig)


async def stop(proc: asyncio.subprocess.Process, grace: float = DEFAULT_GRACE_S) -> None:
    """SIGINT the process group, SIGKILL it after ``grace`` seconds, and wait for it to end.

    A second cancel arriving during the clean-up (a window closing, a test's loop teardown)
    cannot interrupt it half-way and leave the process running with its pipes open: every wait
    here survives a cancel, and no helper task is created.
    """
    loop = asyncio.get_running_loop()
    if proc.returncode is None:
        _signal_group(proc, signal.SIGINT)
    deadline = loop.time() + grace
    while proc.returncode is None and loop.time() < deadline:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)
    _signal_group(proc, signal.SIGKILL if sys.platform != "win32" else signal.SIGTERM)
    while proc.returncode is None:
        with contextlib.suppress(asyncio.CancelledError):
            await proc.wait()


async def run(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    input_text: str | None = None,
    grace: float = 1.0,
) -> CommandResult:
    """Run ``argv`` to completion and capture its output.

    Raises :class:`CommandNotFound` or :class:`CommandTimeout`. ``communicate()`` is awaited in
    the caller's own task, so a cancel landing at any point leaves no coroutine behind; a cancel
    or a timeout stops the process group.
    """
    t0 = time.monotonic()
    proc = await spawn(
        argv, env=env, cwd=cwd,
        stdin=asyncio.subprocess.PIPE if input_text is not None else asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    data = input_text.encode() if input_text is not None else None
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(data)
    except TimeoutError:
        await stop(proc, grace)
        log_exit(argv, proc.returncode, time.monotonic() - t0)
        _log.warning("timed out after %g s: %s", timeout, masked_argv(argv[:3]))
        raise CommandTimeout(argv, timeout) from None
    except asyncio.CancelledError:
        await stop(proc, grace)
        log_exit(argv, proc.returncode, time.monotonic() - t0)
        raise
    log_exit(argv, proc.returncode, time.monotonic() - t0)
    return CommandResult(
        list(argv),
        proc.returncode if proc.returncode is not None else -1,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
    )

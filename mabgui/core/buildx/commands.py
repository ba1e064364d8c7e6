"""Running buildx: list, get, inspect/bootstrap, use, stop, restart, remove and du.

Every call runs ``docker buildx`` through :mod:`mabgui.core.process` (argv lists, never a shell,
a timeout on each) and returns typed data or raises :class:`~mabgui.core.buildx.BuildxError`
with buildx's own message and a hint; each failure is logged on the ``buildx`` logger.

A builder name reaches buildx after ``--`` (every verb used here accepts it, buildx 0.13 to
0.30), and names starting with ``-`` are refused before: a name can never be read as a flag.

Listing uses ``docker buildx ls --format`` with a template that prints the same JSON object as
``--format json`` prefixed with the builder's *current* flag (buildx 0.13's JSON drops it, and
prints each builder once more per node: lines are deduplicated by name). buildx versions without
``--format`` fall back to parsing the text table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace

from mabgui.core import log, process
from mabgui.core.buildx.errors import (
    BuilderNotFound,
    BuildxError,
    BuildxTimeout,
    BuildxUnavailable,
    command_error,
    explain,
    refuse,
)
from mabgui.core.buildx.model import Builder, DiskUsage, with_engine
from mabgui.core.buildx.parse import (
    parse_contexts,
    parse_du,
    parse_inspect,
    parse_ls_json,
    parse_ls_table,
    resolve_hosts,
)
from mabgui.core.engine import EngineFacts

LS_TIMEOUT_S = 30.0
INSPECT_TIMEOUT_S = 30.0
BOOTSTRAP_TIMEOUT_S = 300.0
CHANGE_TIMEOUT_S = 60.0
# buildx waits this long for a node before reporting it (newer buildx take `ls --timeout`).
NODE_TIMEOUT_S = 20

LS_TEMPLATE = "{{.Builder.Current}} {{json .}}"

ProgressCallback = Callable[[str], None]

_log = log.get("buildx")
_unsupported_flags: set[str] = set()


def check_name(name: str, what: str = "builder") -> str:
    """``name`` when it can be passed to buildx; a :class:`BuildxError` when it looks like a flag
    or is empty."""
    if not name or name.startswith("-") or any(c.isspace() or not c.isprintable() for c in name):
        raise refuse(
            f"invalid {what} name {name!r}",
            "A builder name uses letters, digits, '.', '_' or '-', and does not start with '-'.",
        )
    return name


async def _docker() -> str:
    try:
        return process.which("docker")
    except process.CommandNotFound:
        _log.warning("the docker CLI was not found on PATH")
        raise BuildxUnavailable(
            "the docker CLI was not found on PATH",
            "Install the Docker CLI (docker-ce-cli, docker.io or Docker Desktop).",
        ) from None


async def run_buildx(args: Sequence[str], timeout_s: float) -> process.CommandResult:
    """``docker buildx ARGS`` to completion; raises only when buildx is missing or times out."""
    argv = [await _docker(), "buildx", *args]
    try:
        res = await process.run(argv, timeout=timeout_s)
    except process.CommandTimeout:
        _log.warning("docker buildx %s timed out after %g s", " ".join(args[:2]), timeout_s)
        raise BuildxTimeout(
            f"`docker buildx {' '.join(args[:2])}` did not answer within {timeout_s:g} s "
            "and was stopped",
            "A node may hang (an unreachable ssh:// or tcp:// endpoint): check it, or remove it.",
        ) from None
    except process.CommandNotFound as exc:
        _log.warning("%s", exc)
        raise BuildxUnavailable(str(exc), "Install the Docker CLI.") from None
    if not res.ok and "is not a docker command" in res.stderr:
        _log.warning("the docker buildx plugin is not installed")
        raise BuildxUnavailable(
            "the docker buildx plugin is not installed",
            "Install docker-buildx (Debian/Ubuntu: docker-buildx or docker-buildx-plugin).",
            res.stderr,
        )
    return res


def _unknown_flag(res: process.CommandResult, flag: str) -> bool:
    return not res.ok and f"unknown flag: {flag}" in res.stderr


async def docker_contexts() -> dict[str, str]:
    """Docker context name → docker host (``docker context ls``); empty when unavailable."""
    try:
        res = await process.run(
            [await _docker(), "context", "ls", "--format", "{{json .}}"], timeout=10.0
        )
    except (process.CommandTimeout, process.CommandNotFound, BuildxError) as exc:
        _log.warning("docker context ls failed: %s", exc)
        return {}
    if not res.ok:
        _log.warning("docker context ls failed: %s", res.message())
        return {}
    return parse_contexts(res.stdout)


async def list_builders(
    timeout_s: float = LS_TIMEOUT_S, facts: EngineFacts | None = None
) -> list[Builder]:
    """Every builder with its nodes (``docker buildx ls``), the current one marked.

    With the engine's ``facts``, the nodes on that daemon know its architecture (their
    :attr:`~mabgui.core.buildx.Node.native_platform` before they ever started).
    """
    return with_engine(await _list_builders(timeout_s), facts)


async def _list_builders(timeout_s: float) -> list[Builder]:
    args = ["ls", "--format", LS_TEMPLATE]
    if "ls --timeout" not in _unsupported_flags:
        args += ["--timeout", f"{NODE_TIMEOUT_S}s"]
    contexts = await docker_contexts()
    res = await run_buildx(args, timeout_s)
    if _unknown_flag(res, "--timeout"):
        _unsupported_flags.add("ls --timeout")
        args = args[:3]
        res = await run_buildx(args, timeout_s)
    if _unknown_flag(res, "--format"):
        res = await run_buildx(["ls"], timeout_s)
        if not res.ok:
            raise command_error(res, "docker buildx ls failed")
        return resolve_hosts(parse_ls_table(res.stdout, res.stderr), contexts)
    if not res.ok and "can't evaluate field Current" in res.stderr:
        # A buildx whose ls has --format but no Current: JSON for data, the table for the `*`.
        res = await run_buildx(["ls", "--format", "json"], timeout_s)
        if not res.ok:
            raise command_error(res, "docker buildx ls failed")
        table = await run_buildx(["ls"], timeout_s)
        current = {b.name for b in parse_ls_table(table.stdout) if b.current} if table.ok else set()
        builders = [replace(b, current=b.name in current) for b in parse_ls_json(res.stdout)]
        return resolve_hosts(builders, contexts)
    if not res.ok:
        raise command_error(res, "docker buildx ls failed")
    return resolve_hosts(parse_ls_json(res.stdout), contexts)


async def get_builder(name: str, timeout_s: float = LS_TIMEOUT_S) -> Builder:
    for b in await list_builders(timeout_s):
        if b.name == name:
            return b
    _log.warning("no builder named %r", name)
    raise BuilderNotFound(f"no builder named {name!r}", "See `mabgui builders`.")


async def inspect(
    name: str | None = None,
    *,
    bootstrap: bool = False,
    progress: ProgressCallback | None = None,
    timeout_s: float | None = None,
) -> Builder:
    """``docker buildx inspect [--bootstrap] NAME``; with ``bootstrap``, stream its progress.

    Without a name, the current builder. Raises :class:`BuildxError` with buildx's message.
    """
    args = ["inspect", *(["--bootstrap"] if bootstrap else [])]
    if name:
        args += ["--", check_name(name)]
    limit = (
        timeout_s
        if timeout_s is not None
        else (BOOTSTRAP_TIMEOUT_S if bootstrap else INSPECT_TIMEOUT_S)
    )
    if bootstrap and progress is not None:
        res = await _stream(args, limit, progress)
    else:
        res = await run_buildx(args, limit)
    target = f"builder {name!r}" if name else "the current builder"
    if not res.ok:
        raise command_error(
            res, f"bootstrapping {target} failed" if bootstrap else f"cannot inspect {target}"
        )
    builder = parse_inspect(res.stdout)
    if builder.error and not builder.nodes:
        _log.warning("builder %r is in error: %s", builder.name, builder.error)
        raise refuse(
            f"builder {builder.name!r} is in error: {builder.error}", explain(builder.error)
        )
    return builder


async def bootstrap(
    name: str, progress: ProgressCallback | None = None, timeout_s: float = BOOTSTRAP_TIMEOUT_S
) -> Builder:
    """Start every node of ``name`` (``inspect --bootstrap``), streaming buildx's progress."""
    return await inspect(name, bootstrap=True, progress=progress, timeout_s=timeout_s)


async def _stream(
    args: Sequence[str], timeout_s: float, progress: ProgressCallback
) -> process.CommandResult:
    """Run buildx, handing each stderr line (its progress) to ``progress`` as it arrives.

    stdout (the inspect text, a few kB) is read once stderr ends; all in the caller's task.
    """
    argv = [await _docker(), "buildx", *args]
    proc = await process.spawn(argv)
    assert proc.stdout is not None
    assert proc.stderr is not None
    err_lines: list[str] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip("\r\n")
                err_lines.append(line)
                progress(line)
            out = await proc.stdout.read()
            await proc.wait()
    except TimeoutError:
        await process.stop(proc, grace=1.0)
        _log.warning("docker buildx %s timed out after %g s", " ".join(args[:2]), timeout_s)
        raise BuildxTimeout(
            f"`docker buildx {' '.join(args[:2])}` did not finish within {timeout_s:g} s "
            "and was stopped",
            "A node did not start in time: check its endpoint, or remove it.",
        ) from None
    except asyncio.CancelledError:
        await process.stop(proc, grace=1.0)
        raise
    return process.CommandResult(
        argv, proc.returncode if proc.returncode is not None else -1,
        out.decode(errors="replace"), "\n".join(err_lines),
    )  # fmt: skip


async def use(name: str, *, default: bool = False, global_: bool = False) -> None:
    """Make ``name`` the current builder (``docker buildx use``)."""
    args = ["use", *(["--default"] if default else []), *(["--global"] if global_ else [])]
    res = await run_buildx([*args, "--", check_name(name)], CHANGE_TIMEOUT_S)
    if not res.ok:
        raise command_error(res, f"cannot use builder {name!r}")


async def stop(name: str) -> None:
    """Stop the BuildKit daemons of ``name`` (``docker buildx stop``)."""
    res = await run_buildx(["stop", "--", check_name(name)], CHANGE_TIMEOUT_S)
    if not res.ok:
        raise command_error(res, f"cannot stop builder {name!r}")


def restart_argv(name: str, driver: str) -> list[list[str]]:
    """The commands :func:`restart` runs (for a confirmation); none for the docker driver."""
    if driver == "docker":
        return []
    return [["docker", "buildx", "stop", "--", name],
            ["docker", "buildx", "inspect", "--bootstrap", "--", name]]  # fmt: skip


async def restart(
    name: str, *, driver: str = "", progress: ProgressCallback | None = None
) -> Builder:
    """Stop and bootstrap ``name`` so its BuildKit detects the emulators registered since.

    The ``docker`` driver's BuildKit lives inside dockerd: that needs a daemon restart, which
    mabgui leaves to the user (raised as a :class:`BuildxError` saying so).
    """
    if driver == "docker" or name == "default":
        raise refuse(
            f"{name} uses the docker driver: its BuildKit is part of dockerd",
            "Restart the Docker daemon (sudo systemctl restart docker, or Docker Desktop → "
            "Restart) so it lists newly enabled emulators.",
        )
    await stop(name)
    return await bootstrap(name, progress=progress)


async def remove(
    names: Sequence[str] = (),
    *,
    keep_state: bool = False,
    keep_daemon: bool = False,
    all_inactive: bool = False,
) -> str:
    """Remove builders (``docker buildx rm``); returns buildx's report (``X removed``).

    ``all_inactive`` removes every builder that is not running (buildx asks no question: the
    caller confirmed). buildx may report an error for a node it could not reach although the
    builder is gone from its store; the error is raised all the same.
    """
    if not names and not all_inactive:
        raise refuse("no builder to remove", "Name one or more builders.")
    if "default" in names:
        raise refuse(
            "the default builder cannot be removed",
            "It belongs to the docker context; `docker context rm` removes a context's builder.",
        )
    args = [
        "rm",
        *(["--keep-state"] if keep_state else []),
        *(["--keep-daemon"] if keep_daemon else []),
    ]
    if all_inactive:
        args += ["--all-inactive", "--force"]
    for name in names:
        check_name(name)
    res = await run_buildx([*args, "--", *names] if names else args, CHANGE_TIMEOUT_S)
    if not res.ok:
        raise command_error(
            res, f"cannot remove {', '.join(repr(n) for n in names) or 'inactive builders'}"
        )
    return (res.stderr + res.stdout).strip()


async def disk_usage(name: str | None = None) -> DiskUsage:
    """Build-cache totals of a builder (``docker buildx du``)."""
    args = ["du", *([f"--builder={check_name(name)}"] if name else [])]
    res = await run_buildx(args, INSPECT_TIMEOUT_S * 2)
    if not res.ok:
        raise command_error(res, f"cannot read the disk usage of {name or 'the current builder'!r}")
    return parse_du(res.stdout, name or "")

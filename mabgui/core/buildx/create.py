"""Creating builders: validate the request, build the argv, create node by node, undo on failure."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import replace

from mabgui.core.buildx.commands import (
    CHANGE_TIMEOUT_S,
    ProgressCallback,
    bootstrap,
    get_builder,
    remove,
    run_buildx,
    use,
)
from mabgui.core.buildx.errors import BuildxError, command_error, error_message, refuse
from mabgui.core.buildx.model import Builder, CreateRequest, CreateResult

DRIVERS = ("docker-container", "remote", "kubernetes")
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")


def validate_create(req: CreateRequest) -> None:
    """Refuse a request buildx would refuse, with a clear reason (before anything is created)."""
    if not _NAME_RE.match(req.name):
        raise refuse(
            f"invalid builder name {req.name!r}",
            "Use letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    if req.name == "default":
        raise refuse("'default' is the docker context's own builder", "Pick another name.")
    if req.driver == "docker":
        raise refuse(
            "builders with the docker driver cannot be created: there is one per docker context",
            "Create a docker context (`docker context create`) or pick docker-container.",
        )
    if req.driver not in DRIVERS:
        raise refuse(f"unknown driver {req.driver!r}", f"Drivers: {', '.join(DRIVERS)}.")
    if not req.nodes:
        raise refuse("a builder needs at least one node")
    names = [n.name for n in req.nodes if n.name]
    if len(names) != len(set(names)):
        raise refuse("two nodes have the same name", "Give each node its own name.")
    for i, node in enumerate(req.nodes):
        if node.name and not _NAME_RE.match(node.name):
            raise refuse(f"invalid node name {node.name!r}", "Letters, digits, '.', '_', '-'.")
        if req.driver == "remote" and "://" not in node.endpoint:
            raise refuse(
                f"node {i + 1}: the remote driver needs an endpoint such as tcp://HOST:1234",
                "The address buildkitd listens on (buildkitd --addr tcp://0.0.0.0:1234).",
            )
        if req.driver == "kubernetes":
            replicas = node.driver_opts.get("replicas", "1")
            if not replicas.isdigit() or int(replicas) < 1:
                raise refuse(f"replicas must be a whole number ≥ 1, not {replicas!r}")
        if (i > 0 or req.append) and len(req.nodes) > 1 and not node.endpoint:
            raise refuse(
                f"node {i + 1} has no endpoint",
                "Name a docker context or an endpoint (ssh://user@arm64-host, tcp://…).",
            )
        for key in node.driver_opts:
            if not key or "=" in key or "," in key:
                raise refuse(f"invalid driver option name {key!r}")


def parse_driver_opts(items: Iterable[str]) -> dict[str, str]:
    """``["network=host", "image=x,foo=bar"]`` → dict; raises BuildxError on a bad item."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise refuse(f"driver option {part!r} is not KEY=VALUE", "e.g. network=host")
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def create_argv(req: CreateRequest, index: int) -> list[str]:
    """The ``docker buildx create`` arguments (after ``buildx``) for node ``index`` of ``req``."""
    node = req.nodes[index]
    args = ["create", "--name", req.name]
    if index > 0 or req.append:
        args.append("--append")
    else:
        args += ["--driver", req.driver]
    if node.name:
        args += ["--node", node.name]
    for key, value in node.driver_opts.items():
        args += ["--driver-opt", f"{key}={value}"]
    if node.platforms:
        args += ["--platform", ",".join(str(p) for p in node.platforms)]
    if node.buildkitd_flags:
        args += ["--buildkitd-flags", node.buildkitd_flags]
    if node.buildkitd_config:
        args += ["--buildkitd-config", node.buildkitd_config]
    if node.endpoint:
        args += ["--", node.endpoint]  # an endpoint is never read as a flag
    return args


async def create(req: CreateRequest, progress: ProgressCallback | None = None) -> CreateResult:
    """Create (or extend) a builder node by node, bootstrap it, and optionally use it.

    When a step fails, what this call created is removed again — the whole builder when it is
    new, the added nodes (``create --leave``) when appending — unless ``keep_on_failure``:
    then a failed bootstrap returns the kept builder with ``error`` set. Other failures raise
    :class:`BuildxError` carrying buildx's message.
    """
    validate_create(req)
    req = await _name_nodes(req)
    say = progress or (lambda _line: None)
    added: list[str] = []
    created = False
    try:
        for i in range(len(req.nodes)):
            args = create_argv(req, i)
            say("$ docker buildx " + " ".join(args))
            res = await run_buildx(args, CHANGE_TIMEOUT_S)
            for line in (res.stderr + res.stdout).splitlines():
                if line.strip():
                    say(line)
            if not res.ok:
                raise command_error(res, f"creating builder {req.name!r} failed", req.driver)
            if i == 0 and not req.append:
                created = True
            added.append(req.nodes[i].name)
    except BaseException:  # a failure or a cancel: the cancel was delivered, undo can await
        if created or added:
            await _undo(req, created, added, say)
        raise
    if not req.bootstrap:
        if req.use:
            await use(req.name)
        builder = await _try_get(req.name)
        return CreateResult(builder, bootstrapped=False)
    say(f"$ docker buildx inspect --bootstrap -- {req.name}")
    try:
        builder = await bootstrap(req.name, progress=say)
    except BuildxError as exc:
        if req.keep_on_failure:
            return CreateResult(await _try_get(req.name), bootstrapped=False, error=exc)
        await _undo(req, created, added, say)
        raise BuildxError(str(exc), exc.hint, exc.output) from exc
    except BaseException:  # cancelled: leave nothing half-created behind
        if not req.keep_on_failure:
            await _undo(req, created, added, say)
        raise
    if req.use:
        await use(req.name)
        builder = replace(builder, current=True)
    return CreateResult(builder, bootstrapped=True)


async def _name_nodes(req: CreateRequest) -> CreateRequest:
    """Give every node a name (buildx's own ``NAME<i>`` scheme) so a failure can be undone."""
    taken: set[str] = set()
    start = 0
    if not req.append and await _try_get(req.name) is not None:  # buildx's words mislead here
        raise BuildxError(
            f"a builder named {req.name!r} already exists",
            "Pick another name, add a node to it (append), or remove it first; it was left as is.",
        )
    if req.append:
        existing = await get_builder(req.name)
        taken = {n.name for n in existing.nodes}
        start = len(existing.nodes)
        if existing.driver and existing.driver != req.driver and req.driver != "docker-container":
            raise refuse(
                f"builder {req.name!r} uses the {existing.driver} driver, not {req.driver}",
                "Nodes of one builder share its driver.",
            )
    taken |= {n.name for n in req.nodes if n.name}
    nodes = []
    counter = start
    for node in req.nodes:
        if not node.name:
            while f"{req.name}{counter}" in taken:
                counter += 1
            node = replace(node, name=f"{req.name}{counter}")
            taken.add(node.name)
        nodes.append(node)
    return replace(req, nodes=tuple(nodes))


async def _try_get(name: str) -> Builder | None:
    try:
        return await get_builder(name)
    except BuildxError:
        return None


async def _undo(req: CreateRequest, created: bool, added: list[str], say: ProgressCallback) -> None:
    """Remove what a failed create made: the new builder, or the nodes appended to an old one."""
    with contextlib.suppress(BuildxError):
        if created:
            say(f"$ docker buildx rm -- {req.name}")
            say(await remove([req.name]))
            return
        for node in added:
            if not node:
                continue
            args = ["create", "--name", req.name, "--leave", "--node", node]
            say("$ docker buildx " + " ".join(args))
            res = await run_buildx(args, CHANGE_TIMEOUT_S)
            if not res.ok:
                say(error_message(res.stderr))

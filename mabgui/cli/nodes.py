"""Multi-node builders in the CLI: routing warnings, ``mabgui builder pin-native``, build lanes.

Kept apart from :mod:`mabgui.cli.builders` so the node-routing views stay one small module; the
builders and build commands call the helpers here.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mabgui.cli.render import CliError, command, json_flag, print_json, progress_printer


def warnings_json(builder: Any) -> list[dict[str, Any]]:
    """A builder's ``"warnings"`` in ``mabgui builders --json`` and ``builder inspect --json``."""
    from mabgui.core.buildx import routing

    return [p.to_json() for p in routing.routing_problems(builder)]


def print_warnings(builder: Any, *, indent: str = "") -> bool:
    """Print the routing warnings of ``builder``; True when there were any."""
    from mabgui.core.buildx import routing

    problems = routing.routing_problems(builder)
    for p in problems:
        print(f"{indent}! {p.message}")
        print(f"{indent}    {p.reason}")
        print(f"{indent}    Fix: {p.fix}")
    return bool(problems)


async def with_pins(builders: Sequence[Any]) -> list[Any]:
    """``builders`` with their nodes' pinned platforms read (``ls --format json`` merges them)."""
    from mabgui.core.buildx import routing

    return await routing.pinned_builders(builders)


def lanes_json(builder: Any, platforms: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Per platform: the node that builds it and whether natively there (buildx's rule)."""
    from mabgui.core.buildx import routing

    out: dict[str, dict[str, Any]] = {}
    if builder is None:
        return out
    for p, where in routing.route(builder, platforms).items():
        out[str(p)] = {"node": where.node, "native": where.native,
                       "emulation": "native" if where.native else "qemu"}  # fmt: skip
    return out


def add_lanes(summary: dict[str, Any], lanes: Mapping[str, Mapping[str, Any]]) -> None:
    """Add ``"nodes"``: per platform lane, its node and native/QEMU, to a build summary.

    Beside ``"platforms"`` rather than inside it: those stay what the rawjson stream says, the
    same for ``mabgui replay`` of the recorded stream (which cannot know the builder).
    """
    summary["nodes"] = {name: dict(where) for name, where in lanes.items()}


async def _builder_pin_native(args: argparse.Namespace) -> int:
    from mabgui.core import buildx
    from mabgui.core.buildx import routing

    try:
        builder = await routing.pin_native(args.name, progress=progress_printer(args.json))
    except buildx.BuildxError as exc:
        raise CliError(str(exc), exc.hint) from exc
    pins = {n.name: [str(p) for p in n.pinned] for n in builder.nodes}
    if args.json:
        print_json({"name": builder.name, "pinned": pins, "warnings": warnings_json(builder)})
        return 0
    for node, platforms in pins.items():
        print(f"node {node} pinned to {', '.join(platforms) or '(nothing)'}")
    if not print_warnings(builder):
        print(f"builder {builder.name}: each platform a node runs natively now goes to that node")
    return 0


def add_builder_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui builder pin-native``."""
    p = actions.add_parser(
        "pin-native",
        help="pin each node of a multi-node builder to the platform it runs natively",
        description="buildx sends a platform to a node's native hardware only when every node is "
        "pinned (docker/buildx#366); otherwise the first node listing the platform builds it, "
        "maybe under QEMU. This pins each running node to the platform its worker lists first "
        "(docker buildx create --append --node N --platform P ENDPOINT).",
    )
    p.add_argument("name", metavar="NAME")
    json_flag(p)
    command(p, _builder_pin_native)


async def build_lanes(builder: Any, platforms: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Before a build on a multi-node ``builder``: where each platform goes, with a warning on
    stderr for a platform sent to QEMU while another node runs it natively."""
    import sys

    from mabgui.core.buildx import routing

    if builder is None or len(builder.nodes) < 2 or not platforms:
        return lanes_json(builder, platforms) if builder is not None else {}
    (builder,) = await with_pins([builder])
    for p in routing.misrouted(builder, platforms):
        print(f"mabgui: warning: {p.message}. {p.reason} Fix: {p.fix}", file=sys.stderr)
    return lanes_json(builder, platforms)


def print_lanes(builder: Any, lanes: Mapping[str, Mapping[str, Any]]) -> None:
    """The text form, for a multi-node builder: one line per platform naming its node."""
    if builder is None or len(builder.nodes) < 2:
        return
    for name, where in lanes.items():
        how = "natively" if where["native"] else "under QEMU"
        print(f"{name:<16} built on node {where['node']} {how}")


async def precheck_create(req: Any) -> None:
    """Before ``builder create``: a reachable remote endpoint, pins the node can build."""
    import sys

    from mabgui.core import binfmt, engine
    from mabgui.core.buildx import create_checks

    for reason in await create_checks.check_endpoints(req):
        print(f"mabgui: warning: {reason}; builds will fail until it answers", file=sys.stderr)
    if req.driver != "docker-container" or not any(n.platforms for n in req.nodes):
        return
    native = (await engine.engine_facts()).platform
    try:
        state = binfmt.read_state()
    except OSError:
        return  # emulators unknown: leave it to buildx
    emulatable = state.enabled_platforms() if state.enabled else []
    create_checks.check_pins(req, native, emulatable)


def create_hint(exc: Any, req: Any) -> str:
    """A clearer hint for a failed create (missing BuildKit image, unreachable endpoint)."""
    from mabgui.core.buildx import create_checks

    if req is None or isinstance(exc, create_checks.CreateRefused):
        return ""
    output = f"{exc}\n{getattr(exc, 'output', '')}"
    return create_checks.missing_image_hint(output, req) or create_checks.endpoint_hint(output, req)


async def current_builder() -> str:
    """The current builder's name ("" when buildx cannot list them)."""
    from mabgui.core import buildx

    try:
        return next((b.name for b in await buildx.list_builders() if b.current), "")
    except buildx.BuildxError:
        return ""


def print_after_remove(current: str, removed: Sequence[str]) -> None:
    """Say what happens next when the current builder was removed (buildx says nothing)."""
    if not current or current not in removed:
        return
    print(
        f"{current} was the current builder: builds without --builder now use the docker "
        "context's own builder (default), as buildx does. Pick another with "
        "`mabgui builder use NAME`."
    )

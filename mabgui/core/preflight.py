"""The checks before a build starts that need the engine: a join above the areas of core.

A build (:mod:`mabgui.core.build`) knows nothing of builders, emulators or image references;
this module brings them together: the builder exists, which platforms it lists and which of
its nodes' platforms are native, whether an emulator is registered for the others, tags are
image references, and ``--load`` of several platforms has the containerd image store. It
refuses what cannot work and warns about what may not, and hands the builder's native
platforms to the build (:attr:`Validation.native`), which marks emulated lanes by them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mabgui.core import binfmt, buildx, engine
from mabgui.core.build import BuildSpec, OutputKind, Validation, check_spec
from mabgui.core.platform import Platform, is_emulated
from mabgui.core.registry.reference import InvalidReference, parse_reference

__all__ = [
    "builder_native_platforms",
    "builder_platforms",
    "check_tags",
    "platform_warnings",
    "validate",
]


def builder_native_platforms(builder: Any) -> tuple[Platform, ...]:
    """The platforms ``builder`` runs natively: the first platform each node's worker lists.

    Uses ``Builder.native_platforms()`` when buildx provides it; otherwise (an older buildx
    module) the first platform of each node.
    """
    method = getattr(builder, "native_platforms", None)
    if callable(method):
        natives = tuple(method())
        if natives:
            return natives
    seen: dict[Platform, None] = {}
    for node in getattr(builder, "nodes", ()):
        platforms = getattr(node, "platforms", ())
        if platforms:
            seen.setdefault(platforms[0], None)
    return tuple(seen)


async def builder_platforms(builder: str) -> list[Platform]:
    """The platforms ``builder`` lists (``docker buildx ls``); raises if it does not exist."""
    return list((await buildx.get_builder(builder)).platforms)


def check_tags(spec: BuildSpec, v: Validation) -> None:
    """Each tag is an image reference without a digest."""
    for tag in spec.tags:
        if "@" in tag:
            v.errors.append(f"tag {tag!r}: a build tag cannot carry a digest")
            continue
        try:
            parse_reference(tag)
        except InvalidReference as exc:
            v.errors.append(f"tag {tag!r} is not a valid image reference: {exc}")


def _emulators() -> set[Platform]:
    try:
        return binfmt.read_state().enabled_platforms()
    except (OSError, binfmt.BinfmtError):
        return set()


def platform_warnings(
    spec: BuildSpec, chosen: Any, builders: Sequence[Any], natives: tuple[Platform, ...]
) -> list[str]:
    warnings: list[str] = []
    offered = set(chosen.platforms)
    emulated_ok: set[Platform] | None = None
    for platform in spec.platforms:
        if platform in offered:
            continue
        others = [b.name for b in builders if b is not chosen and platform in b.platforms]
        where = f"; builder(s) {', '.join(others)} offer it" if others else ""
        node_oses = sorted({n.os for n in natives})
        if natives and platform.os not in node_oses:
            warnings.append(
                f"builder {spec.builder!r} does not list {platform}: its nodes run "
                f"{', '.join(node_oses)}, and QEMU emulates processors, not operating systems, "
                f"so no RUN step can run for {platform.os}{where}; use a builder with a "
                f"{platform.os} node"
            )
            continue
        if emulated_ok is None:
            emulated_ok = _emulators()
        native = any(not is_emulated(platform, n) for n in natives)
        if platform in emulated_ok or native:
            warnings.append(
                f"builder {spec.builder!r} does not list {platform}, but "
                + ("it runs natively on one of its nodes" if native else
                   "a QEMU emulator for it is registered")
                + f", so it will most likely build{where}"
            )  # fmt: skip
        else:
            warnings.append(
                f"builder {spec.builder!r} does not list {platform} and no emulator for it "
                f"is registered{where}: install one (mabgui emulators install "
                f"{platform.architecture}) or pick a builder with a native node"
            )
    return warnings


async def validate(spec: BuildSpec) -> Validation:
    """Everything :func:`~mabgui.core.build.check_spec` checks, plus the tags, the builder,
    its platforms (native or emulated) and the image store. ``native`` is filled from the
    builder's nodes when they could be listed."""
    v = check_spec(spec)
    check_tags(spec, v)
    builders: list[Any] = []
    try:
        builders = list(await buildx.list_builders())
    except buildx.BuildxError as exc:
        # Not proof that anything is wrong (a slow node, a builder being created elsewhere):
        # buildx itself will refuse an unknown builder.
        v.warnings.append(f"could not check the builder and its platforms: {exc}")
    # No --builder: buildx builds on the current builder, and so the checks look at that one.
    chosen = next(
        (b for b in builders if (b.name == spec.builder if spec.builder else b.current)), None
    )
    if builders and chosen is None and spec.builder:
        names = ", ".join(b.name for b in builders)
        v.errors.append(f"builder {spec.builder!r} does not exist (builders: {names})")
    if chosen is not None and spec.per_platform and chosen.driver == "docker":
        v.errors.append(
            f"builder {chosen.name!r} uses the docker driver, which cannot push by digest"
            " (a per-platform build needs it): pick or create a docker-container builder"
            " (mabgui builder create)"
        )
    if chosen is not None:
        v.native = builder_native_platforms(chosen)
        if spec.platforms:
            named = replace(spec, builder=chosen.name)
            v.warnings += platform_warnings(named, chosen, builders, v.native)
    if spec.output is OutputKind.LOAD and len(spec.platforms) > 1:
        try:
            info = await engine.daemon_info()
        except engine.EngineError as exc:
            v.warnings.append(f"cannot check the image store for --load: {exc}")
        else:
            if not info.containerd_image_store:
                v.errors.append(
                    "load of several platforms needs the containerd image store "
                    "(Docker Desktop: Settings → General → Use containerd; dockerd: "
                    '"features": {"containerd-snapshotter": true}); or push, or build one '
                    "platform"
                )
    return v

"""``mabgui build``, ``replay`` and ``history``: multi-platform builds."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from mabgui.cli.render import (
    CliError,
    bool_flag,
    command,
    error,
    fmt_s,
    json_flag,
    print_json,
    safe,
)


class _BuildPrinter:
    """Compact per-platform progress: live lane lines on a terminal, step lines otherwise."""

    def __init__(self, stream: Any, live: bool) -> None:
        self.out = stream
        self.live = live and stream.isatty()
        self._drawn = 0
        self._last = 0.0
        self._printed: set[Any] = set()

    def batch(self, progress: Any, events: list[Any]) -> None:
        from mabgui.core import progress as P

        if self.live:
            for ev in events:
                if isinstance(ev, P.MessageAdded) and ev.message.level != "info":
                    self._clear()
                    print(safe(ev.message.text), file=self.out)
            self._redraw(progress, force=any(isinstance(e, P.BuildFinished) for e in events))
            return
        for ev in events:
            if isinstance(ev, P.StepChanged):
                step = ev.step
                state = step.state
                if state in (P.StepState.QUEUED, P.StepState.RUNNING):
                    continue
                if step in self._printed and state is not P.StepState.ERROR:
                    continue  # print a finished step once (cached after done is no news)
                self._printed.add(step)
                where = str(step.platform) if step.platform is not None else "shared"
                line = f"{where:<14} {step.state.value:<8} {fmt_s(step.duration_s):>7}  "
                print(line + safe(step.label[:100]), file=self.out)
                if step.state is P.StepState.ERROR:
                    print(f"{'':<14} error: {safe(step.error)}", file=self.out)
            elif isinstance(ev, P.MessageAdded) and ev.message.level != "info":
                print(safe(ev.message.text), file=self.out)
        self.out.flush()

    def _clear(self) -> None:
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(self, progress: Any, force: bool) -> None:
        import shutil
        import time

        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = max(40, shutil.get_terminal_size((100, 20)).columns - 1)
        lines = []
        wall = time.time()
        for platform, lane in progress.lanes.items():
            bar_len = 12
            filled = round(lane.progress * bar_len)
            bar = "█" * filled + "·" * (bar_len - filled)
            step = lane.failed_step or lane.current_step
            what = step.label if step is not None else ""
            elapsed = ""
            if lane.started is not None:
                end = lane.completed if lane.completed is not None else wall
                elapsed = fmt_s(end - lane.started)
            emu = "*" if lane.emulated else " "
            text = f"{platform!s:<14}{emu}{bar} {lane.state.value:<8} {elapsed:>6}  {safe(what)}"
            lines.append(text[:width])
        self._clear()
        for line in lines:
            print(line, file=self.out)
        self._drawn = len(lines)
        self.out.flush()


def _print_build_summary(progress: Any, lanes: Any = None) -> None:
    summary = progress.summary()
    lanes = lanes or {}
    for platform, lane in progress.lanes.items():
        steps = lane.steps
        cached = sum(1 for s in steps if s.cached)
        total = sum(s.duration_s or 0.0 for s in steps)
        state = "ok" if lane.ok else "FAILED" if lane.error else lane.state.value
        routed = lanes.get(str(platform))  # the node's own native platform decides, if known
        emulated = not routed["native"] if routed else lane.emulated
        emu = " (emulated)" if emulated else ""
        counts = f"{len(steps):>3} steps ({cached} cached)"
        print(f"{platform!s:<16} {state:<9} {counts} {total:7.1f}s{emu}")
        if lane.error:
            print(f"{'':<16} {safe(lane.error)}")
        elif not steps:
            print(f"{'':<16} no step ran for this platform")
    print(f"{'shared':<16} {'':<9} {len(summary['shared']):>3} steps")
    _print_emulation_cost(progress, lanes)
    if summary["duration_s"] is not None:
        print(f"duration: {summary['duration_s']:.1f}s")
    if summary["digest"]:
        print(f"digest: {safe(summary['digest'])}")
    if summary["error"]:
        print(f"error: {safe(summary['error'])}")
    if progress.native_assumed and progress.natives and progress.lanes:
        print(
            f"(native platform not recorded: taken to be {progress.natives[0]}; "
            "give --native to say which)"
        )


def _print_emulation_cost(progress: Any, lanes: Any = None, top: int = 3) -> None:
    from mabgui.core import progress as P

    # per platform lane: its node and native answer, when the builder's routing is known
    nodes = {
        p: (w["node"], w["native"]) for p in progress.lanes if (w := (lanes or {}).get(str(p)))
    }
    costs = P.emulation_insight(progress, nodes=nodes or None)
    costs = [c for c in costs if c.ratio >= 1.2 and c.extra_s >= 0.1]
    costs = costs[:top]
    if not costs:
        return
    native = costs[0].native.platform
    print(f"emulation cost (same RUN step, native {native} vs QEMU):")
    for line in P.compared(costs):
        print(f"  compared {line}")
    for c in costs:
        label = c.label if len(c.label) <= 60 else c.label[:59] + "…"
        print(
            f"  {c.emulated.platform!s:<14} {c.ratio:5.1f}× slower (+{c.extra_s:.1f}s)  "
            f"{safe(label)}"
        )
    if any(c.cross_compile_hint for c in costs):
        print("  hint: run such steps once, natively: FROM --platform=$BUILDPLATFORM … AS build,")
        print("        cross-compile for $TARGETPLATFORM there and COPY --from=build the result")


def _build_failure(progress: Any) -> CliError:
    """Name the failing platform(s) and step(s) for stderr."""
    result = progress.result
    failed = [(p, lane.failed_step) for p, lane in progress.lanes.items() if lane.failed_step]
    if failed:
        parts = [f"{p} at {step.label}: {step.error}" for p, step in failed]
        message = "build failed on " + "; ".join(parts)
    elif result is not None and result.canceled:
        message = "build canceled"
    else:
        message = f"build failed: {(result.error if result else '') or progress.error_text}"
    hint = ""
    if failed:
        step = failed[0][1]
        tail = [progress.log.text(i) for i in step.log_indexes[-5:]]
        if tail:
            hint = "last log lines of that step:\n    " + "\n    ".join(tail)
    return CliError(message, hint)


def _failed(progress: Any, as_json: bool) -> int:
    """A failed build's exit: with ``--json`` the summary (``"ok": false``) is already the one
    JSON document on stdout, so the reason goes to stderr only."""
    failure = _build_failure(progress)
    if not as_json:
        raise failure
    error(str(failure), failure.hint)
    return failure.code


def _build_spec_from_args(args: argparse.Namespace) -> Any:
    """The spec the options describe (core's parse errors reach ``main`` as they are)."""
    from mabgui.core import build as B

    platforms = B.parse_platforms(args.platform or [])
    build_args = dict(B.parse_build_arg(a) for a in args.build_arg or [])
    secrets = [B.Secret.parse(s) for s in args.secret or []]
    output, dest = B.OutputKind.DEFAULT, ""
    chosen = [o for o in (args.push and "push", args.load and "load", args.output) if o]
    if len(chosen) > 1:
        raise CliError("give only one of --push, --load, --output")
    if args.push:
        output = B.OutputKind.PUSH
    elif args.load:
        output = B.OutputKind.LOAD
    elif args.output:
        fields = dict(part.partition("=")[::2] for part in args.output.split(",") if "=" in part)
        kind = fields.get("type", "")
        dest = fields.get("dest", "")
        kinds = {
            "local": B.OutputKind.LOCAL,
            "oci": B.OutputKind.OCI,
            "cacheonly": B.OutputKind.CACHE,
            "registry": B.OutputKind.PUSH,
            "docker": B.OutputKind.LOAD,
        }
        if kind not in kinds:
            raise CliError(
                f"--output {args.output!r}: unsupported type {kind!r}",
                "use type=local,dest=DIR | type=oci,dest=FILE.tar | type=cacheonly | "
                "type=registry | type=docker",
            )
        output = kinds[kind]
    return B.BuildSpec(
        context=args.context,
        dockerfile=args.file or "",
        target=args.target or "",
        platforms=platforms,
        tags=list(args.tag or []),
        build_args=build_args,
        secrets=secrets,
        output=output,
        output_dest=dest,
        no_cache=args.no_cache,
        pull=args.pull,
        provenance=args.provenance,
        sbom=args.sbom,
        builder=args.builder or "",
    )


def _check_record(path: str) -> None:
    """``--record FILE`` must be writable before anything starts (not after the build)."""
    import os

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CliError(f"--record {path!r} is a directory", "give a file name", code=1)
    if not os.path.isdir(folder):
        raise CliError(f"--record: folder {folder!r} does not exist", "nothing was started")
    if not os.access(folder, os.W_OK):
        raise CliError(f"--record: folder {folder!r} is not writable", "nothing was started")


def _write_private(path: str, data: bytes) -> None:
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


async def _build(args: argparse.Namespace) -> int:
    import contextlib

    from mabgui.cli import nodes
    from mabgui.core import build as B
    from mabgui.core import preflight, preflight_push

    if args.append and not args.per_platform:
        raise CliError("--append goes with --per-platform", "e.g. --per-platform --append -t REF")
    if args.per_platform and args.record:
        raise CliError("--record goes with one build; --per-platform runs one per platform")
    if args.per_platform and (args.load or args.output):
        raise CliError("--per-platform pushes (by digest, then the index): no --load/--output")
    spec = _build_spec_from_args(args)
    if args.per_platform:
        spec.output = B.OutputKind.PUSH
        spec.per_platform = True
    if args.record:
        _check_record(args.record)
    # Without --builder, buildx uses the current builder: so does mabgui (no --builder passed).
    used = await preflight_push.resolve_builder(spec.builder or None)
    lanes = await nodes.build_lanes(used, spec.platforms)  # node and native/QEMU per platform
    if spec.output is B.OutputKind.PUSH:
        await preflight_push.check_push(used, spec.tags)
    validation = await preflight.validate(spec)
    for warning in validation.warnings:
        print(f"mabgui: warning: {safe(warning)}", file=sys.stderr)
    if not validation.ok:
        raise B.BuildError(validation.errors, validation.warnings)
    if spec.per_platform:
        return await _per_platform(args, spec, validation, used, lanes)
    run = B.BuildRun(
        spec,
        save_history=not args.no_history,
        validate_first=False,
        native=validation.native or None,
    )
    printer = _BuildPrinter(sys.stderr if args.json else sys.stdout, live=not args.quiet)
    try:
        async with contextlib.aclosing(run.events()) as batches:
            async for batch in batches:
                if not args.quiet:
                    printer.batch(run.progress, batch)
    finally:
        if args.record and run.raw_size:
            try:  # scrubbed of build-arg values and secrets, like the history's copy
                await asyncio.to_thread(_write_private, args.record, run.saved_stream())
            except OSError as exc:
                print(f"mabgui: warning: --record {args.record!r}: {exc}", file=sys.stderr)
    if run.history_error:
        print(f"mabgui: warning: {safe(run.history_error)}", file=sys.stderr)
    progress = run.progress
    if args.json:
        summary = {**progress.summary(), "builder": used.name if used else spec.builder or None}
        nodes.add_lanes(summary, lanes)
        print_json(summary)
    else:
        print()
        _print_build_summary(progress, lanes)
        nodes.print_lanes(used, lanes)
        if run.history_id:
            print(f"saved as build {run.history_id}")
    if progress.result is None or not progress.result.ok:
        return _failed(progress, args.json)
    return 0


async def _per_platform(
    args: argparse.Namespace, spec: Any, validation: Any, used: Any, lanes: Any
) -> int:
    """``--per-platform``: each platform its own build pushed by digest, then the index of
    those that succeeded (exit 1 when any failed; the index of the others is pushed)."""
    import contextlib

    from mabgui.cli import nodes
    from mabgui.core import perplatform

    # one build per node of the builder, at least two (QEMU builds wait mostly on one core)
    nodes_count = len(getattr(used, "nodes", None) or ())
    jobs = args.jobs or max(perplatform.DEFAULT_JOBS, nodes_count)
    run = perplatform.PerPlatformRun(
        spec,
        append=args.append,
        jobs=jobs,
        native=validation.native or None,
        sub_build=perplatform.buildx_sub_build(save_history=not args.no_history),
    )
    printer = _BuildPrinter(sys.stderr if args.json else sys.stdout, live=not args.quiet)
    async with contextlib.aclosing(run.events()) as batches:
        async for batch in batches:
            if not args.quiet:
                printer.batch(run.progress, batch)
    result = run.result
    if args.json:
        print_json({**result.to_json(), "builder": used.name if used else spec.builder or None})
    else:
        print()
        _print_build_summary(run.progress, lanes)
        nodes.print_lanes(used, lanes)
        for outcome in result.outcomes:
            mark = "ok" if outcome.ok else "FAILED"
            what = outcome.digest if outcome.ok else outcome.error
            print(f"{outcome.platform!s:<16} {mark:<9} {safe(what)}")
        print(safe(result.summary()))
        if result.index_hint:
            print(f"hint: {safe(result.index_hint)}")
        if result.failed and result.index is not None:
            one = result.failed[0].platform
            print(
                f"rebuild a failed platform alone and append it: mabgui build --per-platform"
                f" --append --platform {one} -t {safe(result.target)} …"
            )
    if result.ok:
        return 0
    error(result.summary(), result.index_hint)
    return 1


def _open_replay(target: str, native: Any) -> Any:
    """A recorded file, else a saved build's id (``mabgui history`` lists them)."""
    import os

    from mabgui.core.build import history

    if not os.path.lexists(target) and os.sep not in target and "/" not in target:
        folder = history.history_dir() / target
        if folder.is_dir():  # a saved build: its errors (damaged) are its own
            return history.load(target, native=native)
    return history.open_recording(target, native=native)


async def _replay(args: argparse.Namespace) -> int:
    from mabgui.core import build as B

    native = B.parse_platforms([args.native]) if args.native else None
    progress = await asyncio.to_thread(_open_replay, args.file, native)
    if args.json:
        print_json(progress.summary())
    else:
        _print_build_summary(progress)
    if progress.result is None or not progress.result.ok:
        return _failed(progress, args.json)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mabgui build …`` and ``mabgui replay FILE`` (``history``: :mod:`mabgui.cli.history`)."""
    p = sub.add_parser(
        "build",
        help="run a (multi-platform) docker buildx build with per-platform progress",
        description="Build like `docker buildx build`, showing one progress line per platform. "
        "The build is saved in the history (spec without secret values, raw progress stream).",
    )
    p.add_argument("context", metavar="CONTEXT", help="the build context directory")
    p.add_argument("-f", "--file", metavar="DOCKERFILE", help="default: CONTEXT/Dockerfile")
    p.add_argument("--target", metavar="STAGE", help="the stage to build")
    p.add_argument(
        "--platform", action="append", metavar="LIST",
        help="target platforms, comma-separated or repeated (linux/amd64,linux/arm64)",
    )  # fmt: skip
    p.add_argument("-t", "--tag", action="append", metavar="NAME:TAG", help="image name (repeat)")
    p.add_argument("--build-arg", action="append", metavar="KEY=VALUE", help="(repeat)")
    p.add_argument(
        "--secret", action="append", metavar="id=ID,src=PATH",
        help="a file secret for RUN --mount=type=secret (its value is never stored)",
    )  # fmt: skip
    p.add_argument("--push", action="store_true", help="push the image to its registry")
    p.add_argument("--load", action="store_true", help="load the image into the image store")
    p.add_argument(
        "-o", "--output", metavar="type=…",
        help="type=local,dest=DIR | type=oci,dest=FILE | type=cacheonly "
        "(default: as buildx, e.g. into the image store with the docker driver)",
    )  # fmt: skip
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--pull", action="store_true", help="always pull referenced images")
    p.add_argument("--provenance", type=bool_flag, metavar="true|false", default=None)
    p.add_argument("--sbom", type=bool_flag, metavar="true|false", default=None)
    p.add_argument("--builder", default=None, help="buildx builder (default: the current one)")
    p.add_argument(
        "--per-platform", action="store_true",
        help="build each platform as its own build pushed by digest, then push the index of "
        "the platforms that succeeded to the one -t tag (exit 1 when any platform failed, "
        "but the index of the others is pushed; the result names both)",
    )  # fmt: skip
    p.add_argument(
        "--append", action="store_true",
        help="with --per-platform: append the built platform(s) to the existing index at -t "
        "(refused when the index changed during the build), e.g. to add a platform that failed",
    )  # fmt: skip
    p.add_argument(
        "--jobs", type=int, metavar="N", default=None,
        help="with --per-platform: platform builds at once (default: one per node of the "
        "builder, at least 2)",
    )  # fmt: skip
    p.add_argument("--no-history", action="store_true", help="do not save this build")
    p.add_argument("--record", metavar="FILE", help="also write the raw rawjson stream to FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress")
    json_flag(p)
    command(p, _build)

    r = sub.add_parser(
        "replay",
        help="summarise a recorded --progress=rawjson stream (plain or .gz)",
        description="Read a stream recorded with `docker buildx build --progress=rawjson … "
        "2> FILE` (or a saved build, by id) and print its per-platform summary; exit 1 if that "
        "build failed.",
    )
    r.add_argument("file", metavar="FILE", help="a rawjson file (plain or .gz) or a build id")
    r.add_argument(
        "--native", metavar="LIST",
        help="the builder's native platform(s) when the recording was made (which lanes ran "
        "under QEMU); default: as saved with the build, else the first lane",
    )  # fmt: skip
    json_flag(r)
    command(r, _replay)

"""Builds that survive a failing architecture: one buildx build per platform, then one index.

A multi-platform ``docker buildx build`` fails as a whole when one emulated architecture fails
(moby/buildkit#2402). A per-platform build instead runs each platform as its own build pushed
by digest (``--output type=image,push-by-digest=true,name-canonical=true,push=true``, the
digest read from its metadata file), a bounded number at a time, and then assembles the index
of those that succeeded (:mod:`mabgui.core.registry.assemble`). The result says which
platforms the pushed index holds and which failed; a failed platform can be rebuilt alone and
appended (``append=True``: assemble's append, refused when the target changed since it was
looked at before the build).

The sub-builds' rawjson streams are folded into **one** :class:`BuildProgress`, one lane per
platform (:class:`~mabgui.core.progress.merge.LaneMerger`), so the Builds view and the CLI
show it like any build. A join of the build and registry areas, hence in the top layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mabgui.core import log
from mabgui.core.build import BuildError, BuildRun, BuildSpec, OutputKind, Preflight, Validation
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, NativeArg, ProgressEvent
from mabgui.core.progress.merge import LaneMerger

_log = log.get("perplatform")

DEFAULT_JOBS = 2  # this many platform builds at once (a 2-core machine; one per node on more)


class PerPlatformError(BuildError):
    """A per-platform build that cannot start (the message says why); a refusal like any
    other, so the Builds view shows it where it shows the checks' refusals."""

    kind = "per-platform-refused"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__([message])
        self.hint = hint or self.hint


# --- the outcome ---------------------------------------------------------------------------------


@dataclass
class PlatformOutcome:
    """How one platform's build ended."""

    platform: Platform
    ok: bool
    digest: str = ""  # what it pushed (an image, or an index with its attestations)
    step: str = ""  # the step that failed
    error: str = ""
    canceled: bool = False
    duration_s: float | None = None
    history_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": str(self.platform),
            "ok": self.ok,
            "digest": self.digest or None,
            "step": self.step or None,
            "error": self.error or None,
            "canceled": self.canceled,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "history_id": self.history_id or None,
        }


@dataclass
class IndexInfo:
    """The index pushed: its tag, digest and the platforms it holds (all, appended ones too)."""

    reference: str
    digest: str
    platforms: list[str]
    operation: str = "create"  # create | append
    previous: str = ""  # append: the digest the tag had before
    added: list[str] = field(default_factory=list)  # the platforms this build put in

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest": self.digest,
            "platforms": list(self.platforms),
            "operation": self.operation,
            "previous": self.previous or None,
            "added": list(self.added),
        }


@dataclass
class PerPlatformResult:
    target: str
    outcomes: list[PlatformOutcome] = field(default_factory=list)
    index: IndexInfo | None = None
    index_error: str = ""  # the index could not be pushed (why)
    index_hint: str = ""
    canceled: bool = False

    @property
    def failed(self) -> list[PlatformOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        """Every platform built and the index pushed."""
        return self.index is not None and not self.failed and not self.canceled

    @property
    def partial(self) -> bool:
        """An index was pushed, but without the platforms that failed."""
        return self.index is not None and bool(self.failed)

    def summary(self) -> str:
        """One plain sentence: what the pushed index holds, what failed."""
        failed = ", ".join(str(o.platform) for o in self.failed)
        if self.canceled:
            return "canceled: no index was pushed"
        if self.index is None:
            why = self.index_error or "no platform was built"
            return f"no index was pushed: {why}" + (f" (failed: {failed})" if failed else "")
        index = self.index
        verb = f"appended {', '.join(index.added)} to" if index.operation == "append" else "pushed"
        text = (
            f"{verb} {index.reference} ({index.digest}); the index holds"
            f" {', '.join(index.platforms)}"
        )
        return text + (f"; failed, not in the index: {failed}" if failed else "")

    def problem(self) -> str:
        """Why the per-platform build is not a full success ('' when it is)."""
        if self.ok:
            return ""
        failed = ", ".join(str(o.platform) for o in self.failed)
        if self.index is not None:
            return f"{failed} failed and is not in the index; the other platforms were pushed"
        return self.summary()

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "partial": self.partial,
            "target": self.target,
            "index": self.index.to_json() if self.index is not None else None,
            "failed": [
                {"platform": str(o.platform), "step": o.step or None, "error": o.error}
                for o in self.failed
            ],
            "builds": [o.to_json() for o in self.outcomes],
            "index_error": self.index_error or None,
            "canceled": self.canceled,
            "summary": self.summary(),
        }


# --- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubResult:
    """What a platform's build reports: its exit, pushed digest and error."""

    exit_code: int | None
    digest: str = ""
    error: str = ""
    canceled: bool = False
    history_id: str = ""


ChunkSink = Callable[[bytes], None]
SubBuild = Callable[[BuildSpec, ChunkSink], Awaitable[SubResult]]
# (target, [(platform, repo@digest)], append, previous) → the pushed index
Join = Callable[[str, list[tuple[Platform, str]], bool, str], Awaitable[IndexInfo]]
Lookup = Callable[[str], Awaitable[str]]  # the tag's current digest ('' when absent)


def sub_spec(spec: BuildSpec, platform: Platform, repository: str) -> BuildSpec:
    """``spec`` for ``platform`` alone, pushed by digest into ``repository`` (no tag)."""
    return replace(
        spec,
        platforms=[platform],
        tags=[],
        output=OutputKind.DIGEST,
        output_dest=repository,
        per_platform=False,
    )


def buildx_sub_build(save_history: bool = True) -> SubBuild:
    """The real sub-build: a :class:`BuildRun` (checked already: no preflight of its own)."""

    async def run(spec: BuildSpec, sink: ChunkSink) -> SubResult:
        build = BuildRun(spec, save_history=save_history, validate_first=False)
        build.on_chunk = sink
        result = await build.run()
        return SubResult(
            result.exit_code, result.digest, result.error, result.canceled, build.history_id
        )

    return run


def registry_join(insecure: Sequence[str] = ()) -> tuple[Join, Lookup]:
    """Assemble (create, or append after checking the tag did not move) with the registry."""

    async def join(
        target: str, images: list[tuple[Platform, str]], append: bool, previous: str
    ) -> IndexInfo:
        from mabgui.core.registry import RegistryClient, assemble
        from mabgui.core.registry.reference import parse_reference

        ref = parse_reference(target)
        sources = [assemble.parse_source(f"{p}={image}", ref) for p, image in images]
        async with RegistryClient(insecure=insecure, deadline=600.0) as client:
            if append:
                plan = await assemble.plan_append(client, ref, sources)
                if previous and plan.previous != previous:
                    raise assemble.TargetChanged(
                        f"{target} changed while the platform was built ({previous} →"
                        f" {plan.previous}); nothing appended",
                        hint="check the index and append the pushed digest with"
                        " `mabgui index append`",
                    )
            else:
                plan = await assemble.plan_create(client, ref, sources)
            pushed = await assemble.push_plan(client, plan)
        added = [str(p) for p, _ in images]
        return IndexInfo(
            target, pushed.digest, plan.platforms, plan.operation, plan.previous, added
        )

    async def lookup(target: str) -> str:
        from mabgui.core.registry import RegistryClient
        from mabgui.core.registry.errors import NotFound
        from mabgui.core.registry.reference import parse_reference

        async with RegistryClient(insecure=insecure, deadline=60.0) as client:
            try:
                return (await client.get_manifest(parse_reference(target))).digest
            except NotFound:
                return ""

    return join, lookup


def repository_of(target: str) -> str:
    from mabgui.core.registry.reference import parse_reference

    ref = parse_reference(target)
    if ref.digest or not ref.tag:
        raise PerPlatformError(
            f"{target}: a per-platform build needs a tag to push the index to",
            hint="e.g. -t 127.0.0.1:5000/app:1.0",
        )
    return ref.name


class PerPlatformRun:
    """A per-platform build: :meth:`events` (or :meth:`run`) then :attr:`result`.

    Args:
        spec: the build (platforms, exactly one tag: the index's); already checked.
        append: add the built platforms to the existing index at the tag instead of creating
            it (the tag's digest is read before the builds; a different one after: refused).
        jobs: platform builds at once.
        sub_build, join, lookup: the buildx and registry sides (replaced in tests).
        preflight: the checks before anything starts (the view passes
            :func:`mabgui.core.preflight.validate`; the CLI checked already): refused →
            :class:`~mabgui.core.build.BuildError`, as :class:`BuildRun` does.
    """

    def __init__(
        self,
        spec: BuildSpec,
        *,
        append: bool = False,
        jobs: int = DEFAULT_JOBS,
        native: NativeArg = None,
        sub_build: SubBuild | None = None,
        join: Join | None = None,
        lookup: Lookup | None = None,
        insecure: Sequence[str] = (),
        preflight: Preflight | None = None,
    ) -> None:
        self.spec = spec
        self.target = spec.tags[0] if spec.tags else ""
        self.repository = ""  # the tag's repository: known once the spec is checked
        self.preflight = preflight
        self.validation: Validation | None = None
        self.append = append
        self.jobs = max(1, jobs)
        self.merger = LaneMerger(spec.platforms, native)
        self._sub_build = sub_build or buildx_sub_build()
        default_join, default_lookup = registry_join(insecure)
        self._join = join or default_join
        self._lookup = lookup or default_lookup
        self.result = PerPlatformResult(self.target)
        self._wake = asyncio.Event()
        self._cancel = False
        self._tasks: list[asyncio.Task[PlatformOutcome]] = []
        self.started_at: float | None = None

    @property
    def progress(self) -> BuildProgress:
        return self.merger.progress

    @property
    def running(self) -> bool:
        """Some platform's build has not ended yet."""
        return any(not t.done() for t in self._tasks)

    async def run(
        self, on_events: Callable[[list[ProgressEvent]], None] | None = None
    ) -> PerPlatformResult:
        async with contextlib.aclosing(self.events()) as batches:
            async for batch in batches:
                if on_events is not None:
                    on_events(batch)
        return self.result

    async def cancel(self) -> None:
        """Stop every platform's build (no index is pushed)."""
        self._cancel = True
        for task in self._tasks:
            task.cancel()
        self._wake.set()

    async def events(self) -> AsyncGenerator[list[ProgressEvent], None]:
        """Run the builds, yielding the merged progress events; then push the index."""
        await self._check()
        self.started_at = time.time()
        t0 = time.monotonic()
        previous = ""
        if self.append:
            previous = await self._lookup(self.target)
            if not previous:
                raise PerPlatformError(
                    f"{self.target} does not exist: there is no index to append to",
                    hint="build without --append to create it",
                )
        gate = asyncio.Semaphore(self.jobs)
        self._tasks = [
            asyncio.ensure_future(self._one(platform, gate)) for platform in self.spec.platforms
        ]
        pending: set[asyncio.Task[PlatformOutcome]] = set(self._tasks)
        try:
            while pending:
                self._wake.clear()
                waker = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait({*pending, waker}, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
                pending -= done
                batch = self.merger.take()
                if batch:
                    yield batch
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        outcomes = [self._outcome(p, t) for p, t in zip(self.spec.platforms, self._tasks,
                                                        strict=True)]  # fmt: skip
        self.result.outcomes = outcomes
        self.result.canceled = self._cancel
        built = [(o.platform, f"{self.repository}@{o.digest}") for o in outcomes if o.ok]
        if built and not self._cancel:
            try:
                self.result.index = await self._join(self.target, built, self.append, previous)
            except MabguiError as exc:
                self.result.index_error = str(exc)
                self.result.index_hint = exc.hint
                _log.warning("the index was not pushed: %s", exc)
        elif not built:
            self.result.index_error = "every platform failed"
        error = "" if self.result.ok else self.result.problem()
        final = self.merger.parser.close(
            0 if self.result.ok else 1,
            digest=self.result.index.digest if self.result.index else "",
            canceled=self._cancel,
            duration_s=time.monotonic() - t0,
            error=error,
        )
        yield self.merger.take() + final

    async def _check(self) -> None:
        if self.preflight is not None:
            self.validation = await self.preflight(self.spec)
            if self.validation.native:
                self.merger.set_native(self.validation.native)
            if not self.validation.ok:
                raise BuildError(self.validation.errors, self.validation.warnings)
        if not self.spec.platforms:
            raise PerPlatformError(
                "a per-platform build needs its platforms", hint="--platform linux/amd64,…"
            )
        if len(self.spec.tags) != 1:
            raise PerPlatformError(
                "a per-platform build pushes one index: give exactly one tag",
                hint="-t REGISTRY/REPO:TAG",
            )
        self.repository = repository_of(self.target)

    def _outcome(self, platform: Platform, task: asyncio.Task[PlatformOutcome]) -> PlatformOutcome:
        if task.cancelled():
            return PlatformOutcome(platform, False, error="build canceled", canceled=True)
        exc = task.exception()
        if exc is not None:
            return PlatformOutcome(platform, False, error=str(exc))
        return task.result()

    async def _one(self, platform: Platform, gate: asyncio.Semaphore) -> PlatformOutcome:
        async with gate:
            t0 = time.monotonic()

            def sink(chunk: bytes) -> None:
                self.merger.feed(platform, chunk)
                self._wake.set()

            try:
                sub = await self._sub_build(sub_spec(self.spec, platform, self.repository), sink)
            finally:
                self.merger.end(platform)
                self._wake.set()
        lane = self.progress.lanes.get(platform)
        failed = lane.failed_step if lane is not None else None
        ok = sub.exit_code == 0 and bool(sub.digest) and not sub.canceled
        error = "" if ok else sub.error or f"buildx exited with code {sub.exit_code}"
        if sub.exit_code == 0 and not sub.digest:
            error = "buildx reported no pushed digest (metadata file without one)"
        return PlatformOutcome(
            platform,
            ok,
            digest=sub.digest,
            step=failed.label if failed is not None and not ok else "",
            error=error,
            canceled=sub.canceled,
            duration_s=time.monotonic() - t0,
            history_id=sub.history_id,
        )

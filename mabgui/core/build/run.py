"""Run ``docker buildx build`` from a :class:`BuildSpec` with live per-platform progress.

buildx runs in its own process group (:mod:`mabgui.core.process`, which also makes it die with
mabgui), its stderr is folded by :class:`~mabgui.core.progress.ProgressParser` as it arrives
and the events are handed out in batches. Cancel sends SIGINT (buildx then cancels the solve in
BuildKit) and kills the whole group after a grace period.

The checks before the start come from the caller (``preflight=``, normally
:func:`mabgui.core.preflight.validate`, which also learns the builder's native platforms);
without one only the engine-free :func:`~mabgui.core.build.checks.check_spec` runs. Every
build-arg value and secret given is registered with :func:`mabgui.core.log.add_secret` and
scrubbed from what is saved (:mod:`mabgui.core.build.scrub`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

from mabgui.core import log, process
from mabgui.core.build.checks import BuildError, Validation, check_spec
from mabgui.core.build.scrub import scrub_gz
from mabgui.core.build.spec import BuildSpec
from mabgui.core.errors import MabguiError
from mabgui.core.progress import (
    BuildProgress,
    BuildResult,
    NativeArg,
    ProgressEvent,
    ProgressParser,
)

CANCEL_GRACE_S = 3.0
READ_CHUNK = 1 << 16

EventCallback = Callable[[list[ProgressEvent]], None]
Preflight = Callable[[BuildSpec], Awaitable[Validation]]

_log = log.get("build")


async def _engine_free_checks(spec: BuildSpec) -> Validation:
    return check_spec(spec)


class BuildRun:
    """One build: iterate :meth:`events` (or await :meth:`run`); :meth:`cancel` stops it.

    Args:
        native: the builder's native platforms when the caller knows them (else learnt from
            the preflight's :class:`Validation`, else unknown: see
            :class:`~mabgui.core.progress.ProgressParser`).
        preflight: the checks before the start (default: the engine-free ones only).

    The raw stderr stream is kept gzip-compressed (for history and replay); the decoded
    model is :attr:`progress`.
    """

    def __init__(
        self,
        spec: BuildSpec,
        *,
        save_history: bool = True,
        native: NativeArg = None,
        validate_first: bool = True,
        preflight: Preflight | None = None,
    ) -> None:
        self.spec = spec
        self.parser = ProgressParser(spec.platforms, native)
        self.save_history = save_history
        self.validate_first = validate_first
        self.preflight: Preflight = preflight or _engine_free_checks
        self.validation: Validation | None = None
        self.started_at: float | None = None  # epoch seconds
        self.argv: list[str] = []
        self.history_id: str = ""
        self.buildkit_ref: str = ""  # buildx.build.ref of the metadata file (builder/node/id)
        self.history_error: str = ""  # why the build was not saved (a warning, not a failure)
        self.stdout_text = ""
        # each raw stderr chunk as it arrives (a per-platform build folds several streams)
        self.on_chunk: Callable[[bytes], None] | None = None
        self.secret_values = spec.secret_values()
        for value in self.secret_values:
            log.add_secret(value)
        self._proc: asyncio.subprocess.Process | None = None
        self._cancel_requested = False
        self._gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._gz_parts: list[bytes] = []
        self._gz_final: bytes | None = None
        self._raw_size = 0
        self._done = asyncio.Event()

    @property
    def progress(self) -> BuildProgress:
        return self.parser.progress

    @property
    def result(self) -> BuildResult | None:
        return self.parser.progress.result

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def raw_size(self) -> int:
        return self._raw_size

    def raw_stream_gz(self) -> bytes:
        """The stderr stream so far, gzip-compressed (complete once the build ended).

        In memory only: it holds whatever buildx printed, values included. What is written
        anywhere is :meth:`saved_stream_gz`.
        """
        if self._gz_final is not None:
            return self._gz_final
        return b"".join(self._gz_parts) + self._gz.copy().flush()

    @property
    def raw_stream(self) -> bytes:
        return zlib.decompress(self.raw_stream_gz(), 31)

    def saved_stream_gz(self) -> bytes:
        """The stream as it may be stored: every build-arg value and secret scrubbed."""
        return scrub_gz(self.raw_stream_gz(), self.secret_values)

    def saved_stream(self) -> bytes:
        return zlib.decompress(self.saved_stream_gz(), 31)

    async def run(self, on_events: EventCallback | None = None) -> BuildResult:
        """Run to the end, handing each batch of events to ``on_events``."""
        async with contextlib.aclosing(self.events()) as batches:
            async for batch in batches:
                if on_events is not None:
                    on_events(batch)
        assert self.result is not None
        return self.result

    async def cancel(self, grace: float = CANCEL_GRACE_S) -> None:
        """SIGINT buildx's process group, SIGKILL it after ``grace`` s; returns when it ended."""
        self._cancel_requested = True
        proc = self._proc
        if proc is not None:
            await process.stop(proc, grace=grace)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), grace + 5.0)

    async def events(self) -> AsyncGenerator[list[ProgressEvent], None]:
        """Validate, start buildx and yield the progress events batch by batch.

        The last batch ends with :class:`~mabgui.core.progress.BuildFinished`. Raises
        :class:`BuildError` when validation refuses the spec. Leaving the loop early or
        cancelling the task stops buildx (SIGINT, then SIGKILL of its group).
        """
        try:
            if self.validate_first:
                self.validation = await self.preflight(self.spec)
                if self.validation.native:
                    self.parser.set_native(self.validation.native)
                if not self.validation.ok:
                    raise BuildError(self.validation.errors, self.validation.warnings)
            if self._cancel_requested:
                yield self.parser.close(None, canceled=True, duration_s=0.0)
                return
            with tempfile.TemporaryDirectory(prefix="mabgui-build-") as tmp:
                metadata = os.path.join(tmp, "metadata.json")
                async with contextlib.aclosing(self._run(metadata)) as batches:
                    async for batch in batches:
                        yield batch
        finally:
            self._done.set()

    async def _run(self, metadata: str) -> AsyncGenerator[list[ProgressEvent], None]:
        self.argv = self.spec.argv(metadata)
        self.started_at = time.time()
        t0 = time.monotonic()
        initial = self.parser.feed(b"")
        if initial:
            yield initial
        proc = await process.spawn(self.argv)
        self._proc = proc
        if self._cancel_requested:  # cancel() came while buildx was being started
            await process.stop(proc, grace=CANCEL_GRACE_S)
        assert proc.stderr is not None
        assert proc.stdout is not None
        stdout_task = asyncio.ensure_future(proc.stdout.read())
        finished = False
        try:
            while True:
                chunk = await proc.stderr.read(READ_CHUNK)
                if not chunk:
                    break
                self._raw_size += len(chunk)
                self._gz_parts.append(self._gz.compress(chunk))
                if self.on_chunk is not None:
                    self.on_chunk(chunk)
                batch = self.parser.feed(chunk)
                if batch:
                    yield batch
            code = await proc.wait()
            process.log_exit(self.argv, code, time.monotonic() - t0)
            self.stdout_text = (await stdout_task).decode("utf-8", "replace")
            digest = read_metadata_digest(metadata) if code == 0 else ""
            self.buildkit_ref = _metadata_ref(metadata)  # matches BuildKit's own records
            canceled = self._cancel_requested and code != 0
            final = self.parser.close(
                code,
                digest=digest,
                canceled=canceled,
                duration_s=time.monotonic() - t0,
                error=self._exit_error(code, canceled),
            )
            self._gz_final = b"".join([*self._gz_parts, self._gz.flush()])
            self._gz_parts = []
            finished = True
            if self.save_history:
                await self._save()
            yield final
        finally:
            if not finished:
                # The consumer left early or the task was cancelled: stop buildx, no orphans,
                # and leave the model in its final (canceled) state for whoever shows it.
                await process.stop(proc, grace=CANCEL_GRACE_S)  # survives a second cancel
                stdout_task.cancel()
                if self.parser.progress.result is None:
                    self.parser.close(
                        proc.returncode,
                        canceled=True,
                        duration_s=time.monotonic() - t0,
                        error="build canceled",
                    )

    def _exit_error(self, code: int, canceled: bool) -> str:
        if code == 0:
            return ""
        if canceled:
            return "build canceled"
        text = self.progress.error_text
        if text:
            return text
        # buildx failed before BuildKit said anything (a bad flag, an unreachable daemon):
        # its last text lines are the message.
        lines = [m.text for m in self.progress.messages if m.text.strip()]
        return lines[-1] if lines else f"docker buildx build exited with code {code}"

    async def _save(self) -> None:
        """Save the build in the history; a failure (full disk, unwritable folder) is a
        warning in :attr:`history_error`, never a failed build."""
        from mabgui.core.build import history

        try:
            entry = await asyncio.to_thread(
                history.save,
                self.spec,
                self.progress,
                self.raw_stream_gz(),
                started=self.started_at or time.time(),
                secret_values=self.secret_values,
            )
            self.history_id = entry.id
            _store_ref(entry.path, self.buildkit_ref)
        except (OSError, MabguiError, ValueError) as exc:
            self.history_id = ""
            self.history_error = f"the build was not saved in the history: {exc}"
            _log.warning("%s", self.history_error)


def _metadata_ref(path: str) -> str:
    from mabgui.core.build import bkhistory

    return bkhistory.metadata_ref(path)


def _store_ref(folder: Path, ref: str) -> None:
    from mabgui.core.build import bkhistory

    bkhistory.store_ref(folder, ref)


def read_metadata_digest(path: str) -> str:
    """The image (or index) digest from buildx's ``--metadata-file``, '' when absent."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return ""
    return metadata_digest(data)


def metadata_digest(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    digest = data.get("containerimage.digest")
    if isinstance(digest, str) and digest:
        return digest
    descriptor = data.get("containerimage.descriptor")
    if isinstance(descriptor, dict) and isinstance(descriptor.get("digest"), str):
        return str(descriptor["digest"])
    return ""


async def run_build(
    spec: BuildSpec,
    on_events: EventCallback | None = None,
    *,
    save_history: bool = True,
    preflight: Preflight | None = None,
) -> BuildRun:
    """Validate and run ``spec`` to the end; the finished :class:`BuildRun` is returned."""
    run = BuildRun(spec, save_history=save_history, preflight=preflight)
    await run.run(on_events)
    return run

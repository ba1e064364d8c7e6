"""Run ``docker buildx build`` from a :class:`BuildSpec` with live per-platform progress.

The spec turns into an argv (never a shell line) with ``--progress=rawjson`` and a
``--metadata-file``; buildx runs in its own process group (:mod:`mabgui.core.process`), its
stderr is folded by :class:`~mabgui.core.progress.ProgressParser` as it arrives and the
events are handed out in batches. Cancel sends SIGINT (buildx then cancels the solve in
BuildKit) and kills the whole group after a grace period.

:func:`validate` refuses what cannot work *before* anything starts (a missing context or
Dockerfile, an unknown platform, a malformed tag, ``--load`` of several platforms without the
containerd image store) and warns about what may not (a platform the builder does not list).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from mabgui.core import process
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform, host_platform, is_emulated
from mabgui.core.progress import BuildProgress, BuildResult, ProgressEvent, ProgressParser

CANCEL_GRACE_S = 3.0
READ_CHUNK = 1 << 16
_URL_CONTEXT = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_BUILD_ARG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
# Build-arg names whose values are kept out of history and summaries.
_SENSITIVE = re.compile(r"pass|token|secret|key|auth|cred|pwd", re.IGNORECASE)


class OutputKind(StrEnum):
    PUSH = "push"  # --push: the image (index) goes to the registry of its tags
    LOAD = "load"  # --load: into the local image store
    LOCAL = "local"  # --output type=local,dest=DIR: the root filesystem(s) into a directory
    OCI = "oci"  # --output type=oci,dest=FILE: an OCI layout tarball
    CACHE = "cache"  # --output type=cacheonly: build, keep only the build cache
    DEFAULT = "default"  # no output flag: whatever buildx does (the docker driver loads it)


class BuildError(MabguiError):
    """The spec was refused before the build started (every reason in ``errors``)."""

    def __init__(self, errors: Sequence[str], warnings: Sequence[str] = ()) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)
        self.warnings = list(warnings)


@dataclass(frozen=True)
class Secret:
    """``--secret id=ID,src=PATH``: only the id and the file path are ever kept."""

    id: str
    src: str

    @classmethod
    def parse(cls, text: str) -> Secret:
        """Parse ``id=ID,src=PATH`` (also ``source=``, or a bare ``ID=PATH``)."""
        fields: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"--secret {text!r}: expected id=ID,src=PATH")
            fields[key.strip().lower()] = value.strip()
        if "id" not in fields and len(fields) == 1:
            ((sid, src),) = fields.items()
            return cls(sid, src)
        src = fields.get("src") or fields.get("source") or ""
        if "env" in fields:
            raise ValueError(f"--secret {text!r}: only file secrets (src=PATH) are supported")
        if not fields.get("id") or not src:
            raise ValueError(f"--secret {text!r}: expected id=ID,src=PATH")
        return cls(fields["id"], src)


@dataclass
class BuildSpec:
    """What to build, as the form and ``mabgui build`` options describe it."""

    context: str
    dockerfile: str = ""  # default: CONTEXT/Dockerfile
    target: str = ""
    platforms: list[Platform] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    secrets: list[Secret] = field(default_factory=list)
    output: OutputKind = OutputKind.CACHE
    output_dest: str = ""  # the directory (local) or file (oci)
    no_cache: bool = False
    pull: bool = False
    provenance: bool | None = None  # None: buildx's default
    sbom: bool | None = None
    builder: str = ""  # '' = the current builder (no --builder: buildx picks it)

    @property
    def dockerfile_path(self) -> str:
        return self.dockerfile or os.path.join(self.context, "Dockerfile")

    def argv(self, metadata_file: str | None = None) -> list[str]:
        """The ``docker buildx build`` command line (a list: no shell, no quoting)."""
        argv = ["docker", "buildx", "build"]
        if self.builder:
            argv += ["--builder", self.builder]
        argv.append("--progress=rawjson")
        if self.platforms:
            argv += ["--platform", ",".join(str(p) for p in self.platforms)]
        if self.dockerfile:
            argv += ["--file", self.dockerfile]
        if self.target:
            argv += ["--target", self.target]
        for tag in self.tags:
            argv += ["--tag", tag]
        for key, value in self.build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        for secret in self.secrets:
            argv += ["--secret", f"id={secret.id},src={secret.src}"]
        if self.output is OutputKind.PUSH:
            argv.append("--push")
        elif self.output is OutputKind.LOAD:
            argv.append("--load")
        elif self.output is OutputKind.LOCAL:
            argv += ["--output", f"type=local,dest={self.output_dest}"]
        elif self.output is OutputKind.OCI:
            argv += ["--output", f"type=oci,dest={self.output_dest}"]
        elif self.output is OutputKind.CACHE:
            argv += ["--output", "type=cacheonly"]
        if self.no_cache:
            argv.append("--no-cache")
        if self.pull:
            argv.append("--pull")
        if self.provenance is not None:
            argv.append(f"--provenance={'true' if self.provenance else 'false'}")
        if self.sbom is not None:
            argv.append(f"--sbom={'true' if self.sbom else 'false'}")
        if metadata_file:
            argv += ["--metadata-file", metadata_file]
        argv.append(self.context)
        return argv

    def to_json(self, *, redact: bool = True) -> dict[str, Any]:
        """The spec as saved in history: secrets as id/src only, sensitive build args masked."""
        args = {
            k: ("***" if redact and _SENSITIVE.search(k) else v) for k, v in self.build_args.items()
        }
        return {
            "context": self.context,
            "dockerfile": self.dockerfile,
            "target": self.target,
            "platforms": [str(p) for p in self.platforms],
            "tags": list(self.tags),
            "build_args": args,
            "secrets": [{"id": s.id, "src": s.src} for s in self.secrets],
            "output": str(self.output),
            "output_dest": self.output_dest,
            "no_cache": self.no_cache,
            "pull": self.pull,
            "provenance": self.provenance,
            "sbom": self.sbom,
            "builder": self.builder,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildSpec:
        def opt_bool(value: Any) -> bool | None:
            return None if value is None else bool(value)

        return cls(
            context=str(data.get("context", "")),
            dockerfile=str(data.get("dockerfile", "")),
            target=str(data.get("target", "")),
            platforms=[Platform.parse(p) for p in data.get("platforms", [])],
            tags=[str(t) for t in data.get("tags", [])],
            build_args={str(k): str(v) for k, v in (data.get("build_args") or {}).items()},
            secrets=[Secret(str(s["id"]), str(s["src"])) for s in data.get("secrets", [])],
            output=OutputKind(data.get("output", "cache")),
            output_dest=str(data.get("output_dest", "")),
            no_cache=bool(data.get("no_cache", False)),
            pull=bool(data.get("pull", False)),
            provenance=opt_bool(data.get("provenance")),
            sbom=opt_bool(data.get("sbom")),
            builder=str(data.get("builder") or ""),
        )


# --- validation ---------------------------------------------------------------------------------


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_platforms(values: Sequence[str]) -> list[Platform]:
    """``--platform a,b --platform c`` → platforms, in order, without duplicates.

    Raises :class:`~mabgui.core.platform.PlatformError` naming the bad one.
    """
    seen: dict[Platform, None] = {}
    for value in values:
        for item in value.split(","):
            if item.strip():
                seen.setdefault(Platform.parse(item), None)
    return list(seen)


def parse_build_arg(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not _BUILD_ARG_KEY.match(key):
        raise ValueError(f"--build-arg {text!r}: expected NAME=VALUE with a valid NAME")
    if not sep:  # docker takes the value from the environment
        value = os.environ.get(key, "")
    return key, value


def check_spec(spec: BuildSpec) -> Validation:
    """The checks that need no engine: files, tags, output, secrets, args."""
    v = Validation()
    url_context = bool(_URL_CONTEXT.match(spec.context))
    if not spec.context:
        v.errors.append("no build context given (a directory, e.g. '.')")
    elif not url_context:
        ctx = Path(spec.context)
        if not ctx.exists():
            v.errors.append(f"build context {spec.context!r} does not exist")
        elif not ctx.is_dir():
            v.errors.append(f"build context {spec.context!r} is not a directory")
    if not url_context:  # a remote context's Dockerfile lives in the remote source
        dockerfile = Path(spec.dockerfile_path)
        if spec.dockerfile == "-":
            v.errors.append("a Dockerfile from stdin ('-f -') is not supported; give a file")
        elif not dockerfile.exists():
            where = "" if spec.dockerfile else " in the build context"
            v.errors.append(f"Dockerfile {str(dockerfile)!r} not found{where}")
        elif not dockerfile.is_file():
            v.errors.append(f"Dockerfile {str(dockerfile)!r} is not a file")
    _check_tags(spec, v)
    if spec.output in (OutputKind.LOCAL, OutputKind.OCI) and not spec.output_dest:
        what = "a directory" if spec.output is OutputKind.LOCAL else "a file (.tar)"
        v.errors.append(f"output {spec.output}: give the destination, {what}")
    if spec.output is OutputKind.OCI and spec.output_dest:
        parent = Path(spec.output_dest).resolve().parent
        if not parent.is_dir():
            v.errors.append(f"output file's directory {str(parent)!r} does not exist")
    for secret in spec.secrets:
        if not _SECRET_ID.match(secret.id):
            v.errors.append(f"secret id {secret.id!r} may only hold letters, digits, . _ -")
        if not Path(secret.src).is_file():
            v.errors.append(f"secret {secret.id!r}: file {secret.src!r} does not exist")
    for key in spec.build_args:
        if not _BUILD_ARG_KEY.match(key):
            v.errors.append(f"build arg {key!r} is not a valid name")
    if spec.target and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", spec.target):
        v.errors.append(f"target {spec.target!r} is not a stage name")
    return v


def _check_tags(spec: BuildSpec, v: Validation) -> None:
    from mabgui.core.registry.reference import InvalidReference, parse_reference

    for tag in spec.tags:
        if "@" in tag:
            v.errors.append(f"tag {tag!r}: a build tag cannot carry a digest")
            continue
        try:
            parse_reference(tag)
        except InvalidReference as exc:
            v.errors.append(f"tag {tag!r} is not a valid image reference: {exc}")
    if spec.output is OutputKind.PUSH and not spec.tags:
        v.errors.append("push needs at least one tag (--tag REGISTRY/REPO:TAG)")


async def builder_platforms(builder: str) -> list[Platform]:
    """The platforms ``builder`` lists (``docker buildx ls``); raises if it does not exist."""
    from mabgui.core import buildx

    return list((await buildx.get_builder(builder)).platforms)


async def validate(spec: BuildSpec) -> Validation:
    """Everything :func:`check_spec` checks, plus the builder, platforms and image store."""
    from mabgui.core import binfmt, buildx, engine

    v = check_spec(spec)
    builders: list[Any] = []
    try:
        builders = await buildx.list_builders()
    except buildx.BuildxError as exc:
        # Not proof that anything is wrong (a slow node, a builder being created elsewhere):
        # buildx itself will refuse an unknown builder.
        v.warnings.append(f"could not check the builder and its platforms: {exc}")
    chosen = next(
        (b for b in builders if (b.name == spec.builder if spec.builder else b.current)), None
    )
    if builders and chosen is None and spec.builder:
        names = ", ".join(b.name for b in builders)
        v.errors.append(f"builder {spec.builder!r} does not exist (builders: {names})")
    name = spec.builder or (chosen.name if chosen else "")
    if chosen is not None and spec.platforms:
        offered = set(chosen.platforms)
        try:
            emulated_ok = binfmt.read_state().enabled_platforms()
        except (OSError, binfmt.BinfmtError):
            emulated_ok = set()
        native = host_platform()
        for platform in spec.platforms:
            if platform in offered:
                continue
            others = [b.name for b in builders if b is not chosen and platform in b.platforms]
            where = f"; builder(s) {', '.join(others)} offer it" if others else ""
            if platform in emulated_ok or not is_emulated(platform, native):
                v.warnings.append(
                    f"builder {name!r} does not list {platform}, but a QEMU emulator "
                    f"for it is registered, so it will most likely build{where}"
                )
            else:
                v.warnings.append(
                    f"builder {name!r} does not list {platform} and no emulator for it "
                    f"is registered{where}: install one (mabgui emulators install "
                    f"{platform.architecture}) or pick a builder with a native node"
                )
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


# --- running ------------------------------------------------------------------------------------


EventCallback = Callable[[list[ProgressEvent]], None]


class BuildRun:
    """One build: iterate :meth:`events` (or await :meth:`run`); :meth:`cancel` stops it.

    The raw stderr stream is kept gzip-compressed (for history and replay); the decoded
    model is :attr:`progress`.
    """

    def __init__(
        self,
        spec: BuildSpec,
        *,
        save_history: bool = True,
        native: Platform | None = None,
        validate_first: bool = True,
    ) -> None:
        self.spec = spec
        self.parser = ProgressParser(spec.platforms, native)
        self.save_history = save_history
        self.validate_first = validate_first
        self.validation: Validation | None = None
        self.started_at: float | None = None  # epoch seconds
        self.argv: list[str] = []
        self.history_id: str = ""
        self.buildkit_ref: str = ""  # buildx.build.ref of the metadata file (builder/node/id)
        self.stdout_text = ""
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
        """The stderr stream so far, gzip-compressed (complete once the build ended)."""
        if self._gz_final is not None:
            return self._gz_final
        return b"".join(self._gz_parts) + self._gz.copy().flush()

    @property
    def raw_stream(self) -> bytes:
        return zlib.decompress(self.raw_stream_gz(), 31)

    async def run(self, on_events: EventCallback | None = None) -> BuildResult:
        """Run to the end, handing each batch of events to ``on_events``."""
        async for batch in self.events():
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

    async def events(self) -> AsyncIterator[list[ProgressEvent]]:
        """Validate, start buildx and yield the progress events batch by batch.

        The last batch ends with :class:`~mabgui.core.progress.BuildFinished`. Raises
        :class:`BuildError` when validation refuses the spec. Leaving the loop early or
        cancelling the task stops buildx (SIGINT, then SIGKILL of its group).
        """
        try:
            if self.validate_first:
                self.validation = await validate(self.spec)
                if not self.validation.ok:
                    raise BuildError(self.validation.errors, self.validation.warnings)
            if self._cancel_requested:
                yield self.parser.close(None, canceled=True, duration_s=0.0)
                return
            with tempfile.TemporaryDirectory(prefix="mabgui-build-") as tmp:
                metadata = os.path.join(tmp, "metadata.json")
                async for batch in self._run(metadata):
                    yield batch
        finally:
            self._done.set()

    async def _run(self, metadata: str) -> AsyncIterator[list[ProgressEvent]]:
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
                batch = self.parser.feed(chunk)
                if batch:
                    yield batch
            code = await proc.wait()
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
        from mabgui.core.build import history

        try:
            entry = await asyncio.to_thread(
                history.save,
                self.spec,
                self.progress,
                self.raw_stream_gz(),
                started=self.started_at or time.time(),
            )
            self.history_id = entry.id
            _store_ref(entry.path, self.buildkit_ref)
        except OSError:  # history is a convenience: a full disk must not fail the build
            self.history_id = ""


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
    except (OSError, ValueError):
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
    spec: BuildSpec, on_events: EventCallback | None = None, *, save_history: bool = True
) -> BuildRun:
    """Validate and run ``spec`` to the end; the finished :class:`BuildRun` is returned."""
    run = BuildRun(spec, save_history=save_history)
    await run.run(on_events)
    return run

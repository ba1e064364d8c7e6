"""The Docker engine as mabgui sees it: CLI, current context, daemon and buildx plugin.

:func:`engine_facts` is the one source of engine facts: ONE ``docker info`` per refresh gives
the context, the daemon's version, OS/arch, image store and insecure registries, and the buildx
plugin's version (the CLI reports its plugins there). Callers pass the :class:`EngineFacts` down
(overview, doctor, status bar) instead of asking again.

The docker SDK (used for the context and a client, :func:`docker_client`) is synchronous: call
it from a worker thread (``asyncio.to_thread``) so the event loop, and with qasync the GUI,
never waits on the daemon.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from dataclasses import dataclass, field, replace
from typing import Any

from mabgui.core import log, process
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform

DOCKER_TIMEOUT_S = 10.0
INFO_TIMEOUT_S = 15.0
CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"
DAEMON_DOWN_HINT = (
    "Start the Docker daemon (dockerd / Docker Desktop), or pick a reachable context with "
    "`docker context use NAME`."
)

_log = log.get("engine")


class EngineError(MabguiError):
    """The Docker engine (CLI, daemon or buildx) cannot be used; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class DockerContext:
    name: str
    host: str
    tls: bool = False


@dataclass(frozen=True)
class DaemonInfo:
    """The daemon's part of :class:`EngineFacts`, for callers that need it up (else an error)."""

    context: DockerContext
    server_version: str
    os: str
    os_type: str
    architecture: str
    kernel: str
    containerd_image_store: bool
    insecure_registries: list[str] = field(default_factory=list)


def current_context() -> DockerContext:
    """The docker context the CLI would use: ``DOCKER_HOST``, ``DOCKER_CONTEXT`` or config."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return DockerContext("DOCKER_HOST", host, bool(os.environ.get("DOCKER_TLS_VERIFY")))
    from docker.context import ContextAPI

    name = os.environ.get("DOCKER_CONTEXT")
    ctx = ContextAPI.get_context(name) if name else ContextAPI.get_current_context()
    if ctx is None:
        raise EngineError(f"docker context {name!r} does not exist", "See `docker context ls`.")
    return DockerContext(ctx.Name, ctx.Host or "", ctx.TLSConfig is not None)


def docker_client(context: DockerContext | None = None, timeout: float = DOCKER_TIMEOUT_S) -> Any:
    """A ``docker.DockerClient`` for ``context`` (blocking: call it from a worker thread).

    The API version is negotiated with a probe client that is always closed: the SDK's own
    ``version="auto"`` connects inside the constructor and leaks its socket when that fails.
    """
    import docker
    from docker.utils import kwargs_from_env

    ctx = context or current_context()
    kwargs: dict[str, Any]
    if ctx.name == "DOCKER_HOST":
        kwargs = kwargs_from_env()
    else:
        from docker.context import ContextAPI

        meta = ContextAPI.get_context(ctx.name)
        kwargs = {
            "base_url": ctx.host,
            "tls": (meta.TLSConfig if meta is not None else None) or False,
        }
    base_url = str(kwargs.get("base_url") or "unix:///var/run/docker.sock")
    if base_url.startswith("unix://"):
        _probe_unix_socket(base_url.removeprefix("unix://"), timeout)
    probe = docker.APIClient(version="1.24", timeout=int(timeout), **kwargs)
    try:
        api_version = str(probe.version(api_version=False)["ApiVersion"])
    finally:
        probe.close()
    return docker.DockerClient(version=api_version, timeout=int(timeout), **kwargs)


def _probe_unix_socket(path: str, timeout: float) -> None:
    """Connect once to a unix socket and close it; raise the OSError when nobody listens.

    The docker SDK's unix transport leaks its socket when the connect fails, so a daemon that is
    down is detected here first.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)


@dataclass(frozen=True)
class EngineFacts:
    """What one ``docker info`` says about the engine; ``error`` set when the daemon did not answer.

    Fields of the daemon are empty (``""``, None) when it could not be asked; the client part
    (context, CLI and buildx versions) is known whenever the docker CLI ran.
    """

    context: str = ""  # the docker context the CLI used ("default", a name, or DOCKER_HOST)
    endpoint: str = ""  # its docker host (unix:///var/run/docker.sock, tcp://…, ssh://…)
    client_version: str = ""
    server_version: str = ""
    os: str = ""  # "Debian GNU/Linux 12 (bookworm)", "Docker Desktop"
    os_type: str = ""  # "linux" | "windows"
    architecture: str = ""  # as the daemon spells it ("x86_64", "aarch64")
    kernel: str = ""
    image_store: bool | None = None  # the containerd image store is on; None: unknown
    insecure_registries: tuple[str, ...] = ()  # registries and CIDRs reached over plain HTTP
    buildx_version: str = ""  # "0.30.1"; "" when the plugin is missing
    buildx_path: str = ""
    error: str = ""  # why the daemon part is missing
    hint: str = ""

    @property
    def daemon_ok(self) -> bool:
        return not self.error and bool(self.architecture)

    @property
    def platform(self) -> Platform | None:
        """The daemon's native platform (``linux/amd64``): what its local nodes run natively."""
        if not self.architecture:
            return None
        return Platform.try_parse(f"{self.os_type or 'linux'}/{self.architecture}")

    def to_json(self) -> dict[str, Any]:
        platform = self.platform
        return {
            "context": self.context,
            "endpoint": self.endpoint,
            "client_version": self.client_version,
            "server_version": self.server_version,
            "os": self.os,
            "platform": str(platform) if platform is not None else None,
            "containerd_image_store": self.image_store,
            "insecure_registries": list(self.insecure_registries),
            "buildx_version": self.buildx_version,
            "error": self.error,
        }


def _version(raw: str) -> str:
    m = re.match(r"v?(\d+\.\d+\.\d+)", raw.strip())
    return m.group(1) if m else raw.strip()


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_engine_facts(text: str, *, endpoint: str = "", stderr: str = "") -> EngineFacts:
    """``docker info --format '{{json .}}'`` → :class:`EngineFacts` (pure; tested on recordings).

    The CLI prints its client part even when the daemon is down (then exit 1, the reason on
    stderr, or in ``ServerErrors`` on older CLIs).
    """
    try:
        data = _obj(json.loads(text.strip() or "{}"))
    except (ValueError, RecursionError):
        data = {}
    client = _obj(data.get("ClientInfo"))
    plugins = [_obj(p) for p in _items(client.get("Plugins"))]
    buildx = next((p for p in plugins if p.get("Name") == "buildx"), {})
    errors = [str(e) for e in _items(data.get("ServerErrors")) if e]
    if stderr.strip():
        errors.append(stderr.strip().splitlines()[-1])
    arch = str(data.get("Architecture") or "")
    if not arch and not errors:
        errors.append("docker info did not report the daemon")
    image_store: bool | None = None
    if arch:
        pairs = {str(p[0]): p[1] for p in _items(data.get("DriverStatus")) if len(_items(p)) == 2}
        image_store = pairs.get("driver-type") == CONTAINERD_SNAPSHOTTER
    registry = _obj(data.get("RegistryConfig"))
    index = _obj(registry.get("IndexConfigs"))
    insecure = [
        str(name)
        for name, cfg in index.items()
        if isinstance(cfg, dict) and not cfg.get("Secure", True)
    ]
    insecure += [str(c) for c in _items(registry.get("InsecureRegistryCIDRs"))]
    error = errors[0] if errors and not arch else ""
    return EngineFacts(
        context=str(client.get("Context") or ""),
        endpoint=endpoint,
        client_version=str(client.get("Version") or ""),
        server_version=str(data.get("ServerVersion") or ""),
        os=str(data.get("OperatingSystem") or ""),
        os_type=str(data.get("OSType") or ""),
        architecture=arch,
        kernel=str(data.get("KernelVersion") or ""),
        image_store=image_store,
        insecure_registries=tuple(sorted(set(insecure))),
        buildx_version=_version(str(buildx.get("Version") or "")),
        buildx_path=str(buildx.get("Path") or ""),
        error=error,
        hint=DAEMON_DOWN_HINT if error else "",
    )


def _unreachable_reason(endpoint: str, error: str) -> str:
    """The CLI says "Cannot connect…" for every cause; say which one when it can be seen."""
    low = error.lower()
    if endpoint.startswith("unix://") and not os.path.exists(endpoint.removeprefix("unix://")):
        return "the socket does not exist (is the daemon running?)"
    if "permission denied" in low:
        return f"permission denied on the socket (add yourself to the docker group): {error}"
    if "connection refused" in low:
        return f"connection refused (is the daemon running?): {error}"
    return error


def _current_endpoint() -> str:
    try:
        return current_context().host
    except Exception as exc:  # a broken docker config: docker info reports the same
        _log.debug("cannot read the current docker context: %s", exc)
        return ""


async def engine_facts(timeout_s: float = INFO_TIMEOUT_S) -> EngineFacts:
    """Ask ``docker info`` once. Never raises: a missing CLI or a daemon that does not answer
    gives facts with ``error`` and ``hint`` set (and the client part when the CLI ran)."""
    try:
        docker = process.which("docker")
    except process.CommandNotFound:
        return EngineFacts(
            error="the docker CLI was not found on PATH",
            hint="Install the Docker CLI (docker-ce-cli, docker.io or Docker Desktop).",
        )
    endpoint = await asyncio.to_thread(_current_endpoint)
    try:
        res = await process.run([docker, "info", "--format", "{{json .}}"], timeout=timeout_s)
    except process.CommandTimeout:
        _log.warning("docker info did not answer within %g s", timeout_s)
        return EngineFacts(
            endpoint=endpoint,
            error=f"Docker did not answer within {timeout_s:g} s",
            hint="Check the daemon or the remote context; it may be overloaded or unreachable.",
        )
    facts = parse_engine_facts(res.stdout, endpoint=endpoint, stderr="" if res.ok else res.stderr)
    if facts.error:
        facts = replace(facts, error=_unreachable_reason(facts.endpoint, facts.error))
        _log.warning("docker info: %s", facts.error)
    return facts


async def daemon_info() -> DaemonInfo:
    """The daemon part of :func:`engine_facts` (one ``docker info``); :class:`EngineError` with
    a hint when the daemon cannot be asked. Prefer :func:`engine_facts` and pass it down."""
    facts = await engine_facts()
    if not facts.daemon_ok:
        where = facts.endpoint or facts.context or "the current context"
        raise EngineError(f"Docker is not reachable at {where}: {facts.error}", facts.hint)
    return DaemonInfo(
        context=DockerContext(facts.context, facts.endpoint),
        server_version=facts.server_version,
        os=facts.os,
        os_type=facts.os_type or "linux",
        architecture=facts.architecture,
        kernel=facts.kernel,
        containerd_image_store=bool(facts.image_store),
        insecure_registries=list(facts.insecure_registries),
    )

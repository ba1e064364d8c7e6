"""Checks before ``builder create`` and clearer words after a failed one.

buildx accepts a remote endpoint nothing listens at (then its bootstrap waits 20 s for "context
deadline exceeded"), a pin to a platform the node can neither run nor emulate (the build then
fails with "exec format error"), and reports a BuildKit image it cannot find as a registry lookup
error. These say what is wrong, with the endpoint or image named, before anything is created
where possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from mabgui.core.buildx import BuildxError, CreateRequest
from mabgui.core.buildx.routing import compatible_platforms
from mabgui.core.platform import Platform, is_emulated

PROBE_TIMEOUT_S = 5.0


class CreateRefused(BuildxError):
    """A create refused before anything was made (the message and hint say why)."""


DEFAULT_IMAGE = "moby/buildkit:buildx-stable-1"


async def probe_endpoint(endpoint: str, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """Why a ``tcp://HOST:PORT`` endpoint cannot be reached ("" when it accepts a connection,
    or when it is not a tcp:// endpoint: ssh, unix sockets, contexts are left to buildx)."""
    parts = urlsplit(endpoint)
    if parts.scheme != "tcp" or not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return f"{endpoint} has no valid port"
    if port is None:
        return f"{endpoint} names no port (tcp://HOST:PORT)"
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(parts.hostname, port)
    except TimeoutError:
        return f"nothing answered at {endpoint} within {timeout_s:g} s"
    except OSError as exc:
        detail = os.strerror(exc.errno) if exc.errno else str(exc)
        return f"cannot connect to {endpoint}: {detail}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ""


async def check_endpoints(req: CreateRequest, timeout_s: float = PROBE_TIMEOUT_S) -> list[str]:
    """Why the tcp:// endpoints of a remote-driver request cannot be reached (one line each).

    With ``bootstrap`` that is fatal (:class:`CreateRefused`, before anything is created):
    buildx would wait 20 s to say "context deadline exceeded". Without it the builder may be
    registered for a daemon started later, so the reasons are returned as warnings.
    """
    if req.driver != "remote":
        return []
    reasons = []
    for node in req.nodes:
        reason = await probe_endpoint(node.endpoint, timeout_s)
        if reason and req.bootstrap:
            raise CreateRefused(
                f"the remote BuildKit endpoint {node.endpoint} is unreachable: {reason}",
                f"Start buildkitd there (buildkitd --addr {node.endpoint}) or fix the address; "
                "nothing was created.",
            )
        if reason:
            reasons.append(reason)
    return reasons


def unrunnable(
    platforms: Iterable[Platform], native: Platform, emulatable: Iterable[Platform]
) -> list[Platform]:
    """The platforms a node of native platform ``native`` neither runs nor emulates."""
    emulated = {p.family for p in emulatable}
    runs = set(compatible_platforms(native))  # amd64 runs 386, arm64 runs arm/v8…v5
    return [
        p
        for p in platforms
        if is_emulated(p, native) and p not in runs and p.family not in emulated
    ]


def check_pins(req: CreateRequest, native: Platform | None, emulatable: Iterable[Platform]) -> None:
    """Refuse pins a node on this machine cannot build (docker-container on the local daemon).

    Remote nodes and other docker contexts run elsewhere: their emulators are not known here.
    """
    if req.driver != "docker-container" or native is None:
        return
    emulatable = list(emulatable)
    for node in req.nodes:
        if node.endpoint not in ("", "default") and not node.endpoint.startswith("unix://"):
            continue
        bad = unrunnable(node.platforms, native, emulatable)
        if bad:
            names = ", ".join(str(p) for p in bad)
            have = ", ".join(str(p) for p in sorted({p.family for p in emulatable})) or "none"
            raise CreateRefused(
                f"a node of builder {req.name} would be pinned to {names}, which this machine "
                f"({native}) neither runs natively nor emulates",
                f"No QEMU handler in binfmt_misc provides {names} (emulated here: {have}). "
                "Register one (`mabgui emulators install …`), or pin the node to a platform it "
                "can build; nothing was created.",
            )


def image_of(req: CreateRequest) -> str:
    """The BuildKit image the docker-container nodes of ``req`` boot from."""
    for node in req.nodes:
        if node.driver_opts.get("image"):
            return node.driver_opts["image"]
    return DEFAULT_IMAGE


def missing_image_hint(output: str, req: CreateRequest) -> str:
    """A hint when a docker-container bootstrap failed because its image is nowhere ("" else)."""
    if req.driver != "docker-container":
        return ""
    low = output.lower()
    pulled = "pulling image" in low or "booting buildkit" in low
    missing = any(
        s in low
        for s in ("failed to resolve reference", "pull access denied", "no such host",
                  "manifest unknown", "not found: manifest", "repository does not exist")
    )  # fmt: skip
    if not (pulled and missing):
        return ""
    image = image_of(req)
    return (
        f"The BuildKit image {image} is neither in the daemon's image store nor pullable from its "
        f"registry. Load one: `docker load -i moby-buildkit.tar` (or `gunzip -c "
        f"moby-buildkit.tar.gz | docker load`, a `docker save` of {DEFAULT_IMAGE} made where "
        "Docker Hub is reachable), or name an image you have with --driver-opt image=IMAGE."
    )


def endpoint_hint(output: str, req: CreateRequest) -> str:
    """A hint naming the endpoint when a remote bootstrap timed out or was refused ("" else)."""
    if req.driver != "remote":
        return ""
    low = output.lower()
    if "context deadline exceeded" not in low and "connection refused" not in low:
        return ""
    endpoints = ", ".join(n.endpoint for n in req.nodes if n.endpoint)
    return (
        f"BuildKit did not answer at {endpoints}: check that buildkitd runs there "
        "(buildkitd --addr …) and that the address, port and TLS options are right."
    )

"""buildx's failures as :class:`BuildxError`: its own message, plus a hint where it is cryptic."""

from __future__ import annotations

import os

from mabgui.core import log, process
from mabgui.core.errors import MabguiError

_log = log.get("buildx")


class BuildxError(MabguiError):
    """A buildx command failed; ``str()`` is buildx's own message, ``hint`` says what to do."""

    kind = "buildx"

    def __init__(self, message: str, hint: str = "", output: str = "") -> None:
        super().__init__(message, hint)
        self.output = output


class BuilderNotFound(BuildxError):
    """No builder of that name exists."""

    kind = "builder-not-found"


class BuildxUnavailable(BuildxError):
    """The docker CLI or its buildx plugin is missing."""

    kind = "buildx-unavailable"


class BuildxTimeout(BuildxError):
    """buildx did not answer in time; it was stopped."""

    kind = "timeout"


def error_message(output: str) -> str:
    """buildx's own error out of its stderr: the last ``ERROR:`` line, else the last line."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()
    return lines[-1] if lines else ""


def explain(message: str, driver: str = "") -> str:
    """A hint for buildx messages that do not say what to do."""
    low = message.lower()
    if "moby/buildkit" in low and (
        "resolve reference" in low or "pull" in low or "no such host" in low
    ):
        return (
            "The docker-container driver runs BuildKit from the moby/buildkit image, which could "
            "not be pulled (is Docker Hub reachable?). Load the image with `docker load`, or point "
            "the builder at a mirror with --driver-opt image=REGISTRY/moby/buildkit:TAG; "
            "meanwhile the default `docker` builder still works."
        )
    if "cannot connect to the docker daemon" in low:
        return (
            "The Docker daemon behind this node is not running or not reachable: start it, or fix "
            "the docker context (`docker context ls`)."
        )
    if ("no builder" in low and "found" in low) or "failed to find instance" in low:
        context = os.environ.get("DOCKER_CONTEXT", "")
        if context and f'"{context.lower()}"' in low:
            # buildx reads DOCKER_CONTEXT as the name of the builder to use.
            return (
                f"DOCKER_CONTEXT={context} names no docker context (buildx takes it as a "
                "builder name): unset DOCKER_CONTEXT or pick one from `docker context ls`."
            )
        return "No builder of that name: see `mabgui builders`."
    if "existing instance for" in low:
        return "A builder of that name exists: pick another name, or add a node to it (append)."
    if "kubernetes" in low or "kubeconfig" in low or "kubernetes_master" in low:
        return (
            "The kubernetes driver needs a working kubeconfig (~/.kube/config or KUBECONFIG) "
            "and a namespace it may create deployments in."
        )
    if "context deadline exceeded" in low or "waiting for connection" in low:
        return (
            "The BuildKit endpoint did not answer in time: check that buildkitd runs there and "
            "is reachable (address, port, firewall, TLS options)."
        )
    if "connection refused" in low:
        return "Nothing listens at that endpoint: start buildkitd there or fix the address."
    if "multiple platforms feature is currently not supported for docker driver" in low or (
        "multi-platform build is not supported for the docker driver" in low
    ):
        return DOCKER_DRIVER_MULTIPLATFORM_FIX
    if "permission denied" in low:
        return "Permission denied: add your user to the docker group, or run as a privileged user."
    return ""


DOCKER_DRIVER_MULTIPLATFORM_FIX = (
    "Create a docker-container builder (New multi-arch builder / `mabgui builder create`), or "
    'turn on the containerd image store: {"features": {"containerd-snapshotter": true}} in '
    "/etc/docker/daemon.json, then restart dockerd."
)


def refuse(message: str, hint: str = "") -> BuildxError:
    """A :class:`BuildxError` raised by mabgui itself (a request refused before buildx runs,
    output it cannot read), logged like buildx's own failures."""
    _log.warning("%s", message)
    return BuildxError(message, hint)


def command_error(res: process.CommandResult, what: str, driver: str = "") -> BuildxError:
    """The error for a failed buildx run: ``what`` failed, buildx's message, a hint; logged."""
    output = (res.stderr + "\n" + res.stdout).strip()
    message = (
        error_message(res.stderr) or error_message(res.stdout) or f"exit code {res.returncode}"
    )
    hint = explain(output, driver)
    cls: type[BuildxError] = BuilderNotFound if is_not_found(message) else BuildxError
    _log.warning("%s: %s (exit %s)", what, message, res.returncode)
    return cls(f"{what}: {message}", hint, output)


def is_not_found(message: str) -> bool:
    """True when buildx's message says the builder does not exist."""
    low = message.lower()
    return ("no builder" in low and "found" in low) or "failed to find instance" in low

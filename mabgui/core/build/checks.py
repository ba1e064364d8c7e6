"""The checks of a :class:`BuildSpec` that need no engine (files, output, secrets, names).

Those that need the engine (the builder and its platforms, emulators, the image store, tags as
image references) live above the areas, in :mod:`mabgui.core.preflight`, which runs these
first. Both return a :class:`Validation`; :class:`BuildError` carries a refused one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mabgui.core.build.spec import BUILD_ARG_KEY, SECRET_ID, URL_CONTEXT, BuildSpec, OutputKind
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform

_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class BuildError(MabguiError):
    """The spec was refused before the build started (every reason in ``errors``)."""

    kind = "build-refused"

    def __init__(self, errors: Sequence[str], warnings: Sequence[str] = ()) -> None:
        if len(errors) == 1:
            message = errors[0]
        else:
            message = "the build was refused:\n  - " + "\n  - ".join(errors)
        super().__init__(message, "nothing was started")
        self.errors = list(errors)
        self.warnings = list(warnings)


@dataclass
class Validation:
    """What the checks found: errors refuse the build, warnings do not; ``native`` is the
    builder's native platforms when the checks learnt them (empty: unknown)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    native: tuple[Platform, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def check_spec(spec: BuildSpec) -> Validation:
    """The checks that need no engine: files, output, secrets, build-arg names, target."""
    v = Validation()
    url_context = bool(URL_CONTEXT.match(spec.context))
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
    if spec.output is OutputKind.PUSH and not spec.tags:
        v.errors.append("push needs at least one tag (--tag REGISTRY/REPO:TAG)")
    if spec.per_platform and (spec.output is not OutputKind.PUSH or len(spec.tags) != 1):
        v.errors.append(
            "a per-platform build pushes by digest and assembles one index: give push and"
            " exactly one tag (REGISTRY/REPO:TAG)"
        )
    if spec.output is OutputKind.DIGEST and not spec.output_dest:
        v.errors.append("push by digest: give the repository (REGISTRY/REPO)")
    if spec.output in (OutputKind.LOCAL, OutputKind.OCI) and not spec.output_dest:
        what = "a directory" if spec.output is OutputKind.LOCAL else "a file (.tar)"
        v.errors.append(f"output {spec.output}: give the destination, {what}")
    if spec.output is OutputKind.OCI and spec.output_dest:
        parent = Path(spec.output_dest).resolve().parent
        if not parent.is_dir():
            v.errors.append(f"output file's directory {str(parent)!r} does not exist")
    for secret in spec.secrets:
        if not SECRET_ID.match(secret.id):
            v.errors.append(f"secret id {secret.id!r} may only hold letters, digits, . _ -")
        if not Path(secret.src).is_file():
            v.errors.append(f"secret {secret.id!r}: file {secret.src!r} does not exist")
    for key in spec.build_args:
        if not BUILD_ARG_KEY.match(key):
            v.errors.append(f"build arg {key!r} is not a valid name")
    if spec.target and not _TARGET.match(spec.target):
        v.errors.append(f"target {spec.target!r} is not a stage name")
    return v

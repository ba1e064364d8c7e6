"""Builds: a :class:`BuildSpec`, its checks, running it with live progress, and the history.

* :mod:`.spec` — :class:`BuildSpec` and its argv (no shell, ``--`` before the context);
* :mod:`.checks` — the engine-free checks (:func:`check_spec`), :class:`Validation`,
  :class:`BuildError`; the checks that need the engine are in :mod:`mabgui.core.preflight`;
* :mod:`.run` — :class:`BuildRun`: buildx started, its stream folded, cancel, history save;
* :mod:`.scrub` — build-arg values and secrets out of everything stored;
* :mod:`.history` — saved builds and recorded streams.

This area imports no other area (buildx, binfmt, registry): what a build needs from them is
joined above, in :mod:`mabgui.core.preflight`.
"""

from __future__ import annotations

from mabgui.core.build.checks import BuildError, Validation, check_spec
from mabgui.core.build.run import (
    CANCEL_GRACE_S,
    READ_CHUNK,
    BuildRun,
    EventCallback,
    Preflight,
    metadata_digest,
    read_metadata_digest,
    run_build,
)
from mabgui.core.build.spec import (
    BuildSpec,
    OutputKind,
    Secret,
    SpecError,
    parse_build_arg,
    parse_platforms,
)

__all__ = [
    "CANCEL_GRACE_S",
    "READ_CHUNK",
    "BuildError",
    "BuildRun",
    "BuildSpec",
    "EventCallback",
    "OutputKind",
    "Preflight",
    "Secret",
    "SpecError",
    "Validation",
    "check_spec",
    "metadata_digest",
    "parse_build_arg",
    "parse_platforms",
    "read_metadata_digest",
    "run_build",
]

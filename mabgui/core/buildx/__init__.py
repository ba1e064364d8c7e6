"""buildx builders as data: list, inspect, create, bootstrap, use, stop, restart, rm and du.

An async adapter over the ``docker buildx`` CLI, one module per concern:

- :mod:`.errors` — :class:`BuildxError` and its kinds, buildx's message and a hint for it;
- :mod:`.model` — :class:`Builder`, :class:`Node` (with its per-node native platform),
  :class:`GCPolicy`, :class:`DiskUsage` and the create request/result;
- :mod:`.parse` — pure parsers of ``ls`` (JSON and table), ``inspect``, ``du``, contexts;
- :mod:`.commands` — running buildx (list, get, inspect/bootstrap, use, stop, restart, rm, du);
- :mod:`.create` — validating, creating and undoing a builder.

Callers use the package: ``from mabgui.core import buildx; await buildx.list_builders()``.
What the views build on top (chips, notes, the overview) lives in :mod:`mabgui.core.overview`.
"""

from mabgui.core.buildx.commands import (
    BOOTSTRAP_TIMEOUT_S,
    CHANGE_TIMEOUT_S,
    INSPECT_TIMEOUT_S,
    LS_TEMPLATE,
    LS_TIMEOUT_S,
    NODE_TIMEOUT_S,
    ProgressCallback,
    bootstrap,
    check_name,
    disk_usage,
    docker_contexts,
    get_builder,
    inspect,
    list_builders,
    remove,
    restart,
    restart_argv,
    run_buildx,
    stop,
    use,
)
from mabgui.core.buildx.create import (
    DRIVERS,
    create,
    create_argv,
    parse_driver_opts,
    validate_create,
)
from mabgui.core.buildx.errors import (
    DOCKER_DRIVER_MULTIPLATFORM_FIX,
    BuilderNotFound,
    BuildxError,
    BuildxTimeout,
    BuildxUnavailable,
    command_error,
    error_message,
    explain,
    is_not_found,
)
from mabgui.core.buildx.model import (
    DAEMON_DRIVERS,
    Builder,
    CreateRequest,
    CreateResult,
    DiskUsage,
    GCPolicy,
    Node,
    NodeSpec,
    on_daemon,
    with_engine,
)
from mabgui.core.buildx.parse import (
    builder_from_json,
    parse_contexts,
    parse_du,
    parse_inspect,
    parse_ls_json,
    parse_ls_table,
    parse_size,
    resolve_hosts,
)

__all__ = [
    "BOOTSTRAP_TIMEOUT_S",
    "CHANGE_TIMEOUT_S",
    "DAEMON_DRIVERS",
    "DOCKER_DRIVER_MULTIPLATFORM_FIX",
    "DRIVERS",
    "INSPECT_TIMEOUT_S",
    "LS_TEMPLATE",
    "LS_TIMEOUT_S",
    "NODE_TIMEOUT_S",
    "Builder",
    "BuilderNotFound",
    "BuildxError",
    "BuildxTimeout",
    "BuildxUnavailable",
    "CreateRequest",
    "CreateResult",
    "DiskUsage",
    "GCPolicy",
    "Node",
    "NodeSpec",
    "ProgressCallback",
    "bootstrap",
    "builder_from_json",
    "check_name",
    "command_error",
    "create",
    "create_argv",
    "disk_usage",
    "docker_contexts",
    "error_message",
    "explain",
    "get_builder",
    "inspect",
    "is_not_found",
    "list_builders",
    "on_daemon",
    "parse_contexts",
    "parse_driver_opts",
    "parse_du",
    "parse_inspect",
    "parse_ls_json",
    "parse_ls_table",
    "parse_size",
    "remove",
    "resolve_hosts",
    "restart",
    "restart_argv",
    "run_buildx",
    "stop",
    "use",
    "validate_create",
    "with_engine",
]  # fmt: skip

"""binfmt_misc as data: which interpreters (QEMU user emulators) run foreign binaries here.

The package, module by module:

- :mod:`~mabgui.core.binfmt.errors`: :class:`BinfmtError` and the one handler-name check;
- :mod:`~mabgui.core.binfmt.model`: :class:`Handler`, :class:`BinfmtState`,
  :class:`InstallResult` and the :class:`Backend` interface;
- :mod:`~mabgui.core.binfmt.magic`: ELF magic ↔ platform, QEMU's names, host interpreters;
- :mod:`~mabgui.core.binfmt.parse`: handler files, dumps, registration lines and ``.conf`` files;
- :mod:`~mabgui.core.binfmt.local`: :class:`LocalBinfmt`, this host's kernel written directly;
- :mod:`~mabgui.core.binfmt.daemon`: ``DaemonBinfmt``, the Docker daemon's kernel through
  privileged containers (remote daemons, Docker Desktop's VM);
- :mod:`~mabgui.core.binfmt.backend`: which of the two to use.

Both backends say, before anything runs, exactly what they will do (``command_for``). This
module re-exports the public names, so ``from mabgui.core import binfmt`` is all a caller needs.
"""

from __future__ import annotations

from mabgui.core.binfmt.errors import (
    RESERVED_NAMES,
    BinfmtError,
    check_handler_name,
    is_handler_name,
)
from mabgui.core.binfmt.local import REMOVE_ALL_CONFIRMATION, LocalBinfmt, local_available
from mabgui.core.binfmt.magic import (
    ELF_MAGIC,
    INSTALLABLE_PLATFORMS,
    INTERPRETER_DIRS,
    QEMU_ARCH,
    elf_magic,
    find_host_interpreter,
    parse_platforms,
    platforms_from_magic,
    platforms_from_name,
    qemu_handler_name,
)
from mabgui.core.binfmt.model import (
    BINFMT_ROOT,
    Backend,
    BinfmtState,
    Handler,
    InstallResult,
)
from mabgui.core.binfmt.parse import (
    BINPRM_BUF_SIZE,
    DUMP_MARK,
    DUMP_SCRIPT,
    VALID_FLAGS,
    RegisterSpec,
    parse_dump,
    parse_handler,
    parse_register_line,
    read_conf,
    read_state,
    spec_for_platform,
    spec_from_handler,
)
from mabgui.core.platform import Platform

__all__ = [
    "BINFMT_ROOT",
    "BINPRM_BUF_SIZE",
    "DUMP_MARK",
    "DUMP_SCRIPT",
    "ELF_MAGIC",
    "INSTALLABLE_PLATFORMS",
    "INTERPRETER_DIRS",
    "QEMU_ARCH",
    "REMOVE_ALL_CONFIRMATION",
    "RESERVED_NAMES",
    "VALID_FLAGS",
    "Backend",
    "BinfmtError",
    "BinfmtState",
    "Handler",
    "InstallResult",
    "LocalBinfmt",
    "Platform",
    "RegisterSpec",
    "check_handler_name",
    "elf_magic",
    "find_host_interpreter",
    "is_handler_name",
    "local_available",
    "parse_dump",
    "parse_handler",
    "parse_platforms",
    "parse_register_line",
    "platforms_from_magic",
    "platforms_from_name",
    "qemu_handler_name",
    "read_conf",
    "read_state",
    "spec_for_platform",
    "spec_from_handler",
]

"""The one error base of mabgui: a message a user can act on and an optional hint.

Every adapter's failures (buildx, binfmt, registry, builds, the engine, processes) derive from
:class:`MabguiError`, so the CLI catches it once in ``main`` (exit code, ``--json`` error object,
hint) and the UI once in its task manager. A message or hint never contains a secret.
"""

from __future__ import annotations

from typing import Any


class MabguiError(Exception):
    """A failure to show to the user: ``str()`` is the message, ``hint`` says what to do.

    ``kind`` is a stable machine-readable name for scripts (``--json``'s ``"kind"``).
    """

    kind = "error"

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    @property
    def message(self) -> str:
        return str(self)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` error object: ``{"ok": false, "error": …, "hint": …, "kind": …}``."""
        return {"ok": False, "error": self.message, "hint": self.hint, "kind": self.kind}

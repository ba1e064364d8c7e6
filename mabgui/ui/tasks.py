"""The UI's one task manager: widgets run core coroutines through it, and it owns their end.

A widget makes one :class:`TaskManager` owned by itself and starts work in a *group*::

    self.tasks = TaskManager(self, on_failure=self._task_failed)
    self.tasks.start("refresh", self._refresh())

- **Latest wins per group**: starting a task in a group cancels the one still in flight there (a
  new look-up replaces the old one). ``None`` as the group runs the task alongside the others.
- **Owned**: the tasks are cancelled when the owner widget is destroyed; the manager holds each
  task until it ends so the garbage collector cannot drop it half-way.
- **One error path**: a :class:`~mabgui.core.errors.MabguiError` escaping a task becomes a
  :class:`TaskFailure` (its message and hint) handed to ``on_failure``; any other exception is
  logged with its traceback on the ``ui`` logger and handed over as an internal error. A view's
  coroutine therefore only catches what it handles differently (e.g. shows inline).
- **Bounded shutdown**: :func:`shutdown` cancels and waits at most ``timeout`` seconds: a task
  that ignores its cancellation cannot hold the window's close. ``CancelledError`` is never
  swallowed here; waiting uses :func:`asyncio.wait`, which does not raise the tasks' outcomes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject

from mabgui.core import log
from mabgui.core.errors import MabguiError

if TYPE_CHECKING:  # asyncio loads with the event loop, after the window's first paint
    import asyncio

_log = log.get("ui")

# How long closing the window waits for cancelled tasks before it gives up on them.
SHUTDOWN_BOUND_S = 2.0


@dataclass(frozen=True)
class TaskFailure:
    """What a view shows when a task failed: a message, a hint, and whether it is a bug."""

    message: str
    hint: str = ""
    internal: bool = False  # not a MabguiError: an unexpected exception (logged with traceback)
    kind: str = "error"
    group: str | None = None

    @property
    def text(self) -> str:
        """Message and hint as plain text (one line each)."""
        return self.message + (f"\n{self.hint}" if self.hint else "")

    @classmethod
    def from_exception(cls, exc: BaseException, group: str | None = None) -> TaskFailure:
        if isinstance(exc, MabguiError):
            return cls(exc.message or type(exc).__name__, exc.hint, False, exc.kind, group)
        return cls(
            f"Internal error: {type(exc).__name__}: {exc}",
            "This is a bug in mabgui; the log folder (Help → Show log folder) has the details.",
            True,
            "internal",
            group,
        )


FailureHandler = Callable[[TaskFailure], None]

# Every live manager, so the window can stop the work of all widgets under it.
_managers: weakref.WeakSet[TaskManager] = weakref.WeakSet()


def _weak_handler(handler: FailureHandler | None) -> Callable[[], FailureHandler | None]:
    """A bound method is held weakly: the view → manager → view.method cycle would otherwise
    let the garbage collector free the view later, possibly from another thread."""
    if handler is None:
        return lambda: None
    if hasattr(handler, "__self__") and hasattr(handler, "__func__"):
        ref = weakref.WeakMethod(handler)
        return ref
    return lambda: handler


class TaskManager:
    """Owns the background tasks of one widget (see the module docstring)."""

    def __init__(
        self, owner: QObject | None = None, on_failure: FailureHandler | None = None
    ) -> None:
        self._groups: dict[str, asyncio.Task[Any]] = {}
        self._all: set[asyncio.Task[Any]] = set()
        self._handler = _weak_handler(on_failure)
        self._owner: weakref.ref[QObject] | None = None
        if owner is not None:
            self._owner = weakref.ref(owner)
            this = weakref.ref(self)  # the connection must not keep the manager alive
            owner.destroyed.connect(lambda *_: _cancel_ref(this))
        _managers.add(self)

    @property
    def owner(self) -> QObject | None:
        return self._owner() if self._owner is not None else None

    # --- starting and stopping ------------------------------------------------------------------
    def start(self, group: str | None, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Schedule ``coro``; in a ``group``, the task still running there is cancelled first."""
        if group is not None:
            previous = self._groups.pop(group, None)
            if previous is not None and not previous.done():
                previous.cancel()
        import asyncio

        task = asyncio.ensure_future(coro)
        owner = self.owner
        task.set_name(f"{type(owner).__name__ if owner is not None else 'ui'}:{group or 'task'}")
        self._all.add(task)
        if group is not None:
            self._groups[group] = task
        task.add_done_callback(lambda t: self._finished(group, t))
        return task

    def cancel(self, group: str) -> None:
        task = self._groups.get(group)
        if task is not None and not task.done():
            task.cancel()

    def cancel_all(self) -> set[asyncio.Task[Any]]:
        """Cancel every task in flight; returns them (to wait for, bounded)."""
        pending = {task for task in self._all if not task.done()}
        for task in pending:
            task.cancel()
        return pending

    # --- state ------------------------------------------------------------------------------
    def task(self, group: str) -> asyncio.Task[Any] | None:
        """The task currently in ``group`` (running or just ended), if any."""
        return self._groups.get(group)

    def running(self, group: str) -> bool:
        task = self._groups.get(group)
        return task is not None and not task.done()

    def running_count(self) -> int:
        return sum(1 for task in self._all if not task.done())

    def pending(self) -> set[asyncio.Task[Any]]:
        return {task for task in self._all if not task.done()}

    async def wait_all(self, timeout: float | None = None) -> bool:
        """Wait until no task runs (tests use it to let a view settle); False on time-out.

        Tasks started meanwhile are waited for too. Outcomes are not raised (they went to
        ``on_failure``); cancelling the caller cancels only the wait.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while pending := self.pending():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(pending, timeout=left)
        return True

    # --- outcomes -----------------------------------------------------------------------------
    def _finished(self, group: str | None, task: asyncio.Task[Any]) -> None:
        self._all.discard(task)
        if group is not None and self._groups.get(group) is task:
            del self._groups[group]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        failure = TaskFailure.from_exception(exc, group)
        if failure.internal:
            _log.error("task %s failed", task.get_name(), exc_info=exc)
        else:
            _log.warning("task %s: %s (%s)", task.get_name(), failure.message, failure.kind)
        # The traceback's frames reference the view; nobody needs them after logging.
        _drop_tracebacks(exc)
        handler = self._handler()
        if handler is not None:
            handler(failure)


TaskRunner = TaskManager  # the former name, kept for call sites not yet renamed


def _cancel_ref(ref: weakref.ref[TaskManager]) -> None:
    manager = ref()
    if manager is not None:
        manager.cancel_all()


def _drop_tracebacks(exc: BaseException) -> None:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        todo += [e.__context__, e.__cause__]


def managers_under(root: QObject) -> list[TaskManager]:
    """The live managers owned by ``root`` or by any object whose parent chain reaches it
    (dialogs included: they are separate windows but children of a view)."""
    found = []
    for manager in list(_managers):
        obj = manager.owner
        # A wrapper may outlive its C++ object (deleted by its Qt parent): never touch it.
        while obj is not None and obj is not root and shiboken6.isValid(obj):
            obj = obj.parent()
        if obj is root:
            found.append(manager)
    return found


def all_managers() -> list[TaskManager]:
    return list(_managers)


async def shutdown(
    managers: Iterable[TaskManager], timeout: float = SHUTDOWN_BOUND_S
) -> set[asyncio.Task[Any]]:
    """Cancel every task of ``managers`` and wait for them at most ``timeout`` seconds.

    Returns the tasks still running then (logged): they ignored their cancellation. Cancelling
    the caller propagates at once (``asyncio.wait`` does not swallow it).
    """
    tasks: set[asyncio.Task[Any]] = set()
    for manager in managers:
        tasks |= manager.cancel_all()
    return await wait_bounded(tasks, timeout)


async def wait_bounded(
    tasks: Iterable[asyncio.Future[Any]], timeout: float = SHUTDOWN_BOUND_S
) -> set[asyncio.Task[Any]]:
    """Wait for already-cancelled ``tasks`` at most ``timeout`` s; returns the stubborn ones."""
    import asyncio

    todo = {t for t in tasks if not t.done()}
    if not todo:
        return set()
    _done, stubborn = await asyncio.wait(todo, timeout=timeout)
    if stubborn:
        names = ", ".join(sorted(t.get_name() for t in stubborn if isinstance(t, asyncio.Task)))
        _log.warning(
            "%d task(s) still running %.1f s after cancel, left behind: %s",
            len(stubborn),
            timeout,
            names,
        )
    return {t for t in stubborn if isinstance(t, asyncio.Task)}

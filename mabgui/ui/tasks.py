"""Run core coroutines from widgets: named tasks where the latest wins, strong references kept.

A widget calls ``tasks.start("refresh", self._refresh())``: a refresh still in flight under the
same name is cancelled first (a new look-up replaces the old one), and the task object is held
until it ends so the garbage collector cannot drop it half-way. Exceptions that escape a task are
handed to ``on_error`` (views show them) instead of vanishing into the loop's log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

ErrorHandler = Callable[[BaseException], None]


class TaskRunner:
    """Owns the background tasks of one widget."""

    def __init__(self, on_error: ErrorHandler | None = None) -> None:
        self._named: dict[str, asyncio.Task[Any]] = {}
        self._all: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def start(self, name: str | None, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Schedule ``coro``; with a ``name``, cancel the previous task of that name first."""
        if name is not None:
            previous = self._named.pop(name, None)
            if previous is not None and not previous.done():
                previous.cancel()
        task = asyncio.ensure_future(coro)
        self._all.add(task)
        if name is not None:
            self._named[name] = task
        task.add_done_callback(lambda t: self._finished(name, t))
        return task

    def running(self, name: str) -> bool:
        task = self._named.get(name)
        return task is not None and not task.done()

    def running_count(self) -> int:
        return sum(1 for task in self._all if not task.done())

    def cancel(self, name: str) -> None:
        task = self._named.get(name)
        if task is not None and not task.done():
            task.cancel()

    def cancel_all(self) -> None:
        for task in list(self._all):
            if not task.done():
                task.cancel()

    async def wait_all(self) -> None:
        """Wait for every task (tests use it to let a view settle)."""
        while self._all:
            with contextlib.suppress(BaseException):
                await asyncio.gather(*self._all, return_exceptions=True)

    def _finished(self, name: str | None, task: asyncio.Task[Any]) -> None:
        self._all.discard(task)
        if name is not None and self._named.get(name) is task:
            del self._named[name]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self._on_error is not None:
            self._on_error(exc)

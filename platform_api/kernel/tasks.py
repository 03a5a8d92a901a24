"""Stopping a background task for good."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

_log = structlog.get_logger("kernel.tasks")
RECANCEL_SECONDS = 0.1


async def stop(task: asyncio.Task[Any], *, within: float = 10.0) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling it again while it goes on.

    One cancellation is not always enough on Python 3.11: ``asyncio.wait_for``, which
    redis-py uses for every command when a socket timeout is set, swallows a cancellation
    that arrives just as what it awaits completes, and a loop around it then carries on (a
    shutdown would wait on it for ever). Past ``within`` seconds the task is left to itself,
    and logged. A failure of the task is logged, not raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not task.done():
        if loop.time() >= deadline:
            _log.error("task_would_not_stop", task=task.get_name(), seconds=within)
            return
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
    if not task.cancelled() and (error := task.exception()) is not None:
        _log.error("task_failed", task=task.get_name(), error=repr(error))


def check_running(task: asyncio.Task[Any] | None, what: str) -> None:
    """For a liveness check: raise if a background task of the process (``what``) has
    ended (``None``: the process runs none). Such a task only ends when stopped; if it ever
    did otherwise, its work would silently stop until a restart starts it again."""
    if task is not None and task.done():
        raise RuntimeError(f"{what} has stopped")

"""kernel.tasks.stop: a background task ends, even one whose loop swallows a cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import structlog
from structlog.testing import capture_logs

from platform_api.kernel import tasks
from platform_api.kernel.tasks import stop


@pytest.fixture(autouse=True)
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """A logger keeps the processors of its first use; a fresh one logs into the capture."""
    monkeypatch.setattr(tasks, "_log", structlog.get_logger("kernel.tasks"))


async def _wait_for_loop(event: asyncio.Event) -> None:
    """The shape of the loops that outlived a cancellation: a wait_for (as redis-py does for
    every command) on something that is ready at once."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), 1.0)
        await asyncio.sleep(0)


@pytest.mark.parametrize("steps", range(12))
async def test_a_loop_that_swallows_a_cancellation_is_stopped(steps: int) -> None:
    event = asyncio.Event()
    event.set()
    task = asyncio.create_task(_wait_for_loop(event))
    for _ in range(steps):
        await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await stop(task)
    assert task.done()


async def test_a_task_that_will_not_stop_is_left_and_logged() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(1)

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    try:
        with capture_logs() as logs:
            await stop(task, within=0.3)
        assert not task.done()
        assert [(e["event"], e["task"]) for e in logs] == [("task_would_not_stop", "stubborn")]
    finally:  # never left behind: the session's loop would wait on it at its end
        release.set()
        await stop(task)


async def test_a_failed_task_is_logged_not_raised() -> None:
    async def failing() -> None:
        raise OSError("link lost")

    task = asyncio.create_task(failing(), name="reader")
    await asyncio.sleep(0)
    with capture_logs() as logs:
        await stop(task)
    assert [(e["event"], e["error"]) for e in logs] == [("task_failed", "OSError('link lost')")]

"""The in-process dojo worker is watched by liveness; a failed room push leaves nothing running."""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Any

import asyncpg
import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from platform_api.dojos import create_app, worker
from platform_api.dojos.collab import MemoryCollab, unavailable
from platform_api.dojos.room import push_room
from platform_api.kernel import tasks
from tests.harness.asgi import serve
from tests.integration.conftest import SignUp

from .conftest import MakeSettings, Stack, dojo_body, join_with_invite


async def test_the_service_is_not_alive_once_its_worker_has_failed(
    dojo_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = asyncio.Event()

    async def schedule_until_told(*_: Any) -> None:
        await failing.wait()
        raise RuntimeError("the scheduler broke")

    monkeypatch.setattr(worker, "schedule_forever", schedule_until_told)
    monkeypatch.setattr(worker, "_log", structlog.get_logger("dojos.worker"))
    monkeypatch.setattr(tasks, "_log", structlog.get_logger("kernel.tasks"))
    app = create_app(dojo_settings(), collab=MemoryCollab())
    with capture_logs() as logs:
        async with serve(app) as client:
            assert (await client.get("/healthz")).status_code == 200
            failing.set()
            await asyncio.wait({app.state.worker})
            # Only a restart starts the worker again: the process says it is not alive.
            response = await client.get("/healthz")
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "the dojo worker has stopped" in response.json()["detail"]
            assert (await client.get("/readyz")).status_code == 200  # its database is fine
    errors = [(e["event"], e.get("error", "")) for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1, errors  # logged when it failed, not again at the shutdown
    assert errors[0][0] == "dojo_worker_failed"
    assert "the scheduler broke" in errors[0][1]


async def test_a_service_that_runs_no_worker_is_alive(dojo_settings: MakeSettings) -> None:
    app = create_app(dojo_settings(run_worker=False), collab=MemoryCollab())
    async with serve(app) as client:
        assert (await client.get("/healthz")).status_code == 200


def _settings_from_env(dojo_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's settings as the standalone worker reads them: from the environment."""
    for name, value in dojo_settings().model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None and not isinstance(value, (dict, list)):
            monkeypatch.setenv(f"DOJOS_{name.upper()}", str(value))


async def test_the_standalone_worker_exits_with_an_error_when_it_fails(
    dojo_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor that restarts failed processes must see a failure, not a clean stop."""

    async def broken(*_: Any) -> None:
        raise RuntimeError("the scheduler broke")

    _settings_from_env(dojo_settings, monkeypatch)
    monkeypatch.setattr(worker, "schedule_forever", broken)
    loop = asyncio.get_running_loop()
    with pytest.raises(SystemExit) as exited:
        async with asyncio.timeout(30):
            await worker.main()
    assert exited.value.code == 1
    for sig in (signal.SIGINT, signal.SIGTERM):  # its handlers are gone with it
        assert not loop.remove_signal_handler(sig)


async def test_the_standalone_worker_closes_its_pool_when_its_bus_cannot_be_made(
    dojo_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings_from_env(dojo_settings, monkeypatch)
    pools: list[asyncpg.Pool] = []
    create_pool = worker.create_pool

    async def recorded(*args: Any, **kwargs: Any) -> asyncpg.Pool:
        pools.append(await create_pool(*args, **kwargs))
        return pools[-1]

    async def no_bus(*_: Any) -> None:
        raise ConnectionError("the event bus is unreachable")

    monkeypatch.setattr(worker, "create_pool", recorded)
    monkeypatch.setattr(worker, "publisher_for", no_bus)
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(30):
            await worker.main()
    [owner] = pools
    assert owner.is_closing()


class OneRoleFails(MemoryCollab):
    """The role request for ``failing_user`` fails at once; every other one waits until it
    is cancelled (a collab node that answers slowly)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing_user: str | None = None
        self.waiting = 0
        self.cancelled = 0

    async def control(self, room: str, command: dict[str, str]) -> None:
        if self.failing_user is None:
            return await super().control(room, command)
        if command.get("user") == self.failing_user:
            raise unavailable()
        self.waiting += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.waiting -= 1


async def test_a_failed_role_push_cancels_the_other_role_requests(
    dojo_settings: MakeSettings, sign_up: SignUp, invite_member: Any
) -> None:
    collab = OneRoleFails()
    app = create_app(dojo_settings(run_worker=False), collab=collab)
    async with serve(app) as client:
        s = Stack(client=client, app=app, ws="")
        owner = await sign_up()
        member = await invite_member(owner)
        did = (await s.ok("POST", "/dojos", owner, 201, json=dojo_body()))["dojo_id"]
        await join_with_invite(s, owner, member, did)
        collab.failing_user = owner.user_id
        started = await s.ok("POST", f"/dojos/{did}/start", owner)
        assert started["status"] == "active"  # the push is left to the worker
        assert collab.cancelled == 1  # the member's role request did not outlive the push
        assert collab.waiting == 0

        # Pushed again by hand: the failed push leaves its task as it found it (on Python
        # 3.11 a TaskGroup would leave it marked as being cancelled, and a timeout around
        # it would then misread its own expiry).
        async def push() -> tuple[bool, int]:
            pushed = await push_room(app.state.dojos, uuid.UUID(owner.tenant_id), uuid.UUID(did))
            task = asyncio.current_task()
            assert task is not None
            return pushed, task.cancelling()

        assert await asyncio.create_task(push()) == (False, 0)
        assert collab.cancelled == 2
        assert collab.waiting == 0

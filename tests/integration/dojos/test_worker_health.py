"""The in-process dojo worker is watched by readiness; a failed room push leaves nothing running."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from platform_api.dojos import create_app, worker
from platform_api.dojos.collab import MemoryCollab, unavailable
from tests.harness.asgi import serve
from tests.integration.conftest import SignUp

from .conftest import MakeSettings, Stack, dojo_body, join_with_invite


async def test_the_service_is_not_ready_once_its_worker_has_failed(
    dojo_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = asyncio.Event()

    async def schedule_until_told(*_: Any) -> None:
        await failing.wait()
        raise RuntimeError("the scheduler broke")

    monkeypatch.setattr(worker, "schedule_forever", schedule_until_told)
    monkeypatch.setattr(worker, "_log", structlog.get_logger("dojos.worker"))
    app = create_app(dojo_settings(), collab=MemoryCollab())
    async with serve(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        with capture_logs() as logs:
            failing.set()
            await asyncio.wait({app.state.worker})
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "RuntimeError" in response.json()["detail"]
        failed = [e for e in logs if e["event"] == "dojo_worker_failed"]
        assert len(failed) == 1
        assert "the scheduler broke" in failed[0]["error"]


async def test_a_service_that_runs_no_worker_is_ready(dojo_settings: MakeSettings) -> None:
    app = create_app(dojo_settings(run_worker=False), collab=MemoryCollab())
    async with serve(app) as client:
        assert (await client.get("/readyz")).status_code == 200


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

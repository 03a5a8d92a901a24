"""Outages of the services' dependencies: Redis restarting (its connections all dead, its
data gone when it keeps none) and PostgreSQL or Redis out of reach.

A restart must cost nothing once Redis is back: no request failed on a dead pooled
connection, no consumer stuck on a group that no longer exists. While a dependency is out
of reach, a request gets a 503 with Retry-After, never a 500."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from platform_api.identity.app import create_app as create_identity_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel import KeySet, create_pool
from platform_api.kernel.errors import UNAVAILABLE_RETRY_SECONDS
from platform_api.kernel.events import new_event
from platform_api.kernel.events_redis import RedisStreamsConsumer, RedisStreamsPublisher
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from platform_api.kernel.ratelimit import RateLimiter
from platform_api.pocs.app import create_app as create_pocs_app
from platform_api.pocs.settings import PocsSettings
from tests.harness.asgi import serve
from tests.harness.identity import SignUp


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A throwaway ``redis-server`` that keeps no data, restarted on the same port."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.port = _free_port()
        self.folder = folder
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


async def test_redis_clients_carry_on_after_redis_restarts(redis_server: RedisServer) -> None:
    limiter = RateLimiter(redis_server.url, prefix="outage")
    queue = RedisStreamsQueue(redis_server.url, "outage-jobs", visibility_timeout=5)
    publisher = RedisStreamsPublisher.from_url(redis_server.url, prefix="outage")
    consumer = await RedisStreamsConsumer.open(
        redis_server.url, topics=["poc"], group="search", name="c1", prefix="outage"
    )
    tenant = uuid.uuid4()
    try:
        for _ in range(2):  # before the restart, and after it
            # Each client's pooled connection is dead after the restart: the first
            # command on it reconnects instead of failing.
            await limiter.hit("100/minute", "someone", detail="Too many attempts")
            await queue.send({"job": 1})
            delivery = None
            for _ in range(3):  # the first read after a data loss makes the group again
                if delivery := await queue.receive(wait_seconds=0.1):
                    break
            assert delivery is not None
            assert delivery.body == {"job": 1}
            await queue.ack(delivery)
            event = new_event(
                "poc.created", tenant_id=tenant, aggregate_id=uuid.uuid4(), version=1, payload={}
            )
            await publisher.publish([event])
            received = []
            for _ in range(3):
                if received := await consumer.receive(wait_seconds=0.1):
                    break
            assert [d.event.id for d in received] == [event.id]
            await consumer.ack(received)
            redis_server.restart()
    finally:
        await consumer.aclose()
        await publisher.aclose()
        await queue.aclose()
        await limiter.aclose()


async def test_a_database_out_of_reach_is_a_503(
    pocs_settings: PocsSettings, identity_keys: KeySet, sign_up: SignUp
) -> None:
    owner = await sign_up()
    # A pool that connects on demand, to a port where no database listens.
    pool = await create_pool(f"postgresql://nobody@127.0.0.1:{_free_port()}/pocs", min_size=0)
    try:
        async with serve(create_pocs_app(pocs_settings, pool=pool, keys=identity_keys)) as client:
            for language, words in (("en", "temporarily unavailable"), ("pt-BR", "indisponível")):
                response = await client.get(
                    "/pocs", headers={**owner.auth, "Accept-Language": language}
                )
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.headers["retry-after"] == str(UNAVAILABLE_RETRY_SECONDS)
                assert words in response.json()["detail"]
            created = await client.post("/pocs", json={"name": "Lost?"}, headers=owner.auth)
            assert created.status_code == 503, created.text
    finally:
        await pool.close()


async def test_redis_out_of_reach_is_a_503_at_log_in(
    identity_settings: IdentitySettings,
) -> None:
    away = identity_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_free_port()}/0"})
    async with serve(create_identity_app(away)) as client:
        response = await client.post(
            "/login", json={"email": "someone@example.com", "password": "whatever-it-is"}
        )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == str(UNAVAILABLE_RETRY_SECONDS)


async def test_a_wrong_redis_password_is_no_outage(
    identity_settings: IdentitySettings, tmp_path: Path
) -> None:
    """Waiting mends no wrong password: it is an unexpected error (500, with a traceback in
    the log), not a 503 telling clients to come back."""
    server = RedisServer(tmp_path, "--requirepass", "the-right-one")
    server.start()
    try:
        wrong = identity_settings.model_copy(
            update={"redis_url": f"redis://:not-it@127.0.0.1:{server.port}/0"}
        )
        app = create_identity_app(wrong)
        # As a server answers it: the exception goes on up after the 500 is sent.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            response = await client.post(
                "/login", json={"email": "someone@example.com", "password": "whatever-it-is"}
            )
    finally:
        server.kill()
    assert response.status_code == 500, response.text
    assert "retry-after" not in response.headers

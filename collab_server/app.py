"""The collab node: aiohttp app factory, engine lifecycle, health, metrics and drain."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from platform_api.kernel.db import close_pool, create_pool
from platform_api.kernel.erasure import run_erasure
from platform_api.kernel.logging import configure_logging
from platform_api.kernel.tasks import stop
from rooms import (
    AccessLedger,
    FanoutBus,
    LocalSnapshotStore,
    MemoryBus,
    MemoryUpdateLog,
    PostgresUpdateLog,
    RedisAccessLedger,
    RedisBus,
    RoomId,
    RoomLimits,
    RoomManager,
    RoomMetrics,
    S3SnapshotStore,
    ShardedRedisBus,
    SnapshotMissing,
    TenantErased,
    UpdateLog,
    new_node_id,
)
from rooms.ports import ORGANIZATION_GONE_REASON

from . import connection, internal
from .codes import SERVICE_RESTART
from .deadlines import Deadlines
from .erasure import CollabEraser
from .errors import STORAGE_ERRORS, problem
from .peer import Outbox
from .settings import CollabSettings
from .state import (
    BUS,
    DEADLINES,
    DRAINING,
    METRICS,
    NODE_ID,
    OUTBOX,
    PEERS,
    PEERS_GONE,
    ROOMS,
    SETTINGS,
    TICKETS,
    UPDATE_LOG,
    USER_CONNECTIONS,
)
from .tickets import TicketVerifier, key_set

_log = structlog.get_logger("collab")


_UNAVAILABLE: tuple[type[Exception], ...] = (*STORAGE_ERRORS, RedisError)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP errors of the node's plain endpoints leave as problem+json; so does storage
    (the database, the snapshot store or Redis) failing under the internal API: 503. A
    room whose stored state is damaged (a snapshot blob missing) is a 500: no use retrying."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp puts what went wrong (a handshake's missing header, say) in the text; its
        # default text only repeats the status.
        text = exc.text or ""
        return problem(
            exc.status, exc.reason if text in ("", f"{exc.status}: {exc.reason}") else text
        )
    except TenantErased:
        return problem(410, ORGANIZATION_GONE_REASON)
    except SnapshotMissing as exc:
        _log.error("snapshot_missing", path=request.path, error=repr(exc))
        return problem(500, f"the room's stored state is damaged: {exc}")
    except _UNAVAILABLE as exc:
        _log.error("request_failed", path=request.path, error=repr(exc))
        return problem(503, "storage unavailable: try again", headers={"Retry-After": "1"})


def create_app(
    settings: CollabSettings | None = None,
    *,
    update_log: UpdateLog | None = None,
    bus: FanoutBus | None = None,
    access_ledger: AccessLedger | None = None,
) -> web.Application:
    """Build a node. Tests may pass an update log and a bus (e.g. a shared MemoryBus node)."""
    settings = settings or CollabSettings()
    configure_logging(f"collab:{settings.node_name}")
    app = web.Application(
        middlewares=[problem_middleware], client_max_size=settings.max_message_bytes
    )
    app[SETTINGS] = settings
    app[METRICS] = RoomMetrics()
    app[TICKETS] = TicketVerifier(
        key_set(public_key_pem=settings.ticket_key_pem(), jwks_url=settings.ticket_jwks_url),
        issuer=settings.ticket_issuer,
        audience=settings.ticket_audience,
        clock_skew=settings.ticket_clock_skew_seconds,
    )
    app[DRAINING] = [False]
    app[PEERS] = set()
    app[USER_CONNECTIONS] = Counter()
    app[OUTBOX] = Outbox()
    app[DEADLINES] = Deadlines()
    app[PEERS_GONE] = asyncio.Event()  # set whenever the last peer leaves
    app[NODE_ID] = new_node_id()

    async def engine(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            log = update_log or await _update_log(settings, app[METRICS], stack)
            manager_ref: list[RoomManager] = []

            async def on_gap(rooms: set[RoomId] | None) -> None:
                if manager_ref:
                    await manager_ref[0].catch_up(rooms)

            async def on_dropped(rooms: set[RoomId]) -> None:
                if manager_ref:
                    await manager_ref[0].ask_others_to_catch_up(rooms)

            node_bus = bus
            if node_bus is None and settings.redis_url:
                bus_type = ShardedRedisBus if settings.redis_cluster else RedisBus
                node_bus = await stack.enter_async_context(
                    bus_type(
                        settings.redis_url,
                        on_gap=on_gap,
                        on_dropped=on_dropped,
                        max_pending_bytes=settings.bus_queue_bytes,
                        metrics=app[METRICS],
                        timeout=settings.redis_timeout_seconds,
                    )
                )
            access = access_ledger
            if access is None and settings.redis_url:
                redis_access = RedisAccessLedger(
                    settings.redis_url,
                    cluster=settings.redis_cluster,
                    timeout=settings.redis_timeout_seconds,
                )
                stack.push_async_callback(redis_access.aclose)
                access = redis_access
            manager = RoomManager(
                log,
                node_bus or MemoryBus().node(),
                node_id=app[NODE_ID],
                limits=RoomLimits(
                    max_update_bytes=settings.max_message_bytes,
                    max_document_bytes=settings.max_document_bytes,
                    max_awareness_entries=settings.max_awareness_entries,
                    keepalive=settings.presence_keepalive_seconds,
                    quiet_peer=settings.quiet_peer_seconds,
                    presence_ttl=settings.presence_ttl_seconds,
                    clock_skew=settings.ticket_clock_skew_seconds,
                ),
                metrics=app[METRICS],
                idle_seconds=settings.idle_room_seconds,
                compact_after=settings.compact_after_updates,
                snapshots_kept=settings.snapshots_kept,
                access=access,
            )
            manager_ref.append(manager)
            app[ROOMS], app[UPDATE_LOG] = manager, log
            if node_bus is not None:
                app[BUS] = node_bus
            maintenance = asyncio.create_task(manager.maintain_forever(), name="room-maintenance")
            erasure = None
            if settings.event_bus != "off" and isinstance(log, PostgresUpdateLog):
                erasure = asyncio.create_task(
                    run_erasure(CollabEraser(log, manager), settings.bus_config(), group="collab"),
                    name="collab-erasure",
                )
            try:
                yield
            finally:
                if erasure is not None:
                    await stop(erasure)
                await stop(maintenance)
                await _compact_for_shutdown(manager, settings.drain_seconds)

    app.cleanup_ctx.append(engine)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_forget_deadlines)
    app.router.add_get("/collab/{room}", connection.handle)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    internal.add_routes(app)
    return app


async def _compact_for_shutdown(manager: RoomManager, within: float) -> None:
    """Compact and unload the rooms, for at most ``within`` seconds: compaction only saves
    the next load some work (the log holds every update), so a stuck database must not keep
    a stopping node. A compaction cut short rolls back and leaves the log as it was."""
    try:
        async with asyncio.timeout(within):
            await manager.maintain_once(force_unload=True)
    except TimeoutError:
        _log.warning("shutdown_compaction_cut_short", seconds=within, rooms=len(manager.rooms))


async def _update_log(
    settings: CollabSettings, metrics: RoomMetrics, stack: AsyncExitStack
) -> UpdateLog:
    if not settings.database_url:
        _log.warning(
            "update_log_in_memory", detail="no COLLAB_DATABASE_URL: nothing survives a restart"
        )
        return MemoryUpdateLog()
    pool = await create_pool(settings.database_url, min_size=1, max_size=8)
    stack.push_async_callback(close_pool, pool)
    snapshots = (
        S3SnapshotStore(
            settings.s3_bucket,
            kms_key_id=settings.s3_kms_key_id or None,
            endpoint_url=settings.s3_endpoint_url or None,
        )
        if settings.s3_bucket
        else LocalSnapshotStore(Path(settings.snapshot_dir))
    )
    # Closed after the log (the stack unwinds backwards): nothing the log does finds it closed.
    stack.push_async_callback(snapshots.aclose)

    def on_commit(lags: list[float]) -> None:
        metrics.commit_batch.observe(len(lags))
        for lag in lags:
            metrics.persist_latency.observe(lag)

    # A stopping node gives its pending updates as long as it gives its peers to leave.
    log = PostgresUpdateLog(
        pool, snapshots, on_commit=on_commit, flush_seconds=settings.drain_seconds
    )
    return await stack.enter_async_context(log)


async def _drain(app: web.Application) -> None:
    """SIGTERM: refuse new connections, ask every peer to reconnect elsewhere (1012)."""
    app[DRAINING][0] = True
    peers = app[PEERS]
    for peer in list(peers):
        peer.kick(SERVICE_RESTART, "server restarting: reconnect")
    if app[PEERS]:
        app[PEERS_GONE].clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(app[SETTINGS].drain_seconds):
                await app[PEERS_GONE].wait()


async def _forget_deadlines(app: web.Application) -> None:
    app[DEADLINES].close()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if request.app[DRAINING][0]:
        raise web.HTTPServiceUnavailable(reason="draining")
    try:
        log = request.app[UPDATE_LOG]
        if isinstance(log, PostgresUpdateLog):
            await log.ping()
        bus = request.app.get(BUS)
        if isinstance(bus, RedisBus):
            await bus.ping()
    except Exception as exc:  # any dependency failure means "not ready"
        raise web.HTTPServiceUnavailable(reason=f"not ready: {type(exc).__name__}") from exc
    return web.json_response({"status": "ready"})


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

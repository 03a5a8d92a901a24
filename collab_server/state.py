"""Typed keys of the node's shared state on the aiohttp application."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from aiohttp import web

from rooms import FanoutBus, RoomManager, RoomMetrics, UpdateLog

from .deadlines import Deadlines
from .peer import Outbox, WsPeer
from .settings import CollabSettings
from .tickets import TicketVerifier

SETTINGS = web.AppKey("settings", CollabSettings)
METRICS = web.AppKey("metrics", RoomMetrics)
TICKETS = web.AppKey("tickets", TicketVerifier)
ROOMS = web.AppKey("rooms", RoomManager)
UPDATE_LOG = web.AppKey("update_log", UpdateLog)
BUS = web.AppKey("bus", FanoutBus)
PEERS = web.AppKey("peers", set[WsPeer])
USER_CONNECTIONS = web.AppKey("user_connections", Counter[tuple[uuid.UUID, str]])
OUTBOX = web.AppKey("outbox", Outbox)
DEADLINES = web.AppKey("deadlines", Deadlines)  # the tickets of every peer, on one timer
PEERS_GONE = web.AppKey("peers_gone", asyncio.Event)
NODE_ID = web.AppKey("node_id", bytes)
DRAINING = web.AppKey("draining", list[bool])  # one mutable cell: the app is frozen once started

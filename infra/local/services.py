"""The services of the local stack: one process and one database each, behind one entry port."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str  # also the database name, the migrations folder and the /api/<name>/ prefix
    port: int
    app: str  # uvicorn factory
    env_prefix: str


SERVICES: tuple[Service, ...] = (
    Service("identity", 8101, "platform_api.identity.app:create_app", "IDENTITY_"),
)

ENTRY_PORT = 8080
EMBEDDED_REDIS_PORT = 6390

"""The services of the local stack: one process and one database each, behind one entry port."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Service:
    """One service of the local stack.

    Every service gets ``<PREFIX>DATABASE_URL`` (its app role), ``<PREFIX>MIGRATIONS_DATABASE_URL``,
    ``<PREFIX>REDIS_URL``, ``<PREFIX>ENVIRONMENT`` and ``<PREFIX>JWKS_URL``; ``extra_env`` adds
    more, formatted with ``state`` (the .local folder) and ``entry`` (the public base URL).
    Every process also sees ``MRBILL_<NAME>_URL``, the internal base URL of each service.
    """

    name: str  # also the database name, the migrations folder and the /api/<name>/ prefix
    port: int
    app: str  # uvicorn factory
    env_prefix: str
    extra_env: dict[str, str] = field(default_factory=dict)


SERVICES: tuple[Service, ...] = (
    Service(
        "identity",
        8101,
        "platform_api.identity.app:create_app",
        "IDENTITY_",
        {
            "IDENTITY_JWT_PRIVATE_KEY_FILE": "{state}/keys/identity-ed25519.pem",
            "IDENTITY_PUBLIC_BASE_URL": "{entry}",
        },
    ),
)

ENTRY_PORT = 8080
EMBEDDED_REDIS_PORT = 6390

# The collab nodes (collab_server); nginx spreads rooms over them by name.
COLLAB_PORTS = (8201, 8202, 8203)


def port_offset() -> int:
    """``MRBILL_PORT_OFFSET``: added to every port of the stack, so that several stacks (other
    developers', the browser tests') run side by side on one machine."""
    value = os.environ.get("MRBILL_PORT_OFFSET", "0")
    if not value.isdigit() or int(value) > 50000:
        raise ValueError(f"MRBILL_PORT_OFFSET must be a number from 0 to 50000, not {value!r}")
    return int(value)


def services(offset: int = 0) -> tuple[Service, ...]:
    """The services with their ports moved by ``offset``."""
    return tuple(replace(s, port=s.port + offset) for s in SERVICES)


def collab_ports(offset: int = 0) -> tuple[int, ...]:
    return tuple(p + offset for p in COLLAB_PORTS)

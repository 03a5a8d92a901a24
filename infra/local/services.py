"""The services of the local stack: one process and one database each, behind one entry port."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Service:
    """One service of the local stack.

    Every service gets ``<PREFIX>DATABASE_URL`` (its app role), ``<PREFIX>MIGRATIONS_DATABASE_URL``,
    ``<PREFIX>REDIS_URL``, ``<PREFIX>ENVIRONMENT`` and ``<PREFIX>JWKS_URL``; ``extra_env`` adds
    more, formatted with ``state`` (the .local folder), ``data`` (this stack's own folder:
    .local, or .local/stack-<port> beside another stack), ``entry`` (the public base URL) and
    ``<name>_url`` / ``collab_url`` (internal URLs; MRBILL_COLLAB_URL is set for every process).
    Every process also sees ``MRBILL_<NAME>_URL``, the internal base URL of each service.
    ``workers`` are the service's background processes (Procfile name -> Python module run
    with ``python -m``), with the same environment.
    """

    name: str  # also the database name, the migrations folder and the /api/<name>/ prefix
    port: int
    app: str  # uvicorn factory
    env_prefix: str
    extra_env: dict[str, str] = field(default_factory=dict)
    # Background processes of this service: (Procfile name, python module), same environment.
    workers: tuple[tuple[str, str], ...] = ()


SERVICES: tuple[Service, ...] = (
    Service(
        "identity",
        8101,
        "platform_api.identity.app:create_app",
        "IDENTITY_",
        {
            "IDENTITY_JWT_PRIVATE_KEY_FILE": "{state}/keys/identity-ed25519.pem",
            "IDENTITY_PUBLIC_BASE_URL": "{entry}",
            # Password reset messages, as .eml files (open them with any mail client).
            "IDENTITY_MAIL_FOLDER": "{data}/mail",
        },
    ),
    Service(
        "pocs",
        8102,
        "platform_api.pocs.app:create_app",
        "POCS_",
        # Relays the outbox to Redis Streams and purges the trash.
        workers=(("pocs-worker", "platform_api.pocs.worker"),),
    ),
    Service(
        "search",
        8103,
        "platform_api.search.app:create_app",
        "SEARCH_",
        {
            # The embedded index (tantivy); its event consumer runs in the search process.
            "SEARCH_DATA_DIR": "{data}/search-index",
            "SEARCH_POCS_URL": "{pocs_url}",
            "SEARCH_DOJOS_URL": "{dojos_url}",
        },
    ),
    Service(
        "content",
        8105,
        "platform_api.content.app:create_app",
        "CONTENT_",
        {
            "CONTENT_BLOB_DIR": "{state}/objects",
            "CONTENT_DOWNLOAD_SECRET_FILE": "{state}/keys/content-download.key",
            "CONTENT_PUBLIC_BASE_URL": "{entry}/api/content",
            "CONTENT_QUEUE_BACKEND": "redis",
        },
        workers=(("media-worker-1", "media_jobs.worker"), ("media-worker-2", "media_jobs.worker")),
    ),
    Service(
        "dojos",
        8104,
        "platform_api.dojos.app:create_app",
        "DOJOS_",
        {
            # Room tickets: the collab nodes trust this key (COLLAB_TICKET_PUBLIC_KEY_FILE).
            "DOJOS_TICKET_PRIVATE_KEY_FILE": "{state}/keys/dojos-ed25519.pem",
            "DOJOS_PUBLIC_BASE_URL": "{entry}",
            "DOJOS_SNAPSHOT_DIR": "{state}/objects",
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

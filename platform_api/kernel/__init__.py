"""The shared kernel of every service: settings, database, errors, auth, telemetry.

Names are imported lazily (PEP 562), so a process that needs only ``kernel.db`` — a collab
node, a worker — does not pay for FastAPI and friends at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "KeySet": ".auth",
    "Principal": ".auth",
    "TokenVerifier": ".auth",
    "current_principal": ".auth",
    "require_roles": ".auth",
    "create_pool": ".db",
    "tenant_transaction": ".db",
    "transaction": ".db",
    "Problem": ".errors",
    "forbidden": ".errors",
    "not_found": ".errors",
    "problem_response": ".errors",
    "unauthorized": ".errors",
    "decode_cursor": ".pagination",
    "encode_cursor": ".pagination",
    "create_service_app": ".service_app",
    "problem_responses": ".service_app",
    "ServiceSettings": ".settings",
    "outgoing_headers": ".telemetry",
}

__all__ = [
    "KeySet",
    "Principal",
    "Problem",
    "ServiceSettings",
    "TokenVerifier",
    "create_pool",
    "create_service_app",
    "current_principal",
    "decode_cursor",
    "encode_cursor",
    "forbidden",
    "not_found",
    "outgoing_headers",
    "problem_response",
    "problem_responses",
    "require_roles",
    "tenant_transaction",
    "transaction",
    "unauthorized",
]

if TYPE_CHECKING:
    from .auth import KeySet, Principal, TokenVerifier, current_principal, require_roles
    from .db import create_pool, tenant_transaction, transaction
    from .errors import Problem, forbidden, not_found, problem_response, unauthorized
    from .pagination import decode_cursor, encode_cursor
    from .service_app import create_service_app, problem_responses
    from .settings import ServiceSettings
    from .telemetry import outgoing_headers


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)

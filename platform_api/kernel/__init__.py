"""The shared kernel of every service: settings, database, errors, auth, telemetry."""

from .auth import KeySet, Principal, TokenVerifier, current_principal, require_roles
from .db import create_pool, tenant_transaction, transaction
from .errors import Problem, forbidden, not_found, problem_response, unauthorized
from .pagination import decode_cursor, encode_cursor
from .service_app import create_service_app
from .settings import ServiceSettings
from .telemetry import outgoing_headers

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
    "require_roles",
    "tenant_transaction",
    "transaction",
    "unauthorized",
]

"""The API client: HTTP, tokens and errors, one class per service. No UI in here."""

from .client import ApiClient
from .dojos import DojoSource, HttpDojoSource
from .errors import (
    INVALID_CODE,
    ApiError,
    AuthRequired,
    Offline,
    TwoFactorExpired,
    TwoFactorRequired,
    Unavailable,
)
from .models import (
    STATUSES,
    VISIBILITIES,
    ContentRequest,
    Dojo,
    Download,
    Facet,
    Me,
    Poc,
    SearchPage,
    Ticket,
)
from .services import ContentApi, IdentityApi, PocsApi, SearchApi

__all__ = [
    "INVALID_CODE",
    "STATUSES",
    "VISIBILITIES",
    "ApiClient",
    "ApiError",
    "AuthRequired",
    "ContentApi",
    "ContentRequest",
    "Dojo",
    "DojoSource",
    "Download",
    "Facet",
    "HttpDojoSource",
    "IdentityApi",
    "Me",
    "Offline",
    "Poc",
    "PocsApi",
    "SearchApi",
    "SearchPage",
    "Ticket",
    "TwoFactorExpired",
    "TwoFactorRequired",
    "Unavailable",
]

"""Fixtures of every integration test: the identity service issues the real access tokens."""

from tests.harness.identity import (
    identity,
    identity_db,
    identity_keys,
    identity_settings,
    invite_member,
    sign_up,
)
from tests.harness.pocs import make_poc, owner_pool, pocs, pocs_db, pocs_settings

__all__ = [
    "identity",
    "identity_db",
    "identity_keys",
    "identity_settings",
    "invite_member",
    "make_poc",
    "owner_pool",
    "pocs",
    "pocs_db",
    "pocs_settings",
    "sign_up",
]

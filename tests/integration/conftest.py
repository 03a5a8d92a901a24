"""Fixtures of every integration test: the identity service issues the real access tokens."""

from tests.harness.identity import (
    identity,
    identity_db,
    identity_keys,
    identity_settings,
    invite_member,
    sign_up,
)

__all__ = [
    "identity",
    "identity_db",
    "identity_keys",
    "identity_settings",
    "invite_member",
    "sign_up",
]

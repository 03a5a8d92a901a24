"""Fixtures of every integration test, defined once in ``tests/harness`` and shared here:
the identity service (real access tokens), the POC and dojo services, and collab nodes with
tickets.
"""

from tests.harness.collab import Mint, StartNode, collab_db, mint, start_node, ticket_key
from tests.harness.dojos import (
    dojos,
    dojos_db,
    dojos_owner_pool,
    dojos_settings,
    identity_url,
    make_dojo,
)
from tests.harness.identity import (
    PASSWORD,
    Account,
    SignUp,
    erasure_bus,
    identity,
    identity_db,
    identity_keys,
    identity_settings,
    invite_member,
    relaying_identity,
    sign_up,
)
from tests.harness.pocs import make_poc, owner_pool, pocs, pocs_db, pocs_settings

__all__ = [
    "PASSWORD",
    "Account",
    "Mint",
    "SignUp",
    "StartNode",
    "collab_db",
    "dojos",
    "dojos_db",
    "dojos_owner_pool",
    "dojos_settings",
    "erasure_bus",
    "identity",
    "identity_db",
    "identity_keys",
    "identity_settings",
    "identity_url",
    "invite_member",
    "make_dojo",
    "make_poc",
    "mint",
    "owner_pool",
    "pocs",
    "pocs_db",
    "pocs_settings",
    "relaying_identity",
    "sign_up",
    "start_node",
    "ticket_key",
]

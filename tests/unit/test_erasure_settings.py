"""A production deployment cannot run without the erasure pipeline: identity must relay its
deletions, and collab nodes must read them from somewhere."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from collab_server.settings import CollabSettings
from platform_api.identity.settings import IdentitySettings
from platform_api.pocs.settings import PocsSettings

IDENTITY: dict[str, Any] = {
    "environment": "production",
    "database_url": "postgresql://identity_app@db/identity",
    "jwt_private_key": SecretStr("a key"),
    "email_digest_key": SecretStr("a digest key"),
    "two_factor_keys": SecretStr("bWFkZS11cC10d28tZmFjdG9yLWtleS1mb3ItdGVzdHM="),
    "cookie_secure": True,
    "mail": "ses",
    "public_base_url": "https://mrbill.example.com.br",
}
COLLAB: dict[str, Any] = {
    "environment": "production",
    "database_url": "postgresql://collab_app@db/collab",
    "redis_url": "redis://cache:6379/0",
    "ticket_public_key": "PEM",
}
QUEUE = "https://sqs.sa-east-1.amazonaws.com/1/mrbill-collab-identity"


def test_identity_in_production_relays_its_deletions() -> None:
    with pytest.raises(ValidationError, match="IDENTITY_MIGRATIONS_DATABASE_URL"):
        IdentitySettings(**IDENTITY)
    owner = {"migrations_database_url": "postgresql://identity_owner@db/identity"}
    with pytest.raises(ValidationError, match="IDENTITY_MIGRATIONS_DATABASE_URL"):
        IdentitySettings(**IDENTITY, **owner, run_relay=False)
    with pytest.raises(ValidationError, match="IDENTITY_EVENT_TOPIC_ARNS"):
        IdentitySettings(**IDENTITY, **owner, event_bus="aws")
    arn = {"identity": "arn:aws:sns:sa-east-1:1:mrbill-identity-events"}
    IdentitySettings(**IDENTITY, **owner, event_bus="aws", event_topic_arns=arn)


def test_identity_in_production_sends_mail_with_ses() -> None:
    owner = {"migrations_database_url": "postgresql://identity_owner@db/identity"}
    with pytest.raises(ValidationError, match="IDENTITY_MAIL=ses"):
        IdentitySettings(**{**IDENTITY, "mail": "folder"}, **owner)


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        ({}, "COLLAB_EVENT_BUS"),
        ({"event_bus": "aws"}, "COLLAB_EVENT_QUEUE_URL"),
        ({"event_bus": "redis", "redis_cluster": True}, "single server"),
        ({"event_bus": "aws", "event_queue_url": QUEUE}, None),
        ({"event_bus": "redis"}, None),
    ],
)
def test_collab_nodes_in_production_read_erasures(
    extra: dict[str, Any], refused: str | None
) -> None:
    if refused is None:
        CollabSettings(**COLLAB, **extra)
    else:
        with pytest.raises(ValidationError, match=refused):
            CollabSettings(**COLLAB, **extra)


@pytest.mark.parametrize(
    ("bus", "refused"),
    [
        ({"event_bus": "memory"}, "POCS_EVENT_BUS=redis or aws"),
        ({"event_bus": "aws"}, "POCS_EVENT_QUEUE_URL"),
        ({"event_bus": "aws", "event_queue_url": QUEUE}, None),
        ({"event_bus": "redis"}, None),
    ],
)
def test_a_service_in_production_keeps_its_events_and_reads_its_erasures(
    bus: dict[str, Any], refused: str | None
) -> None:
    """Events in memory would be lost, and a consumer on AWS without its queue would wait
    for ever for the erasures, while the service looks healthy."""
    production = {
        "environment": "production",
        "database_url": "postgresql://pocs_app@db/pocs",
        "service_token": SecretStr("a feed secret"),
        **bus,
    }
    if refused is None:
        PocsSettings(**production)
    else:
        with pytest.raises(ValidationError, match=refused):
            PocsSettings(**production)

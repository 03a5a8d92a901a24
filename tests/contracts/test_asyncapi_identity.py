"""contracts/asyncapi-identity.yaml matches the erasure events identity publishes."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml

from platform_api.kernel import erasure

SPEC = yaml.safe_load(
    (Path(__file__).parents[2] / "contracts" / "asyncapi-identity.yaml").read_text()
)
EVENT = SPEC["components"]["schemas"]["IdentityEvent"]


def test_event_types_envelope_and_payload_are_documented() -> None:
    tenant, user = uuid.uuid4(), uuid.uuid4()
    events = [erasure.tenant_deleted(tenant), erasure.user_deleted(tenant, user)]
    assert {e.type for e in events} == set(EVENT["properties"]["type"]["enum"])
    assert {erasure.TENANT_DELETED, erasure.USER_DELETED} == {e.type for e in events}
    assert SPEC["channels"]["identityEvents"]["address"] == f"mrbill:events:{erasure.TOPIC}"
    for event in events:
        envelope = event.to_dict()
        assert set(envelope) == set(EVENT["properties"]) == set(EVENT["required"])
        assert envelope["version"] == EVENT["properties"]["version"]["const"]
        assert set(envelope["payload"]) <= set(EVENT["properties"]["payload"]["properties"])
    assert events[0].payload == {"tenant_id": str(tenant)}
    assert (events[1].aggregate_id, events[1].payload) == (user, {"user_id": str(user)})

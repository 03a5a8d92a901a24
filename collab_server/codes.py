"""WebSocket close codes of the collab server (documented in contracts/asyncapi.yaml)."""

from __future__ import annotations

from rooms import ports

# RFC 6455 codes. Protocol errors in messages (1002, 1003, 1007, 1009) come from crdt.CloseCode.
# Too many messages per second on this connection, or awareness for more client ids than one
# connection may speak for.
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011  # storage or Redis unavailable, or a socket write failed: reconnect, resync
SERVICE_RESTART = 1012  # graceful drain: reconnect (to another node)
TRY_AGAIN_LATER = 1013  # evicted as a slow consumer: reconnect and resync
# Application codes.
TICKET_INVALID = 4401  # missing, malformed, expired or badly signed ticket
TICKET_WRONG_ROOM = 4403  # ticket for another room or tenant, or access revoked
DOCUMENT_TOO_LARGE = 4413  # the update would push the document past its size limit
ORGANIZATION_GONE = ports.ORGANIZATION_GONE  # 4410: the room's organization was deleted

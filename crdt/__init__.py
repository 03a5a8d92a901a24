"""The Yjs / y-websocket wire protocol as a pure module: bytes in, bytes out, no I/O.

Incoming bytes go through `parse_message` (or `validate_update` / `validate_state_vector`
for bytes from elsewhere); anything malformed raises `ProtocolError`, whose `code` is the
WebSocket close code to use. Encoding reuses pycrdt's own message builders.
"""

from .awareness import (
    AwarenessEntry,
    AwarenessUpdate,
    encode_awareness_update,
    parse_awareness_update,
    restrict_awareness_update,
)
from .docs import (
    EMPTY_STATE_VECTOR,
    EMPTY_UPDATE,
    apply_update_to_doc,
    compact_updates,
    encode_state_as_update,
    merge_updates,
    state_vector,
    sync_step1_for_doc,
    sync_step2_for_doc,
)
from .errors import CloseCode, ProtocolError
from .messages import (
    Auth,
    Message,
    MessageKind,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    awareness_client_ids,
    encode_awareness,
    encode_awareness_removal,
    encode_permission_denied,
    encode_query_awareness,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
    parse_message,
)
from .update import (
    MAX_CLOCK,
    MAX_NESTING_DEPTH,
    ItemRange,
    decode_state_vector,
    deletion_of_lacking,
    encode_deletion,
    inserted_items,
    validate_state_vector,
    validate_update,
)

__all__ = [
    "EMPTY_STATE_VECTOR",
    "EMPTY_UPDATE",
    "MAX_CLOCK",
    "MAX_NESTING_DEPTH",
    "Auth",
    "AwarenessEntry",
    "AwarenessUpdate",
    "CloseCode",
    "ItemRange",
    "Message",
    "MessageKind",
    "ProtocolError",
    "QueryAwareness",
    "SyncStep1",
    "SyncStep2",
    "SyncUpdate",
    "apply_update_to_doc",
    "awareness_client_ids",
    "compact_updates",
    "decode_state_vector",
    "deletion_of_lacking",
    "encode_awareness",
    "encode_awareness_removal",
    "encode_awareness_update",
    "encode_deletion",
    "encode_permission_denied",
    "encode_query_awareness",
    "encode_state_as_update",
    "encode_sync_step1",
    "encode_sync_step2",
    "encode_update",
    "inserted_items",
    "merge_updates",
    "parse_awareness_update",
    "parse_message",
    "restrict_awareness_update",
    "state_vector",
    "sync_step1_for_doc",
    "sync_step2_for_doc",
    "validate_state_vector",
    "validate_update",
]

"""The one exception the protocol layer raises, and the WebSocket close codes it carries."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """WebSocket close codes (RFC 6455, section 7.4.1) used for malformed input.

    PROTOCOL_ERROR: the y-websocket envelope is broken (truncated or overlong varint,
        a length prefix longer than the frame, trailing bytes after the payload).
    UNSUPPORTED_DATA: a message type, sync step, auth kind or content kind that we do not
        accept: nested shared types (rooms hold root-level types only) and Yjs' legacy
        ContentJSON, which Yrs mis-decodes.
    INVALID_PAYLOAD: a well-framed payload that is not a valid update, state vector or
        awareness update (bad structure, bad UTF-8 or JSON, clock overflow, too deep).
    MESSAGE_TOO_BIG: the message, update or awareness update exceeds a configured limit.
    """

    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    INVALID_PAYLOAD = 1007
    MESSAGE_TOO_BIG = 1009


class ProtocolError(Exception):
    """Malformed or unacceptable input; close the connection with `code`.

    `reason` is short ASCII text that fits a WebSocket close frame (at most 123 bytes).
    """

    def __init__(self, code: CloseCode, reason: str) -> None:
        self.code = code
        self.reason = reason.encode("ascii", "replace")[:123].decode("ascii")
        super().__init__(code, self.reason)

    def __str__(self) -> str:
        return f"{self.code.name} ({int(self.code)}): {self.reason}"

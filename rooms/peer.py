"""What a room needs from a connected client; the server's WebSocket peer implements it."""

from __future__ import annotations

from typing import Protocol


class Peer(Protocol):
    user_id: str
    can_write: bool
    access_changes: int  # access changes applied to it so far: a role read meanwhile is stale
    issued_at: float  # when its current ticket was issued: older access changes do not apply
    refused_edits: bool  # edits of its were dropped while it could not write

    def send(self, message: bytes) -> None:
        """Queue ``message`` without blocking; a peer that falls too far behind evicts itself."""
        ...

    def nudge(self) -> None:
        """If nothing was sent to it since the last nudge, send it a message that changes
        nothing, so that a client which reconnects when it hears nothing for a while (30 s
        for y-websocket) stays."""
        ...

    def kick(self, code: int, reason: str) -> None:
        """Ask the connection to close with ``code`` (it closes from its own task)."""
        ...

from __future__ import annotations


class Reject(Exception):
    """Close the connection with ``code`` and ``reason`` (at most 123 bytes)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason[:123]

"""A bounded lib0 decoder: every read is checked against the bytes that are left.

pycrdt's `Decoder` trusts its input (no bound on varint length, IndexError on truncation),
so untrusted bytes go through this reader instead.
"""

from __future__ import annotations

from .errors import CloseCode, ProtocolError

MAX_SAFE_INTEGER = 2**53 - 1  # lib0 refuses larger varints (JavaScript numbers)
_MAX_VARINT_SHIFT = 56  # 8 bytes of 7 bits: the most a 53-bit value needs


class Reader:
    """Reads lib0-encoded values from `data`; raises ProtocolError(`code`) on bad framing."""

    __slots__ = ("_code", "_data", "_end", "_pos", "astral")

    def __init__(self, data: bytes, code: CloseCode) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data)
        self._code = code
        self.astral = False  # set by whoever reads a string holding a non-BMP character

    def fail(self, reason: str, code: CloseCode | None = None) -> ProtocolError:
        """Build the error to raise, defaulting to this reader's close code."""
        return ProtocolError(self._code if code is None else code, reason)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def expect_end(self, what: str) -> None:
        if self._pos != self._end:
            raise self.fail(f"{self._end - self._pos} trailing bytes after {what}")

    def read_u8(self) -> int:
        if self._pos >= self._end:
            raise self.fail("unexpected end of data")
        byte = self._data[self._pos]
        self._pos += 1
        return byte

    def read_var_uint(self) -> int:
        data, pos, end = self._data, self._pos, self._end
        if pos >= end:
            raise self.fail("truncated varint")
        byte = data[pos]
        pos += 1
        if byte < 0x80:  # fast path: most counts, lengths and tags fit one byte
            self._pos = pos
            return byte
        value = byte & 0x7F
        shift = 7
        while True:
            if pos >= end:
                raise self.fail("truncated varint")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift >= _MAX_VARINT_SHIFT:
                raise self.fail("varint longer than 8 bytes")
        if value > MAX_SAFE_INTEGER:
            raise self.fail("varint exceeds 53 bits")
        self._pos = pos
        return value

    def read_var_int(self) -> int:
        """Signed lib0 varint: first byte holds continuation, sign and 6 value bits."""
        byte = self.read_u8()
        value = byte & 0x3F
        negative = bool(byte & 0x40)
        shift = 6
        while byte & 0x80:
            if shift >= _MAX_VARINT_SHIFT - 1:
                raise self.fail("varint longer than 8 bytes")
            byte = self.read_u8()
            value |= (byte & 0x7F) << shift
            shift += 7
        if value > MAX_SAFE_INTEGER:
            raise self.fail("varint exceeds 53 bits")
        return -value if negative else value

    def read_count(self, min_entry_bytes: int, what: str) -> int:
        """Read an element count and reject it unless that many entries could still fit."""
        count = self.read_var_uint()
        if count * min_entry_bytes > self._end - self._pos:
            raise self.fail(f"{what} count {count} exceeds the remaining bytes")
        return count

    def skip(self, length: int) -> None:
        if length > self._end - self._pos:
            raise self.fail(f"length {length} exceeds the remaining bytes")
        self._pos += length

    def read_bytes(self, length: int) -> bytes:
        start = self._pos
        self.skip(length)
        return self._data[start : self._pos]

    def skip_var_bytes(self) -> None:
        self.skip(self.read_var_uint())

    def read_var_bytes(self) -> bytes:
        return self.read_bytes(self.read_var_uint())

    def read_var_string(self) -> str:
        raw = self.read_var_bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("invalid UTF-8 string", CloseCode.INVALID_PAYLOAD) from None

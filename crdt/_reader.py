"""A bounded lib0 decoder: every read is checked against the bytes that are left.

pycrdt's `Decoder` trusts its input (no bound on varint length, IndexError on truncation),
so untrusted bytes go through this module instead. Each rule lives in a function that
reads at a position and returns the position after what it read: loops that run once per
struct keep their position in a local variable and call these directly (crdt/update.py),
everything else reads through a `Reader`, which keeps the position for it.
"""

from __future__ import annotations

from .errors import CloseCode, ProtocolError

MAX_SAFE_INTEGER = 2**53 - 1  # lib0 refuses larger varints (JavaScript numbers)
_MAX_VARINT_SHIFT = 56  # 8 bytes of 7 bits: the most a 53-bit value needs
_VARINT_SHIFTS = tuple(range(7, _MAX_VARINT_SHIFT, 7))  # of the second to the eighth byte


def var_uint_at(data: bytes, pos: int, code: CloseCode) -> tuple[int, int]:
    """The lib0 varUint at `pos` and the position after it; raises ProtocolError(`code`)."""
    try:
        byte = data[pos]
        if byte < 0x80:  # fast path: most counts, lengths and tags fit one byte
            return byte, pos + 1
        value = byte & 0x7F
        # The shifts bound the length and IndexError the data: nothing to test per byte.
        for shift in _VARINT_SHIFTS:
            pos += 1
            byte = data[pos]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
        else:
            raise ProtocolError(code, "varint longer than 8 bytes")
    except IndexError:
        raise ProtocolError(code, "truncated varint") from None
    if value > MAX_SAFE_INTEGER:
        raise ProtocolError(code, "varint exceeds 53 bits")
    return value, pos + 1


def var_int_at(data: bytes, pos: int, code: CloseCode) -> tuple[int, int]:
    """Signed lib0 varint: first byte holds continuation, sign and 6 value bits."""
    byte = u8_at(data, pos, code)
    pos += 1
    value = byte & 0x3F
    negative = bool(byte & 0x40)
    shift = 6
    while byte & 0x80:
        if shift >= _MAX_VARINT_SHIFT - 1:
            raise ProtocolError(code, "varint longer than 8 bytes")
        byte = u8_at(data, pos, code)
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
    if value > MAX_SAFE_INTEGER:
        raise ProtocolError(code, "varint exceeds 53 bits")
    return -value if negative else value, pos


def u8_at(data: bytes, pos: int, code: CloseCode) -> int:
    if pos >= len(data):
        raise ProtocolError(code, "unexpected end of data")
    return data[pos]


def count_at(
    data: bytes, pos: int, min_entry_bytes: int, what: str, code: CloseCode
) -> tuple[int, int]:
    """Read an element count and reject it unless that many entries could still fit."""
    count, pos = var_uint_at(data, pos, code)
    if count * min_entry_bytes > len(data) - pos:
        raise ProtocolError(code, f"{what} count {count} exceeds the remaining bytes")
    return count, pos


def skip_at(data: bytes, pos: int, length: int, code: CloseCode) -> int:
    """The position `length` bytes after `pos`, if the data holds that many."""
    if length > len(data) - pos:
        raise ProtocolError(code, f"length {length} exceeds the remaining bytes")
    return pos + length


def var_string_at(data: bytes, pos: int, code: CloseCode) -> tuple[str, int]:
    """A lib0 varString (length-prefixed UTF-8); bad UTF-8 is always INVALID_PAYLOAD."""
    length, pos = var_uint_at(data, pos, code)
    end = skip_at(data, pos, length, code)
    try:
        return data[pos:end].decode("utf-8"), end
    except UnicodeDecodeError:
        raise ProtocolError(CloseCode.INVALID_PAYLOAD, "invalid UTF-8 string") from None


class Reader:
    """Reads lib0-encoded values from `data`; raises ProtocolError(`code`) on bad framing."""

    __slots__ = ("_code", "_data", "_pos")

    def __init__(self, data: bytes, code: CloseCode) -> None:
        self._data = data
        self._pos = 0
        self._code = code

    def fail(self, reason: str, code: CloseCode | None = None) -> ProtocolError:
        """Build the error to raise, defaulting to this reader's close code."""
        return ProtocolError(self._code if code is None else code, reason)

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def expect_end(self, what: str) -> None:
        if self._pos != len(self._data):
            raise self.fail(f"{len(self._data) - self._pos} trailing bytes after {what}")

    def read_u8(self) -> int:
        byte = u8_at(self._data, self._pos, self._code)
        self._pos += 1
        return byte

    def read_var_uint(self) -> int:
        value, self._pos = var_uint_at(self._data, self._pos, self._code)
        return value

    def read_var_int(self) -> int:
        value, self._pos = var_int_at(self._data, self._pos, self._code)
        return value

    def read_count(self, min_entry_bytes: int, what: str) -> int:
        """Read an element count and reject it unless that many entries could still fit."""
        count, self._pos = count_at(self._data, self._pos, min_entry_bytes, what, self._code)
        return count

    def skip(self, length: int) -> None:
        self._pos = skip_at(self._data, self._pos, length, self._code)

    def read_bytes(self, length: int) -> bytes:
        start = self._pos
        self._pos = skip_at(self._data, start, length, self._code)
        return self._data[start : self._pos]

    def skip_var_bytes(self) -> None:
        self.skip(self.read_var_uint())

    def read_var_bytes(self) -> bytes:
        return self.read_bytes(self.read_var_uint())

    def read_var_string(self) -> str:
        text, self._pos = var_string_at(self._data, self._pos, self._code)
        return text

"""Shared inputs for the crdt tests: real Yjs bytes and a small lib0 encoder for attacks."""

from __future__ import annotations

from typing import Any

import pycrdt

import crdt

# Produced by yjs 13.6.33 + y-protocols 1.0.7 (text insert/format/embed/delete, arrays of
# every Any kind, map overwrite, a subdocument), all on root-level types.
YJS_UPDATES = [
    bytes.fromhex("010199aed28d0200040101741168c3a96c6c6f20f09f988020776f726c6400"),
    bytes.fromhex(
        "010499aed28d020e4699aed28d020004626f6c640474727565c699aed28d020e99aed28d020005636f6c6f72"
        "077b2272223a317dc699aed28d020299aed28d020304626f6c64046e756c6cc699aed28d021099aed28d0203"
        "05636f6c6f72046e756c6c00"
    ),
    bytes.fromhex(
        "010599aed28d0212c699aed28d020199aed28d020204626f6c64046e756c6cc699aed28d021299aed28d0202"
        "05636f6c6f72046e756c6cc599aed28d021399aed28d0202117b22696d616765223a22782e706e67227dc699"
        "aed28d021499aed28d020204626f6c640474727565c699aed28d021599aed28d020205636f6c6f72077b2272"
        "223a317d00"
    ),
    bytes.fromhex("000199aed28d02010303"),
    bytes.fromhex(
        "010299aed28d021708010161097d017d457c538000007c3fc0000077037374727e78797601016b75027d0176"
        "01017a7702c3a98399aed28d021f02010200"
    ),
    bytes.fromhex("000199aed28d02011802"),
    bytes.fromhex("010199aed28d02282801016d01780177017900"),
    bytes.fromhex("010199aed28d0229a899aed28d02280177017a0199aed28d02012801"),
    bytes.fromhex(
        "010199aed28d022a2901016d037375622430393938383532632d356230642d343831352d383736662d613339"
        "333033653131333438760000"
    ),
]
# From the same session, refused since they hold nested shared types: a Y.Map and a Y.Text
# (with "inner" in it) inside the root types, an XmlElement holding an XmlText in a fragment.
YJS_NESTED_UPDATES = [
    bytes.fromhex(
        "010399aed28d02214799aed28d021701c799aed28d022199aed28d021702040099aed28d022205696e6e657200"
    ),
    bytes.fromhex(
        "010499aed28d022b07010178030170070099aed28d022b06040099aed28d022c026869280099aed28d022b05"
        "636c6173730177016300"
    ),
]
YJS_TEXT = "hél😀 world"
YJS_MSG_STEP1 = bytes.fromhex("0000070199aed28d0230")
YJS_MSG_UPDATE = bytes.fromhex(
    "00021f010199aed28d0200040101741168c3a96c6c6f20f09f988020776f726c6400"
)
YJS_MSG_AWARENESS = bytes.fromhex(
    "01420199aed28d02013a7b2275736572223a7b226e616d65223a225a6fc3ab20f09f9880222c22636f6c6f72"
    "223a2223663030227d2c22637572736f72223a6e756c6c7d"
)
YJS_MSG_AWARENESSREMOVAL = bytes.fromhex("010c0199aed28d0201046e756c6c")
YJS_MSG_QUERY = bytes.fromhex("03")
YJS_MSG_AUTH = bytes.fromhex("0200076e6f706520c3a9")
YJS_XML_HOOK_UPDATE = bytes.fromhex("0101d3ec8ea80500070101680504686f6f6b00")


def vu(value: int) -> bytes:
    """lib0 varUint, without lib0's 53-bit cap (attacks need bigger ones)."""
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def vs(text: str) -> bytes:
    """lib0 varString."""
    raw = text.encode("utf-8")
    return vu(len(raw)) + raw


def item_update(info: int, content: bytes, *, client: int = 5, clock: int = 0) -> bytes:
    """A one-struct update: an item under root type "a", then an empty delete set."""
    return (
        vu(1) + vu(1) + vu(client) + vu(clock) + bytes([info]) + vu(1) + vs("a") + content + b"\x00"
    )


def any_update(value: bytes) -> bytes:
    """A one-item update whose content is a single lib0 `Any` value."""
    return item_update(8, vu(1) + value)


def new_doc(client_id: int | None = None) -> pycrdt.Doc[Any]:
    """An empty pycrdt document."""
    return pycrdt.Doc(client_id=client_id)


def sample_doc(client_id: int = 1) -> pycrdt.Doc[Any]:
    """A pycrdt document with text, formatting, an array and a map (root types only)."""
    doc = new_doc(client_id)
    text = doc.get("t", type=pycrdt.Text)
    text += "hello wörld"
    text.format(0, 5, {"bold": True})
    text.insert_embed(5, {"img": "u.png"})
    del text[1]
    array = doc.get("a", type=pycrdt.Array)
    array.extend([1, "x", {"k": [True, None, 2.5]}, b"\x01\x02", {"q": 1}])
    doc.get("m", type=pycrdt.Map)["sub"] = "inner"
    return doc


def nested_doc_updates() -> list[tuple[str, bytes]]:
    """Updates from pycrdt that put a shared type inside another (all refused), by name."""
    doc = new_doc(7)
    inner: pycrdt.Array[int] = pycrdt.Array()
    doc.get("m", type=pycrdt.Map)["a"] = inner
    out = [("array_in_map", doc.get_update())]
    # An edit inside a nested type that an earlier update created: the item names its
    # parent by id, and is refused without knowing what that id holds.
    before = doc.get_state()
    inner.append(1)
    out.append(("item_in_nested_array", doc.get_update(before)))
    doc = new_doc(7)
    doc.get("a", type=pycrdt.Array).append(pycrdt.Map({"q": 1}))
    out.append(("map_in_array", doc.get_update()))
    doc = new_doc(7)
    doc.get("m", type=pycrdt.Map)["t"] = pycrdt.Text("x")
    out.append(("text_in_map", doc.get_update()))
    doc = new_doc(7)
    doc.get("x", type=pycrdt.XmlFragment).children.append(pycrdt.XmlElement("p"))
    out.append(("element_in_fragment", doc.get_update()))
    return out


def _gc_update(clock: int, length: int) -> bytes:
    return vu(1) + vu(1) + vu(5) + vu(clock) + b"\x00" + vu(length) + b"\x00"


def vs_bytes(raw: bytes) -> bytes:
    """lib0 varUint8Array."""
    return vu(len(raw)) + raw


def nested_chain(levels: int, *, start: int = 0, delete: bool = True) -> bytes:
    """Y.Arrays nested `levels` deep (client 5, clocks from `start`, the first one under
    root "a" if `start` is 0), then optionally all deleted. Deleting a chain of ~40k nested
    types overflows Yrs' stack (SIGSEGV), however many updates built it."""
    structs = []
    for clock in range(start, start + levels):
        parent = vu(1) + vs("a") if clock == 0 else vu(0) + vu(5) + vu(clock - 1)
        structs.append(b"\x07" + parent + vu(0))  # ContentType, type ref 0: Y.Array
    delete_set = vu(1) + vu(5) + vu(1) + vu(0) + vu(1) if delete else vu(0)
    return vu(1) + vu(levels) + vu(5) + vu(start) + b"".join(structs) + delete_set


ATTACK_LIMIT = 256 * 1024  # max_update_bytes used when feeding ATTACKS to parse_message
HUGE = bytes.fromhex("ffffff7a")  # varUint 257_949_695
DEEP_ANY = b"\x75\x01" * 50_000 + b"\x7e"  # 50k nested arrays: Yrs overflows its stack
DEEP_JSON = "[" * 100_000 + "]" * 100_000

# (name, target, input, expected close code). Targets: update, state_vector, awareness, message.
ATTACKS: list[tuple[str, str, bytes, int]] = [
    ("update_client_count_ffffff7a", "update", HUGE, 1007),
    ("update_client_count_ffffff7a_padded", "update", HUGE + bytes(64), 1007),
    ("update_struct_count_huge", "update", vu(1) + vu(0x0FFF_FFFF) + vu(5) + vu(0), 1007),
    ("update_delete_set_count_huge", "update", b"\x00" + HUGE, 1007),
    ("update_delete_ranges_huge", "update", b"\x00\x01\x05" + HUGE, 1007),
    ("update_any_object_count_huge", "update", any_update(b"\x76" + vu(0x3FF_FFFF)), 1007),
    ("update_any_array_count_huge", "update", any_update(b"\x75" + HUGE), 1007),
    ("update_any_nested_50k_levels", "update", any_update(DEEP_ANY), 1007),
    ("update_any_unknown_tag", "update", any_update(b"\x70"), 1007),
    ("update_string_length_huge", "update", item_update(4, HUGE), 1007),
    ("update_binary_length_huge", "update", item_update(3, HUGE), 1007),
    ("update_truncated_varint", "update", b"\xff", 1007),
    ("update_varint_9_bytes", "update", b"\xff" * 8 + b"\x01", 1007),
    ("update_varint_over_53_bits", "update", vu(2**53) + b"\x00", 1007),
    ("update_clock_over_32_bits", "update", _gc_update(2**32, 1), 1007),
    ("update_clock_wraps_32_bits", "update", _gc_update(0xFFFF_FFF0, 0x100), 1007),
    (
        "update_delete_range_wraps",
        "update",
        b"\x00\x01\x05\x01" + vu(0xFFFF_FFF0) + vu(0x100),
        1007,
    ),
    ("update_duplicate_client", "update", b"\x02" + _gc_update(0, 1)[1:-1] * 2 + b"\x00", 1007),
    ("update_trailing_garbage", "update", b"\x00\x00\x00", 1007),
    ("update_empty", "update", b"", 1007),
    ("update_gc_with_flags", "update", b"\x01\x01\x05\x00\x80\x01\x00", 1007),
    ("update_unknown_content_ref", "update", item_update(11, b""), 1007),
    ("update_bad_parent_info", "update", b"\x01\x01\x05\x00\x08\x02\x01\x7e\x00", 1007),
    ("update_invalid_utf8", "update", item_update(4, b"\x02\xff\x61"), 1007),
    ("update_embed_not_json", "update", item_update(5, vs("{nope")), 1007),
    ("update_embed_nan", "update", item_update(5, vs("NaN")), 1007),
    (
        "update_embed_json_too_deep_for_yrs",
        "update",
        item_update(5, vs("[" * 200 + "]" * 200)),
        1007,
    ),
    ("update_legacy_content_json", "update", item_update(2, vu(1) + vs("1")), 1003),
    ("update_xml_hook", "update", YJS_XML_HOOK_UPDATE, 1003),
    ("update_yrs_only_type_ref", "update", item_update(7, vu(7)), 1003),
    ("update_nested_map", "update", item_update(7, vu(1)), 1003),
    ("update_parent_is_item", "update", b"\x01\x01\x05\x00\x08\x00\x09\x00\x01\x7e\x00", 1003),
    ("update_nested_types_30k_levels_deleted", "update", nested_chain(30_000), 1003),
    ("state_vector_count_ffffff7a", "state_vector", HUGE, 1007),
    ("state_vector_count_2_pow_32", "state_vector", vu(2**32) + b"\x05\x01", 1007),
    ("state_vector_clock_over_32_bits", "state_vector", b"\x01\x05" + vu(2**32), 1007),
    ("state_vector_duplicate_client", "state_vector", b"\x02\x05\x01\x05\x02", 1007),
    ("state_vector_trailing_garbage", "state_vector", b"\x00\x00", 1007),
    ("awareness_count_ffffff7a", "awareness", HUGE, 1007),
    ("awareness_string_length_huge", "awareness", b"\x01\x01\x01" + HUGE, 1007),
    ("awareness_state_not_object", "awareness", b"\x01\x01\x01" + vs("[1]"), 1007),
    ("awareness_state_empty", "awareness", b"\x01\x01\x01\x00", 1007),
    ("awareness_state_nan", "awareness", b"\x01\x01\x01" + vs('{"a":NaN}'), 1007),
    ("awareness_state_deep_json", "awareness", b"\x01\x01\x01" + vs(DEEP_JSON), 1007),
    ("awareness_invalid_utf8", "awareness", b"\x01\x01\x01\x01\xff", 1007),
    ("awareness_duplicate_client", "awareness", b"\x02" + (b"\x01\x01" + vs("null")) * 2, 1007),
    ("awareness_too_many_entries", "awareness", vu(2000) + (b"\x01\x01" + vs("null")) * 2000, 1009),
    ("message_empty", "message", b"", 1002),
    ("message_type_varint_9_bytes", "message", b"\xff" * 9, 1002),
    ("message_unknown_type", "message", b"\x04", 1003),
    ("message_unknown_sync_step", "message", b"\x00\x03\x00", 1003),
    ("message_sync_length_ffffff7a", "message", b"\x00\x02" + HUGE, 1002),
    ("message_awareness_length_ffffff7a", "message", b"\x01" + HUGE, 1002),
    ("message_trailing_after_update", "message", b"\x00\x02\x02\x00\x00\x00", 1002),
    ("message_query_awareness_with_payload", "message", b"\x03\x00", 1002),
    ("message_auth_unknown_kind", "message", b"\x02\x01" + vs("x"), 1003),
    ("message_sync_step1_hostile_state_vector", "message", b"\x00\x00\x04" + HUGE, 1007),
    ("message_update_hostile_update", "message", b"\x00\x02\x04" + HUGE, 1007),
    ("message_update_deep_any", "message", b"\x00\x02" + vs_bytes(any_update(DEEP_ANY)), 1007),
    ("message_too_big", "message", b"\x00\x02" + vu(300_000) + bytes(300_000), 1009),
]


def run_attack(target: str, data: bytes) -> None:
    """Feed `data` to the entry point named by `target`; it must raise ProtocolError."""
    if target == "update":
        crdt.validate_update(data, max_bytes=ATTACK_LIMIT)
    elif target == "state_vector":
        crdt.validate_state_vector(data, max_bytes=ATTACK_LIMIT)
    elif target == "awareness":
        crdt.parse_awareness_update(data, max_entries=1000)
    else:
        crdt.parse_message(data, max_update_bytes=ATTACK_LIMIT)

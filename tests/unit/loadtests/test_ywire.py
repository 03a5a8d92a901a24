from crdt import encode_awareness, encode_sync_step1, encode_sync_step2, encode_update
from loadtests.ywire import (
    MSG_AWARENESS,
    MSG_QUERY_AWARENESS,
    MSG_SYNC,
    SYNC_STEP1,
    SYNC_STEP2,
    SYNC_UPDATE,
    room_url,
    split_message,
)


def test_room_url_appends_the_room_and_encodes_params_like_y_websocket() -> None:
    assert room_url("ws://h:1/", "r") == "ws://h:1/r"
    assert room_url("ws://h:1//", "t:r", {"ticket": "a b/c"}) == "ws://h:1/t:r?ticket=a%20b%2Fc"


def test_split_message_reads_every_kind() -> None:
    payload = bytes(range(200))  # long enough for a two-byte length prefix
    assert split_message(encode_sync_step1(payload)) == (MSG_SYNC, SYNC_STEP1, payload)
    assert split_message(encode_sync_step2(payload)) == (MSG_SYNC, SYNC_STEP2, payload)
    assert split_message(encode_update(payload)) == (MSG_SYNC, SYNC_UPDATE, payload)
    assert split_message(encode_awareness(payload)) == (MSG_AWARENESS, -1, payload)
    assert split_message(bytes([MSG_QUERY_AWARENESS])) == (MSG_QUERY_AWARENESS, -1, b"")

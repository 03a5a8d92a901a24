"""Named regression tests for hostile inputs: each must raise ProtocolError quickly, and
none may make the process allocate much (checked in a subprocess under RLIMIT_AS)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crdt_samples import ATTACKS, any_update, item_update, new_doc, run_attack, sample_doc, vs, vu

import crdt
from crdt import CloseCode, ProtocolError

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("target", "data", "code"),
    [pytest.param(target, data, code, id=name) for name, target, data, code in ATTACKS],
)
def test_attack_is_rejected_quickly(target: str, data: bytes, code: int) -> None:
    started = time.perf_counter()
    with pytest.raises(ProtocolError) as caught:
        run_attack(target, data)
    assert time.perf_counter() - started < 0.5
    assert caught.value.code == code
    assert len(caught.value.reason.encode()) <= 123


def test_nesting_limit_is_exact() -> None:
    limit = crdt.MAX_NESTING_DEPTH
    ok = any_update(b"\x75\x01" * (limit - 1) + b"\x7e")
    crdt.validate_update(ok, max_bytes=1 << 20)
    new_doc().apply_update(ok)
    with pytest.raises(ProtocolError, match="nested too deeply"):
        crdt.validate_update(any_update(b"\x75\x01" * limit + b"\x7e"), max_bytes=1 << 20)


def test_clock_limit_is_exact() -> None:
    def gc(clock: int, length: int) -> bytes:
        return b"\x01\x01\x05" + vu(clock) + b"\x00" + vu(length) + b"\x00"

    crdt.validate_update(gc(crdt.MAX_CLOCK - 1, 1), max_bytes=100)
    with pytest.raises(ProtocolError, match="32 bits"):
        crdt.validate_update(gc(crdt.MAX_CLOCK - 1, 2), max_bytes=100)


@pytest.mark.parametrize(
    ("client", "clock", "refused"),
    [
        (2**53 - 1, 2**28 - 1, None),  # the largest ID read in one regex match
        (5, 2**28, None),  # a 5-byte clock: read varint by varint, still fine
        (5, crdt.MAX_CLOCK, None),
        (5, crdt.MAX_CLOCK + 1, "32 bits"),
        (2**53, 0, "53 bits"),
        (2**56, 0, "longer than 8 bytes"),
    ],
)
def test_origin_limits_are_exact(client: int, clock: int, refused: str | None) -> None:
    """An item's origin IDs obey the same limits as every other varint and clock."""
    origin = vu(client) + vu(clock)
    for info, ids in ((0x84, origin), (0x44, origin), (0xC4, origin + origin)):
        update = vu(1) + vu(1) + vu(9) + vu(0) + bytes([info]) + ids + vs("x") + b"\x00"
        if refused is None:
            crdt.validate_update(update, max_bytes=100)
        else:
            with pytest.raises(ProtocolError, match=refused) as caught:
                crdt.validate_update(update, max_bytes=100)
            assert caught.value.code == CloseCode.INVALID_PAYLOAD


def test_yrs_rejection_becomes_protocol_error() -> None:
    """Structurally fine, but Yrs' JSON parser stops at 128 levels."""
    update = item_update(5, vs("[" * 200 + "]" * 200))
    with pytest.raises(ProtocolError, match="rejected by Yrs") as caught:
        crdt.validate_update(update, max_bytes=1 << 20)
    assert caught.value.code == CloseCode.INVALID_PAYLOAD


def test_apply_validates_unless_told_otherwise() -> None:
    with pytest.raises(ProtocolError):
        crdt.apply_update_to_doc(new_doc(), bytes.fromhex("ffffff7a"), max_bytes=1 << 20)
    with pytest.raises(ProtocolError):
        crdt.encode_state_as_update(new_doc(), bytes.fromhex("ffffff7a"), max_bytes=1 << 20)


_CHILD = """
import json, resource, sys, time
limit = 1 << 30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path[:0] = [{root!r}, {here!r}]
from crdt_samples import ATTACKS, run_attack
from crdt import ProtocolError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
rejected = 0
for name, target, data, code in ATTACKS:
    for _ in range(20):
        try:
            run_attack(target, data)
        except ProtocolError as exc:
            assert exc.code == code, (name, exc)
            rejected += 1
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"rejected": rejected, "growth_kib": after - before,
                  "seconds": time.perf_counter() - started}}))
"""


def test_attacks_stay_within_memory_limit() -> None:
    """Under a 1 GiB address-space limit every attack is rejected and RSS barely moves.

    Without the pre-check, Yrs touches ~500 MiB for `ffffff7a` alone, and 50k nested
    values overflow its stack (SIGSEGV, not an exception).
    """
    child = subprocess.run(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), here=str(HERE))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["rejected"] == 20 * len(ATTACKS)
    assert report["growth_kib"] < 64 * 1024


def test_integration_failure_is_a_protocol_error_and_may_be_partial() -> None:
    """An item whose parent is a string item decodes fine but cannot be integrated.

    The validator refuses it (a parent named by id is a nested type), but bytes stored
    before that rule are applied unvalidated, and Yrs' refusal must still be an error."""
    doc = sample_doc()
    text_insert = b"\x04" + vu(1) + vs("t") + vs("ZZZ")
    child_of_string = b"\x08" + vu(0) + vu(1) + vu(0) + vu(1) + b"\x7e"
    update = vu(1) + vu(2) + vu(9) + vu(0) + text_insert + child_of_string + b"\x00"
    with pytest.raises(ProtocolError, match="nested shared types") as refused:
        crdt.validate_update(update, max_bytes=1000)
    assert refused.value.code == CloseCode.UNSUPPORTED_DATA
    with pytest.raises(ProtocolError, match="Cannot apply update") as caught:
        crdt.apply_update_to_doc(doc, update, max_bytes=None)
    assert caught.value.code == CloseCode.INVALID_PAYLOAD
    # Yrs kept the first struct: the document must be reloaded, as documented.
    assert crdt.decode_state_vector(crdt.state_vector(doc), max_bytes=100).get(9) == 3


_CHAIN_CHILD = """
import sys
sys.path[:0] = [{root!r}, {here!r}]
from crdt_samples import nested_chain, new_doc
import crdt
doc, refused = new_doc(), 0
# Four updates of 15k levels each (harmless one by one), then a 6-byte delete of the root.
updates = [nested_chain(15_000, start=k * 15_000, delete=False) for k in range(4)]
for update in [*updates, bytes([0, 1, 5, 1, 0, 1])]:
    try:
        crdt.apply_update_to_doc(doc, update, max_bytes=1 << 20)
    except crdt.ProtocolError as exc:
        assert exc.code == crdt.CloseCode.UNSUPPORTED_DATA, exc
        refused += 1
print(refused)
"""


def test_chain_of_nested_types_cannot_crash_the_process() -> None:
    """60k nested types built over several accepted updates, deleted by a tiny later one,
    used to overflow Yrs' stack (SIGSEGV). Every update that nests a type is refused."""
    child = subprocess.run(
        [sys.executable, "-c", _CHAIN_CHILD.format(root=str(ROOT), here=str(HERE))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["4"]

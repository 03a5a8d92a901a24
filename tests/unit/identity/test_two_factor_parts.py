"""The parts of two-step verification that need no database: codes, keys, settings."""

from __future__ import annotations

import pyotp
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from platform_api.identity.security import SecretBox
from platform_api.identity.settings import IdentitySettings
from platform_api.identity.twofactor import (
    STEP_SECONDS,
    matching_step,
    new_recovery_codes,
    recovery_hash,
)

SECRET = pyotp.random_base32()
NOW = 1_800_000_000.0
STEP = int(NOW // STEP_SECONDS)


def _code(step: int) -> str:
    return pyotp.TOTP(SECRET).generate_otp(step)


def test_a_code_holds_one_step_either_side_of_now() -> None:
    for step in (STEP - 1, STEP, STEP + 1):
        assert matching_step(SECRET, _code(step), None, NOW) == step
    for step in (STEP - 2, STEP + 2):
        assert matching_step(SECRET, _code(step), None, NOW) is None
    assert matching_step(SECRET, f" {_code(STEP)[:3]} {_code(STEP)[3:]} ", None, NOW) == STEP


def test_a_code_of_a_step_used_already_or_before_is_refused() -> None:
    assert matching_step(SECRET, _code(STEP), STEP, NOW) is None
    assert matching_step(SECRET, _code(STEP - 1), STEP, NOW) is None
    assert matching_step(SECRET, _code(STEP + 1), STEP, NOW) == STEP + 1


FULL_WIDTH_DIGITS = "\uff11\uff12\uff13\uff14\uff15\uff16"


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", FULL_WIDTH_DIGITS])
def test_anything_but_six_digits_is_no_code(code: str) -> None:
    assert matching_step(SECRET, code, None, NOW) is None


def test_recovery_codes_are_distinct_and_read_alike_however_typed() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    assert not set("".join(codes)) & set("01ilo")
    key = b"k"
    code = codes[0]
    assert recovery_hash(key, code) == recovery_hash(key, code.upper().replace("-", " "))
    assert recovery_hash(key, code) != recovery_hash(b"another key", code)


def test_keys_rotate_the_first_encrypts_every_one_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = SecretBox(IdentitySettings(two_factor_keys=SecretStr(old))).seal(SECRET)
    rotated = SecretBox(IdentitySettings(two_factor_keys=SecretStr(f"{new}, {old}")))
    assert rotated.open(sealed) == SECRET
    only_new = SecretBox(IdentitySettings(two_factor_keys=SecretStr(new)))
    assert only_new.open(rotated.seal(SECRET)) == SECRET
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        only_new.open(sealed)
    # What a log-in does with the key it read: sealed again with the first key, the old
    # key may go.
    assert only_new.open(rotated.rotate(sealed)) == SECRET


def test_production_needs_its_own_two_factor_keys() -> None:
    with pytest.raises(ValueError, match="IDENTITY_TWO_FACTOR_KEYS"):
        IdentitySettings(
            environment="production",
            database_url="postgresql://x",
            jwt_private_key=SecretStr("k"),
            email_digest_key=SecretStr("d"),
        )

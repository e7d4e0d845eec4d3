"""Password hashing (scrypt) and the password policy."""

from __future__ import annotations

import base64
import hashlib

import pytest

from app.security import passwords
from app.security.passwords import (
    check_password,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

GOOD = "correct Horse battery 9"


@pytest.fixture(scope="module")
def encoded() -> str:
    return hash_password(GOOD)


def test_hash_is_self_describing(encoded: str) -> None:
    scheme, n, r, p, salt, key = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "32768", "8", "1")
    assert salt and key and GOOD not in encoded


def test_correct_password_verifies(encoded: str) -> None:
    assert verify_password(GOOD, encoded)


def test_wrong_password_is_rejected(encoded: str) -> None:
    assert not verify_password(GOOD + "x", encoded)


def test_same_password_gets_a_different_salt_each_time(encoded: str) -> None:
    assert hash_password(GOOD) != encoded


def test_unicode_forms_of_the_same_password_match() -> None:
    composed, decomposed = "caf\u00e9-Password-1", "cafe\u0301-Password-1"
    assert verify_password(decomposed, hash_password(composed))


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "not a hash",
        "bcrypt$1$2$3$4$5",
        "scrypt$abc$8$1$c2FsdA$a2V5",
        "scrypt$1000$8$1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",  # n not a power of two
        "scrypt$1073741824$8$1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",  # n absurdly large
        "scrypt$32768$8$1$!!!$???",
    ],
)
def test_malformed_hash_is_a_mismatch_not_an_error(malformed: str) -> None:
    assert verify_password(GOOD, malformed) is False


def test_non_string_input_is_a_mismatch_not_an_error(encoded: str) -> None:
    assert verify_password(None, encoded) is False  # type: ignore[arg-type]


def test_current_hash_does_not_need_rehash(encoded: str) -> None:
    assert not needs_rehash(encoded)


def test_hash_with_weaker_parameters_needs_rehash() -> None:
    # A hash stored by an older release with n = 2**14, written out in the documented format.
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(GOOD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    weaker = f"scrypt${2**14}$8$1${b64(salt)}${b64(key)}"
    assert verify_password(GOOD, weaker)
    assert needs_rehash(weaker)


def test_malformed_hash_needs_rehash() -> None:
    assert needs_rehash("garbage")


def test_hash_matches_stdlib_scrypt(encoded: str) -> None:
    salt = passwords._b64decode(encoded.split("$")[4])
    key = hashlib.scrypt(GOOD.encode(), salt=salt, n=2**15, r=8, p=1, maxmem=2**26, dklen=32)
    assert encoded.split("$")[5] == passwords._b64encode(key)


async def test_async_variants_round_trip() -> None:
    encoded = await hash_password_async(GOOD)
    assert await verify_password_async(GOOD, encoded)
    assert not await verify_password_async("other Password 1", encoded)


def test_policy_accepts_a_long_mixed_password() -> None:
    assert check_password(GOOD) == []


def test_policy_rejects_short_password() -> None:
    assert check_password("Ab1!") == ["must be at least 10 characters long"]


def test_policy_rejects_overlong_password() -> None:
    assert check_password("aB1" * 100) == ["must be at most 256 characters long"]


def test_policy_rejects_single_character_class() -> None:
    assert check_password("1234567890123") == [
        "must mix character kinds (letters of both cases, digits or symbols)"
    ]

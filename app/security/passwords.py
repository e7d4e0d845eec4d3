"""Password hashing with scrypt, a memory-hard KDF from the standard library.

Why scrypt: it is memory-hard (GPU/ASIC cracking is expensive), ships with `hashlib` (no
extra dependency) and its parameters are stored with every hash, so they can be raised later
and old hashes upgraded on the next successful login (`needs_rehash`).

Encoded form: ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` with salt and hash in unpadded URL-safe
base64. The format is self-describing so verification never depends on the current defaults.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import unicodedata

SCHEME = "scrypt"
N = 2**15  # CPU/memory cost: 128 * N * r bytes = 32 MiB per hash
R = 8
P = 1
SALT_BYTES = 16
KEY_BYTES = 32

# Parameters read from a stored hash are bounded so that a corrupted or planted hash cannot
# make a login allocate gigabytes or spin for minutes.
MAX_N = 2**20
MAX_R = 32
MAX_P = 16

MIN_LENGTH = 10
MAX_LENGTH = 256


def _maxmem(n: int, r: int, p: int) -> int:
    """Memory ceiling for OpenSSL: scrypt needs 128*n*r (+128*r*p); OpenSSL's default
    ceiling (32 MiB) is exactly our working set and would reject it, so allow double."""
    return 2 * 128 * r * (n + p)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _normalize(password: str) -> bytes:
    """NFKC so that the same password typed on different keyboards/OSes (composed vs
    decomposed accents, full-width digits) hashes identically (NIST SP 800-63B)."""
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        _normalize(password), salt=salt, n=n, r=r, p=p, maxmem=_maxmem(n, r, p), dklen=length
    )


def hash_password(password: str) -> str:
    """Hash `password` with a fresh random salt and the current parameters."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64encode(salt)}${_b64encode(key)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    """Split an encoded hash into (n, r, p, salt, key); None when it is not one we accept."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = _b64decode(parts[4]), _b64decode(parts[5])
    except (ValueError, binascii.Error):
        return None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not (power_of_two and n <= MAX_N and 1 <= r <= MAX_R and 1 <= p <= MAX_P):
        return None
    if not salt or len(key) < 16:
        return None
    return n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`. Never raises: a malformed hash is a mismatch,
    so a corrupted user record cannot turn a login into a 500."""
    try:
        parsed = _parse(encoded)
        if parsed is None:
            return False
        n, r, p, salt, key = parsed
        candidate = _derive(password, salt, n, r, p, len(key))
    except (ValueError, TypeError, MemoryError, AttributeError):
        return False
    return hmac.compare_digest(candidate, key)  # constant time: no timing oracle


def needs_rehash(encoded: str) -> bool:
    """True when `encoded` was made with other parameters (or is unreadable), so the caller
    should store `hash_password(pw)` after the next successful verification."""
    parsed = _parse(encoded) if isinstance(encoded, str) else None
    if parsed is None:
        return True
    n, r, p, salt, key = parsed
    return (n, r, p, len(salt), len(key)) != (N, R, P, SALT_BYTES, KEY_BYTES)


async def hash_password_async(password: str) -> str:
    """`hash_password` in a worker thread: scrypt takes tens of milliseconds and would
    otherwise stall every other request on the event loop."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, encoded: str) -> bool:
    """`verify_password` in a worker thread (see `hash_password_async`)."""
    return await asyncio.to_thread(verify_password, password, encoded)


def _character_class(char: str) -> str:
    if char.islower():
        return "lower"
    if char.isupper():
        return "upper"
    if char.isdigit():
        return "digit"
    return "other"  # symbols, spaces, letters without case


def check_password(password: str) -> list[str]:
    """Problems with a proposed password; empty when acceptable.

    Deliberately simple (NIST SP 800-63B favours length over composition rules):
    - at least MIN_LENGTH characters: length is what makes guessing expensive;
    - at most MAX_LENGTH characters: bounds the work an attacker can make us do;
    - not made of one character class only (e.g. only digits or only lowercase letters),
      which rules out the most common weak patterns without forcing a recipe.
    """
    problems: list[str] = []
    length = len(password)
    if length < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if length > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if password and len({_character_class(char) for char in password}) == 1:
        problems.append("must mix character kinds (letters of both cases, digits or symbols)")
    return problems

"""Encryption at rest for tenant-owned third-party credentials (AES-256-GCM, key rotation).

Each value is sealed with the keyring's current key and records that key's id (`kid`), so
keys can be rotated without a flag day: add a new key in front, keep the old ones for
decryption, re-seal stored values with `rotate` (see `needs_rotation`), then drop old keys.

The associated data (`aad`, e.g. ``"<tenant_id>:<secret_name>"``) is authenticated but not
stored: a ciphertext copied into another tenant's or another secret's record fails to
decrypt instead of leaking one tenant's credentials to another.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard size; random nonces are safe well below 2**32 messages
KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
FALLBACK_KID = "k0"
FALLBACK_INFO = b"pricing-platform credential encryption k0"


class DecryptionError(Exception):
    """A sealed value could not be opened. Messages never contain key or secret material."""


class Sealed(BaseModel):
    """What is stored: key id plus base64 nonce and ciphertext (GCM tag appended)."""

    model_config = ConfigDict(frozen=True)

    kid: str
    nonce: str
    ciphertext: str


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _parse_entry(index: int, entry: str) -> tuple[str, bytes]:
    """One ``kid:base64key`` entry. Errors name the key id or position, never the key."""
    kid, sep, encoded = entry.strip().partition(":")
    kid = kid.strip()
    if not sep or not KID.match(kid):
        raise ValueError(f"keyring entry #{index}: expected 'kid:base64key' with a simple kid")
    try:
        key = _unb64(encoded.strip())
    except (ValueError, binascii.Error):
        raise ValueError(f"keyring key {kid!r}: not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"keyring key {kid!r}: must decode to exactly {KEY_BYTES} bytes")
    return kid, key


class Keyring:
    """Ordered AES-256-GCM keys: the first encrypts, all decrypt."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("keyring needs at least one key")
        ids = [kid for kid, _ in keys]
        if len(set(ids)) != len(ids):
            raise ValueError("keyring key ids must be unique")
        for kid, key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"keyring key {kid!r}: must be exactly {KEY_BYTES} bytes")
        self.current = ids[0]
        self._ciphers = {kid: AESGCM(key) for kid, key in keys}

    def __repr__(self) -> str:  # key ids only: a Keyring must never print its keys
        return f"Keyring(current={self.current!r}, kids={list(self._ciphers)!r})"

    @classmethod
    def parse(cls, value: str) -> Keyring:
        """Build from ``"k2:BASE64KEY,k1:BASE64KEY"`` (first is current)."""
        entries = [entry for entry in value.split(",") if entry.strip()]
        return cls([_parse_entry(index, entry) for index, entry in enumerate(entries, 1)])

    @classmethod
    def from_setting(cls, value: str | None, fallback_secret: str) -> Keyring:
        """The configured keyring, or - DEVELOPMENT ONLY - one key `k0` derived from
        `fallback_secret` (e.g. the JWT secret) with HKDF-SHA256.

        The fallback ties stored credentials to that secret: if it is random per process or
        is ever changed, everything sealed under `k0` becomes unreadable. Production must
        configure real keys (and can then rotate `k0` away with `rotate`).
        """
        if value and value.strip():
            return cls.parse(value)
        if not fallback_secret:
            raise ValueError("no keyring configured and no fallback secret to derive one")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=FALLBACK_INFO)
        return cls([(FALLBACK_KID, hkdf.derive(fallback_secret.encode("utf-8")))])

    @staticmethod
    def generate_key() -> str:
        """A fresh random key, base64-encoded, for docs and the CLI."""
        return _b64(secrets.token_bytes(KEY_BYTES))

    def encrypt(self, plaintext: str, aad: str) -> Sealed:
        """Seal with the current key and a fresh random nonce, bound to `aad`."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        cipher = self._ciphers[self.current]
        data = cipher.encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8"))
        return Sealed(kid=self.current, nonce=_b64(nonce), ciphertext=_b64(data))

    def decrypt(self, sealed: Sealed, aad: str) -> str:
        """Open a sealed value; `DecryptionError` if the key is unknown, the data was
        tampered with or `aad` differs from the one used to encrypt."""
        cipher = self._ciphers.get(sealed.kid)
        if cipher is None:
            raise DecryptionError(f"unknown key id {sealed.kid!r}")
        try:
            nonce, data = _unb64(sealed.nonce), _unb64(sealed.ciphertext)
        except (ValueError, binascii.Error):
            raise DecryptionError("malformed sealed value") from None
        if len(nonce) != NONCE_BYTES:
            raise DecryptionError("malformed sealed value")
        try:
            plain = cipher.decrypt(nonce, data, aad.encode("utf-8"))
        except InvalidTag:
            raise DecryptionError("authentication failed (tampered data or wrong aad)") from None
        return plain.decode("utf-8")

    def needs_rotation(self, sealed: Sealed) -> bool:
        """True when `sealed` is not under the current key."""
        return sealed.kid != self.current

    def rotate(self, sealed: Sealed, aad: str) -> Sealed:
        """Re-seal under the current key (decrypt with the old one); use after `needs_rotation`."""
        return self.encrypt(self.decrypt(sealed, aad), aad)


def mask(secret: str) -> str:
    """A display hint such as ``sk-…WXYZ`` (first 3 + last 4 characters).

    Secrets shorter than 12 characters show only their last 2 (``…yz``), and those of 4
    characters or fewer show nothing, so the hint never reveals a large part of a secret.
    """
    if len(secret) >= 12:
        return f"{secret[:3]}…{secret[-4:]}"
    if len(secret) > 4:
        return f"…{secret[-2:]}"
    return "…"

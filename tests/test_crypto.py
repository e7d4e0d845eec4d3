"""AES-256-GCM credential encryption with key rotation."""

from __future__ import annotations

import base64

import pytest

from app.security.crypto import DecryptionError, Keyring, Sealed, mask

K1 = Keyring.generate_key()
K2 = Keyring.generate_key()
AAD = "tenant-a:openai_api_key"


def test_generated_key_is_32_random_bytes() -> None:
    assert len(base64.b64decode(K1)) == 32 and K1 != K2


def test_round_trip() -> None:
    keyring = Keyring.parse(f"k1:{K1}")
    sealed = keyring.encrypt("sk-live-123", AAD)
    assert sealed.kid == "k1" and "sk-live-123" not in sealed.model_dump_json()
    assert keyring.decrypt(sealed, AAD) == "sk-live-123"


def test_each_encryption_uses_a_fresh_nonce() -> None:
    keyring = Keyring.parse(f"k1:{K1}")
    assert keyring.encrypt("x", AAD).nonce != keyring.encrypt("x", AAD).nonce


def test_sealed_value_survives_json_storage() -> None:
    keyring = Keyring.parse(f"k1:{K1}")
    stored = keyring.encrypt("secret", AAD).model_dump_json()
    assert keyring.decrypt(Sealed.model_validate_json(stored), AAD) == "secret"


def test_aad_mismatch_fails() -> None:
    keyring = Keyring.parse(f"k1:{K1}")
    sealed = keyring.encrypt("sk-live-123", AAD)
    with pytest.raises(DecryptionError) as caught:
        keyring.decrypt(sealed, "tenant-b:openai_api_key")
    assert "sk-live" not in str(caught.value)


def test_tampered_ciphertext_fails() -> None:
    keyring = Keyring.parse(f"k1:{K1}")
    sealed = keyring.encrypt("sk-live-123", AAD)
    raw = bytearray(base64.b64decode(sealed.ciphertext))
    raw[0] ^= 1
    tampered = sealed.model_copy(update={"ciphertext": base64.b64encode(raw).decode()})
    with pytest.raises(DecryptionError):
        keyring.decrypt(tampered, AAD)


def test_unknown_key_id_fails() -> None:
    sealed = Keyring.parse(f"k1:{K1}").encrypt("x", AAD)
    with pytest.raises(DecryptionError, match="unknown key id 'k1'"):
        Keyring.parse(f"k2:{K2}").decrypt(sealed, AAD)


def test_malformed_sealed_value_fails() -> None:
    with pytest.raises(DecryptionError, match="malformed"):
        Keyring.parse(f"k1:{K1}").decrypt(Sealed(kid="k1", nonce="!!", ciphertext="??"), AAD)


def test_rotation_moves_a_value_to_the_current_key() -> None:
    old = Keyring.parse(f"k1:{K1}").encrypt("sk-live-123", AAD)
    both = Keyring.parse(f"k2:{K2},k1:{K1}")
    assert both.decrypt(old, AAD) == "sk-live-123"
    assert both.needs_rotation(old)
    rotated = both.rotate(old, AAD)
    assert rotated.kid == "k2" and not both.needs_rotation(rotated)
    assert Keyring.parse(f"k2:{K2}").decrypt(rotated, AAD) == "sk-live-123"


def test_key_of_wrong_length_is_named_without_its_material() -> None:
    short = base64.b64encode(b"sixteen byte key").decode()
    with pytest.raises(ValueError) as caught:
        Keyring.parse(f"k2:{K2},k1:{short}")
    assert "'k1'" in str(caught.value)
    assert short not in str(caught.value) and K2 not in str(caught.value)


def test_key_that_is_not_base64_is_named_without_its_material() -> None:
    with pytest.raises(ValueError) as caught:
        Keyring.parse("k1:not*base64*at*all")
    assert "'k1'" in str(caught.value) and "base64*" not in str(caught.value)


def test_entry_without_kid_does_not_echo_the_entry() -> None:
    with pytest.raises(ValueError) as caught:
        Keyring.parse(K1)
    assert K1 not in str(caught.value)


def test_repr_does_not_show_keys() -> None:
    assert K1 not in repr(Keyring.parse(f"k1:{K1}"))


def test_configured_setting_wins_over_fallback() -> None:
    assert Keyring.from_setting(f"k1:{K1}", "fallback").current == "k1"


def test_fallback_key_is_derived_deterministically() -> None:
    sealed = Keyring.from_setting(None, "dev-secret").encrypt("x", AAD)
    assert sealed.kid == "k0"
    assert Keyring.from_setting("", "dev-secret").decrypt(sealed, AAD) == "x"
    with pytest.raises(DecryptionError):
        Keyring.from_setting(None, "other-secret").decrypt(sealed, AAD)


def test_mask_long_secret_shows_first_three_and_last_four() -> None:
    assert mask("sk-abcdefghijklmnopWXYZ") == "sk-…WXYZ"


def test_mask_short_secret_shows_only_last_two() -> None:
    assert mask("abcdefgh") == "…gh"


def test_mask_tiny_secret_shows_nothing() -> None:
    assert mask("abc") == "…"

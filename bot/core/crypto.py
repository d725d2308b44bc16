"""Encryption at rest for secrets the bot keeps (delegated tokens), with Fernet from `cryptography`.

Each ciphertext is bound to a context string (for tokens: the owner's user id), so a row copied
onto another user's row does not decrypt as theirs.
"""

from __future__ import annotations

import binascii
import json
from typing import Final

from cryptography.fernet import Fernet, InvalidToken

KEY_HOWTO: Final = "make one with: export RCBOT_SECRET_KEY=$(rcbot keygen)"


class KeyFormatError(ValueError):
    """The configured key is not a Fernet key; the message says how to make one."""


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: another key made it, or it was tampered with."""


def generate_key() -> str:
    """A fresh random key: 44 characters of URL-safe base64 (32 bytes)."""
    return Fernet.generate_key().decode("ascii")


def check_key(key: str) -> str:
    """Return `key` without surrounding whitespace if it is a valid key, else raise KeyFormatError."""
    cleaned = key.strip()
    if not cleaned:
        raise KeyFormatError(f"is empty; {KEY_HOWTO}")
    try:
        Fernet(cleaned.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise KeyFormatError(
            "is not a valid key: expected 44 characters of URL-safe base64 (32 bytes), "
            f"as printed by `rcbot keygen`; {KEY_HOWTO}"
        ) from None
    return cleaned


class SecretBox:
    """Encrypts and decrypts short strings with one key; never logs or shows what it holds."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(check_key(key).encode("ascii"))

    def __repr__(self) -> str:
        return "SecretBox(key=***)"

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Encrypt `plaintext`, bound to `context` (checked again on decryption)."""
        payload = json.dumps({"c": context, "v": plaintext}, separators=(",", ":"))
        return self._fernet.encrypt(payload.encode("utf-8"))

    def decrypt(self, ciphertext: bytes, *, context: str) -> str:
        """The plaintext, or DecryptionError if the key or the context does not match."""
        try:
            payload = json.loads(self._fernet.decrypt(ciphertext))
        except (InvalidToken, ValueError, TypeError):
            raise DecryptionError("the data was not encrypted with this key") from None
        if not isinstance(payload, dict) or payload.get("c") != context:
            raise DecryptionError("the data belongs to another record")
        value = payload.get("v")
        if not isinstance(value, str):
            raise DecryptionError("the data is malformed")
        return value

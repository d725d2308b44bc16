"""Meteor's two digests, shared by the server and its clients (no other sandbox imports).

* `sha256_hex`: what a client sends as a password digest (`{digest, algorithm: "sha-256"}`),
  what the password fallback of 2FA expects as its code, and what bcrypt stores a hash of.
* `hash_login_token`: how login tokens and personal access tokens are stored.
"""

from __future__ import annotations

import base64
import hashlib


def sha256_hex(text: str) -> str:
    """Meteor's `SHA256(text)`: lower-case hex of the UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_login_token(token: str) -> str:
    """`Accounts._hashLoginToken`: base64(sha256(token))."""
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()

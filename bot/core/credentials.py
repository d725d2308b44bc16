"""What a request to Rocket.Chat authenticates with: a user's token, and a second factor."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Credentials:
    """X-User-Id + X-Auth-Token (a login token or a personal access token); the token stays hidden."""

    user_id: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class SecondFactor:
    """X-2fa-Code + X-2fa-Method; `method` is "totp", "email" or "password"; the code stays hidden."""

    method: str
    code: str = field(repr=False)

    @classmethod
    def from_password(cls, password: str) -> SecondFactor:
        """The password fallback: the code is the hex SHA-256 of the plain password (§3 step 9)."""
        return cls("password", hashlib.sha256(password.encode("utf-8")).hexdigest())

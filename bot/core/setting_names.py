"""How settings are named in every message: as written in TOML and as their RCBOT_ variable.

Lower layers (storage, for its database path) name settings in their errors too, so the naming
lives here, below them; the settings themselves are read at the top (bot.app.config).
"""

from __future__ import annotations

from typing import Final

ENV_PREFIX: Final = "RCBOT_"


def env_name(key: str) -> str:
    """The environment variable for a (possibly nested, dot-separated) key."""
    return ENV_PREFIX + "__".join(part.upper() for part in key.split("."))


def describe_key(key: str) -> str:
    """`key (RCBOT_KEY)`: how a key is named in every message."""
    return f"{key} ({env_name(key)})"

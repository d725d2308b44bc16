"""Logging for every rcbot command: one stderr handler, text or JSON, scrubbed of secrets.

Every record passes `SecretScrubber` before it is formatted, so no level and no format can show
anything shaped like a token, a password digest, a 2FA code or a stored ciphertext, nor the
bot's own configured secrets; websocket frames are logged without their content.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Final

from bot.app.config import BotSettings
from bot.app.logformat import formatter_for

REDACTED: Final = "[redacted]"
# Meteor's Random.secret(): 43 base64url characters (login tokens, personal access tokens). A
# Fernet key is 43 such characters plus "=", so it matches too.
_SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
# A Fernet ciphertext (a stored token, encrypted): useless without the key, but it outlives a key
# rotation and a /token forget, so it stays out of logs too.
_CIPHERTEXT_SHAPE = re.compile(r"gAAAAA[A-Za-z0-9_=-]{40,}")
# The hex SHA-256 of a password: what DDP login and the password 2FA method send instead of it.
_DIGEST_SHAPE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")
# 2FA codes: six digits from an authenticator app, or 123-456 as Rocket.Chat mails them.
_CODE_SHAPE = re.compile(r"(?<![\w.:/-])\d{3}[- ]?\d{3}(?![\w-])")
# Values after names that carry secrets: headers, JSON keys, key=value pairs.
_SECRET_FIELD = re.compile(
    r"(?i)(?<![a-z0-9])(x-auth-token|x-2fa-code|authtoken|auth_token|"
    r"(?:new|current|old|confirm)?_?password|secret_key|secret|token|digest|resume|"
    r"twofactorcode|2fa_code)"
    r"([\"']?\s*[:=]\s*[\"']?)([^\s\"',;{}\[\]]+)"
)
# websockets logs every frame at DEBUG ("< TEXT '{...}' [123 bytes]"): keep only the opcode and
# the size, since the payload carries people's messages (passwords and codes among them).
_FRAME_DUMP = re.compile(r"^([<>] [A-Z]+ )(.*?)( \[[^\[\]]*\bbytes?\b[^\[\]]*\])?$", re.DOTALL)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known secrets and anything shaped like a token, a password digest or a 2FA
    code replaced by [redacted]."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _CIPHERTEXT_SHAPE.sub(REDACTED, text)
    text = _SECRET_SHAPE.sub(REDACTED, text)
    text = _DIGEST_SHAPE.sub(REDACTED, text)
    return _CODE_SHAPE.sub(REDACTED, text)


def scrub_frame_dump(text: str) -> str:
    """A websockets frame log line with its payload replaced by [redacted]."""
    return _FRAME_DUMP.sub(lambda m: m.group(1) + REDACTED + (m.group(3) or ""), text)


class SecretScrubber(logging.Filter):
    """Rewrites each record (message, arguments, traceback) without secrets; never drops one."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add_secret(self, value: str | None) -> None:
        """Also scrub this exact value (a configured password, token or key)."""
        if value and len(value) >= 4:
            self._secrets.add(value)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = sorted(self._secrets, key=len, reverse=True)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        if record.name.startswith("websockets"):
            message = scrub_frame_dump(message)
        record.msg = scrub(message, secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        return True


_scrubber = SecretScrubber()
_handler: logging.Handler | None = None


def setup_logging(
    level: str = "INFO", *, secrets: Iterable[str | None] = (), log_format: str = "text"
) -> SecretScrubber:
    """Log to stderr at `level` through the scrubber, as text or JSON lines (bot.app.logformat);
    safe to call more than once."""
    global _handler
    for secret in secrets:
        _scrubber.add_secret(secret)
    root = logging.getLogger()
    if _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.addFilter(_scrubber)
        root.addHandler(_handler)
    _handler.setFormatter(formatter_for(log_format))
    root.setLevel(level)
    # aiohttp's access and client loggers are chatty below WARNING and add nothing for us.
    for chatty in ("aiohttp",):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    return _scrubber


def secrets_of(settings: BotSettings) -> list[str | None]:
    return [
        secret.get_secret_value() if secret is not None else None
        for secret in (settings.password, settings.auth_token, settings.secret_key)
    ]

"""The bot's storage: one SQLite file (aiosqlite, WAL), one small async interface.

Today it holds delegated tokens, encrypted at rest with the configured secret key. Later tables
(conversations, reverts, audit, handled ids) come as new entries in MIGRATIONS plus a few methods
next to the token ones; `schema_version` records which migrations have run.

A `meta` row holds a value encrypted with the key that wrote the data, so a different key is
noticed at open (ConfigError with what to do) instead of failing on the first token read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, NamedTuple, Self

import aiosqlite
from pydantic import SecretStr

from bot.config import ConfigError, describe_key
from bot.crypto import DecryptionError, KeyFormatError, SecretBox
from bot.rest import Credentials

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Each migration is the list of statements that moves the schema from version N-1 to N.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value BLOB NOT NULL
        )""",
        """CREATE TABLE delegated_tokens (
            user_id TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            token_encrypted BLOB NOT NULL,
            valid INTEGER NOT NULL DEFAULT 1,
            stored_at TEXT NOT NULL
        )""",
    ),
    # Version 2: pending conversations (sensitive changes); see bot/conversation_store.py.
    # `data` is JSON without secrets; `expires_at` is the answer deadline in epoch seconds.
    (
        """CREATE TABLE conversations (
            room_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            flow TEXT NOT NULL,
            step TEXT NOT NULL,
            data TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (room_id, user_id)
        )""",
        "CREATE INDEX conversations_by_user ON conversations (user_id)",
        "CREATE INDEX conversations_by_deadline ON conversations (expires_at)",
    ),
    # Version 3: automation (pending reverts, audit trail, undo points, rule opt-ins/outs).
    (
        """CREATE TABLE pending_reverts (
            user_id TEXT NOT NULL,
            field_group TEXT NOT NULL,
            username TEXT NOT NULL,
            due_at TEXT NOT NULL,
            restore TEXT NOT NULL,
            expected TEXT NOT NULL,
            cause TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, field_group)
        )""",
        "CREATE INDEX pending_reverts_due ON pending_reverts (due_at)",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            user_id TEXT NOT NULL,
            username TEXT NOT NULL,
            changes TEXT NOT NULL,
            cause TEXT NOT NULL
        )""",
        "CREATE INDEX audit_log_user ON audit_log (user_id, id)",
        """CREATE TABLE undo_points (
            user_id TEXT PRIMARY KEY,
            changes TEXT NOT NULL,
            cause TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        """CREATE TABLE rule_choices (
            user_id TEXT NOT NULL,
            rule TEXT NOT NULL,
            choice TEXT NOT NULL CHECK (choice IN ('in', 'out')),
            at TEXT NOT NULL,
            PRIMARY KEY (user_id, rule)
        )""",
        "CREATE INDEX rule_choices_rule ON rule_choices (rule, choice)",
    ),
    # Version 4: reliability (bot/handled.py). The ids of messages the bot has finished with,
    # so a restart or a catch-up never runs one twice, and per room the time (epoch ms, the
    # server's clock) up to which every message is handled; room '' is when the bot first ran.
    (
        """CREATE TABLE handled_messages (
            message_id TEXT PRIMARY KEY,
            room_id TEXT NOT NULL,
            ts REAL NOT NULL,
            handled_at REAL NOT NULL
        )""",
        "CREATE INDEX handled_messages_by_age ON handled_messages (handled_at)",
        """CREATE TABLE catch_up_marks (
            room_id TEXT PRIMARY KEY,
            ts REAL NOT NULL
        )""",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
_KEY_CHECK: Final = "key-check"
_KEY_CHECK_TEXT: Final = "rcbot secret key check"


async def _key_state(db: aiosqlite.Connection, box: SecretBox) -> tuple[bool | None, int]:
    """(does the key match, how many tokens are stored); None when no key is recorded yet."""
    async with db.execute("SELECT value FROM meta WHERE key = ?", (_KEY_CHECK,)) as cursor:
        row = await cursor.fetchone()
    async with db.execute("SELECT COUNT(*) FROM delegated_tokens") as cursor:
        count_row = await cursor.fetchone()
    stored = int(count_row[0]) if count_row else 0
    if row is None:
        return None, stored
    try:
        box.decrypt(row[0], context=_KEY_CHECK)
    except DecryptionError:
        return False, stored
    return True, stored


def _wrong_key_message(stored: int, path: str) -> str:
    return (
        f"{describe_key('secret_key')}: is not the key that encrypted the {stored} token(s) "
        f"stored in {path}; set the original key again, or move that file away to start "
        "afresh (people will then have to send /token set again)"
    )


class _TokenRow(NamedTuple):
    """A delegated_tokens row as stored: the token is still encrypted."""

    username: str
    encrypted: bytes
    valid: bool
    stored_at: str


@dataclass(frozen=True)
class DelegatedToken:
    """A user's personal access token as the bot keeps it; `credentials` hides the token in repr."""

    user_id: str
    username: str
    credentials: Credentials
    valid: bool
    stored_at: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite's -wal/-shm follow it)."""
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except FileNotFoundError:
        raise ConfigError(
            f"{describe_key('db')}: the folder {path.parent} does not exist; "
            "create it or point db at an existing folder"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{describe_key('db')}: cannot create {path}: {exc.strerror}") from None


class Store:
    """Encrypted delegated tokens in SQLite. Open with `await Store.open(path, secret_key=...)`."""

    def __init__(self, db: aiosqlite.Connection, box: SecretBox, path: str, clock: Clock) -> None:
        self._db = db
        self._box = box
        self._path = path
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token_rows: dict[str, _TokenRow] = {}

    def __repr__(self) -> str:
        return f"Store({self._path!r})"

    @classmethod
    async def open(
        cls, path: str | Path, *, secret_key: str | SecretStr, clock: Clock = _utc_now
    ) -> Self:
        """Open (creating if needed) the database; ConfigError for a missing, bad or wrong key."""
        raw_key = (
            secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        )
        if raw_key is None or not str(raw_key).strip():
            raise ConfigError(
                f"{describe_key('secret_key')}: is required to encrypt stored tokens; "
                "make one with: export RCBOT_SECRET_KEY=$(rcbot keygen)"
            )
        try:
            box = SecretBox(raw_key)
        except KeyFormatError as exc:
            raise ConfigError(f"{describe_key('secret_key')}: {exc}") from None
        location = str(path)
        if location != ":memory:":
            _create_private_file(Path(location))
        try:
            db = await aiosqlite.connect(location, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConfigError(f"{describe_key('db')}: cannot open {location}: {exc}") from None
        store = cls(db, box, location, clock)
        try:
            await store._prepare()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- schema and key ---------------------------------------------------------------------

    async def _prepare(self) -> None:
        try:
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA busy_timeout=5000")
            await self._db.execute("PRAGMA foreign_keys=ON")
            await self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{describe_key('db')}: {self._path} is not a usable SQLite database ({exc})"
            ) from None
        await self._check_key()

    async def _migrate(self) -> None:
        async with self.transaction() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            async with db.execute("SELECT MAX(version) FROM schema_version") as cursor:
                row = await cursor.fetchone()
        current = row[0] if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise ConfigError(
                f"{describe_key('db')}: {self._path} was written by a newer rcbot "
                f"(schema {current}, this one knows {SCHEMA_VERSION}); upgrade rcbot"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            async with self.transaction() as db:
                for statement in MIGRATIONS[version - 1]:
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            log.info("storage %s: schema now at version %d", self._path, version)

    async def _check_key(self) -> None:
        """Make sure the key is the one that encrypted what is stored (or adopt it if empty)."""
        async with self.transaction() as db:
            matches, stored = await _key_state(db, self._box)
            if matches:
                return
            if matches is False:
                if stored:
                    raise ConfigError(_wrong_key_message(stored, self._path))
                log.warning("storage %s: no tokens stored; adopting the new key", self._path)
            check = self._box.encrypt(_KEY_CHECK_TEXT, context=_KEY_CHECK)
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (_KEY_CHECK, check),
            )

    @classmethod
    async def verify_key(cls, path: str | Path, *, secret_key: str | SecretStr) -> None:
        """Without changing anything, raise ConfigError if `secret_key` cannot read the tokens
        already stored at `path` (for `rcbot check`); a missing file is fine."""
        raw_key = (
            secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        )
        try:
            box = SecretBox(raw_key)
        except KeyFormatError as exc:
            raise ConfigError(f"{describe_key('secret_key')}: {exc}") from None
        location = Path(path)
        if not location.is_file():
            return
        try:
            async with aiosqlite.connect(f"{location.resolve().as_uri()}?mode=ro", uri=True) as db:
                async with db.execute(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
                ) as cursor:
                    found = await cursor.fetchone()
                if not found or not found[0]:
                    return
                matches, stored = await _key_state(db, box)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{describe_key('db')}: {location} is not a usable SQLite database ({exc})"
            ) from None
        if matches is False and stored:
            raise ConfigError(_wrong_key_message(stored, str(location)))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back if the block raises.

        Feature stores (conversations, automation) run their statements in here too, so each
        change is one transaction on the same file.
        """
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    # -- delegated tokens -------------------------------------------------------------------

    async def put_token(self, *, user_id: str, username: str, token: str) -> None:
        """Store (or replace) a user's token, encrypted, and mark it valid."""
        encrypted = self._box.encrypt(token, context=user_id)
        stored_at = self._clock().astimezone(UTC).isoformat()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO delegated_tokens (user_id, username, token_encrypted, valid, stored_at)"
                " VALUES (?, ?, ?, 1, ?) ON CONFLICT(user_id) DO UPDATE SET"
                " username = excluded.username, token_encrypted = excluded.token_encrypted,"
                " valid = 1, stored_at = excluded.stored_at",
                (user_id, username, encrypted, stored_at),
            )
        self._token_rows[user_id] = _TokenRow(username, encrypted, True, stored_at)
        log.info("stored a delegated token for %s (%s)", username, user_id)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for reads, serialised with the writes."""
        async with self._lock:
            yield self._db

    async def get_token(self, user_id: str) -> DelegatedToken | None:
        """The user's token, or None if none is stored (or it cannot be decrypted).

        Rows are kept in memory as stored, still encrypted, after the first read: every command
        needs its sender's token, and a database round trip through aiosqlite's thread costs
        far more than the decryption (bench/RESULTS.md). The cache belongs to this process;
        every write through this store keeps it current.
        """
        cached = self._token_rows.get(user_id)
        if cached is None:
            async with (
                self._lock,
                self._db.execute(
                    "SELECT username, token_encrypted, valid, stored_at FROM delegated_tokens"
                    " WHERE user_id = ?",
                    (user_id,),
                ) as cursor,
            ):
                row = await cursor.fetchone()
            if row is None:
                return None
            cached = self._token_rows[user_id] = _TokenRow(
                str(row[0]), bytes(row[1]), bool(row[2]), str(row[3])
            )
        username, encrypted, valid, stored_at = cached
        try:
            token = self._box.decrypt(encrypted, context=user_id)
        except DecryptionError as exc:
            log.warning("the stored token of %s cannot be used (%s); ignoring it", user_id, exc)
            return None
        return DelegatedToken(
            user_id=user_id,
            username=username,
            credentials=Credentials(user_id=user_id, token=token),
            valid=bool(valid),
            stored_at=datetime.fromisoformat(stored_at),
        )

    async def mark_token_invalid(self, user_id: str) -> None:
        """Remember that the server rejected this user's token (401)."""
        async with self.transaction() as db:
            await db.execute("UPDATE delegated_tokens SET valid = 0 WHERE user_id = ?", (user_id,))
        if user_id in self._token_rows:
            self._token_rows[user_id] = self._token_rows[user_id]._replace(valid=False)
        log.info("marked the delegated token of %s invalid", user_id)

    async def forget_token(self, user_id: str) -> bool:
        """Delete the user's token; True if there was one."""
        async with self.transaction() as db:
            cursor = await db.execute("DELETE FROM delegated_tokens WHERE user_id = ?", (user_id,))
            deleted = cursor.rowcount > 0
            await cursor.close()
        self._token_rows.pop(user_id, None)
        if deleted:
            log.info("forgot the delegated token of %s", user_id)
        return deleted

    async def rotate_key(self, new_key: str | SecretStr) -> int:
        """Re-encrypt every stored token, and the key check, with `new_key` in one transaction;
        from then on this store uses the new key. Returns how many tokens were re-encrypted.

        ConfigError, changing nothing, when the new key is malformed or the same as the current
        one, or when a stored token cannot be read with the current key. Old ciphertexts are
        overwritten on disk (secure_delete, then a WAL checkpoint), so a leaked old key opens
        nothing afterwards. Stop the bot first: a running bot still holds the old key.
        """
        raw_key = new_key.get_secret_value() if isinstance(new_key, SecretStr) else new_key
        try:
            new_box = SecretBox(raw_key)
        except KeyFormatError as exc:
            raise ConfigError(f"the new key {exc}") from None
        check = new_box.encrypt(_KEY_CHECK_TEXT, context=_KEY_CHECK)
        try:
            self._box.decrypt(check, context=_KEY_CHECK)
        except DecryptionError:
            pass
        else:
            raise ConfigError("the new key is the same as the current one; nothing to rotate")
        await self._db.execute("PRAGMA secure_delete=ON")
        async with self.transaction() as db:
            async with db.execute(
                "SELECT user_id, token_encrypted FROM delegated_tokens ORDER BY user_id"
            ) as cursor:
                rows = await cursor.fetchall()
            updates: list[tuple[bytes, str]] = []
            unreadable: list[str] = []
            for user_id, encrypted in rows:
                try:
                    token = self._box.decrypt(encrypted, context=user_id)
                except DecryptionError:
                    unreadable.append(str(user_id))
                    continue
                updates.append((new_box.encrypt(token, context=user_id), user_id))
            if unreadable:
                raise ConfigError(
                    f"{len(unreadable)} stored token(s) cannot be read with the current key "
                    f"(users {', '.join(unreadable[:10])}); nothing was changed. Those people "
                    "must send /token set again after you delete their rows, or restore the "
                    "key that wrote them"
                )
            await db.executemany(
                "UPDATE delegated_tokens SET token_encrypted = ? WHERE user_id = ?", updates
            )
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (_KEY_CHECK, check),
            )
        self._box = new_box
        self._token_rows.clear()
        await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("storage %s: re-encrypted %d token(s) with a new key", self._path, len(updates))
        return len(updates)

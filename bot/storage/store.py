"""The bot's storage: delegated tokens, and the shared database every feature store writes to.

The database is SQLite (one process) or PostgreSQL (replicas), behind bot.storage.backends's interface; the
schema and its migrations are in bot.storage.schema and run when the store opens. Tokens are
encrypted at rest with the configured secret key.

A `meta` row holds a value encrypted with the key that wrote the data, so a different key is
noticed at open (ConfigError with what to do) instead of failing on the first token read.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TypeVar

from pydantic import SecretStr

from bot.core import metrics
from bot.core.credentials import Credentials
from bot.core.crypto import DecryptionError, KeyFormatError, SecretBox
from bot.core.errors import ConfigError, DatabaseBusy
from bot.core.setting_names import describe_key
from bot.storage.backends import Connection, Database, is_postgres_url, open_database, redact_url
from bot.storage.group_commit import GroupCommit, Work
from bot.storage.schema import SCHEMA_VERSION, SchemaTooNew, migrate
from bot.storage.sqlite import unusable

__all__ = ["SCHEMA_VERSION", "DelegatedToken", "Store"]

log = logging.getLogger(__name__)
T = TypeVar("T")

Clock = Callable[[], datetime]

_KEY_CHECK: Final = "key-check"
_KEY_CHECK_TEXT: Final = "rcbot secret key check"


async def _key_state(db: Connection, box: SecretBox) -> tuple[bool | None, int]:
    """(does the key match, how many tokens are stored); None when no key is recorded yet."""
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (_KEY_CHECK,))
    count_row = await db.fetchone("SELECT COUNT(*) FROM delegated_tokens")
    stored = int(count_row[0]) if count_row else 0
    if row is None:
        return None, stored
    try:
        box.decrypt(bytes(row[0]), context=_KEY_CHECK)
    except DecryptionError:
        return False, stored
    return True, stored


async def _reseal_calendar_addresses(db: Connection, old: SecretBox, new: SecretBox) -> None:
    """Re-encrypt the calendar addresses with the new key; one the old key cannot read is
    dropped (its owner sets it again), since nobody could use it anyway."""
    rows = await db.fetchall("SELECT user_id, url_encrypted FROM calendar_feeds")
    for user_id, sealed in rows:
        context = calendar_context(str(user_id))
        try:
            address = old.decrypt(bytes(sealed), context=context)
        except DecryptionError:
            await db.execute("DELETE FROM calendar_feeds WHERE user_id = ?", (user_id,))
            continue
        await db.execute(
            "UPDATE calendar_feeds SET url_encrypted = ? WHERE user_id = ?",
            (new.encrypt(address, context=context), user_id),
        )


def calendar_context(user_id: str) -> str:
    """What a calendar address is bound to when encrypted (never usable as a token's)."""
    return f"calendar:{user_id}"


def _wrong_key_message(stored: int, path: str) -> str:
    return (
        f"{describe_key('secret_key')}: is not the key that encrypted the {stored} token(s) "
        f"stored in {path}; set the original key again, or move that file away to start "
        "afresh (people will then have to send /token set again)"
    )


@dataclass(frozen=True, slots=True)
class DelegatedToken:
    """A user's personal access token as the bot keeps it; `credentials` hides the token in repr."""

    user_id: str
    username: str
    credentials: Credentials
    valid: bool
    stored_at: datetime
    readable: bool = True  # False: stored, but the configured key cannot decrypt it


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _secret_box(secret_key: str | SecretStr | None) -> SecretBox:
    raw_key = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
    if raw_key is None or not str(raw_key).strip():
        raise ConfigError(
            f"{describe_key('secret_key')}: is required to encrypt stored tokens; "
            "make one with: export RCBOT_SECRET_KEY=$(rcbot keygen)"
        )
    try:
        return SecretBox(raw_key)
    except KeyFormatError as exc:
        raise ConfigError(f"{describe_key('secret_key')}: {exc}") from None


class Store:
    """Encrypted delegated tokens, and the database the feature stores share.

    Open with `await Store.open(location, secret_key=...)`: an SQLite path or a PostgreSQL URL.
    """

    def __init__(self, database: Database, box: SecretBox, clock: Clock) -> None:
        self.database = database
        self._box = box
        self._clock = clock
        self._tokens: dict[str, DelegatedToken] = {}
        self._group = GroupCommit(database)

    def __repr__(self) -> str:
        return f"Store({self.database.location!r})"

    @property
    def shared(self) -> bool:
        """True when other replicas may use the same database (PostgreSQL)."""
        return self.database.shared

    @classmethod
    async def open(
        cls, location: str | Path, *, secret_key: str | SecretStr, clock: Clock = _utc_now
    ) -> Self:
        """Open (creating if needed) the database and bring its schema up to date;
        ConfigError for a database that cannot be used or a missing, bad or wrong key."""
        box = _secret_box(secret_key)
        database = await open_database(str(location))
        store = cls(database, box, clock)
        try:
            await store._prepare()
        except BaseException:
            await database.close()
            raise
        return store

    async def close(self) -> None:
        """Close the database."""
        await self.database.close()

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
        where = self.database.location
        try:
            await migrate(self.database)
        except SchemaTooNew as exc:
            raise ConfigError(
                f"{describe_key('db')}: {where} was written by a newer rcbot ({exc}); "
                "upgrade rcbot"
            ) from None
        except (sqlite3.DatabaseError, DatabaseBusy) as exc:
            raise unusable(where, exc) from None
        try:
            await self._check_key()
        except (sqlite3.DatabaseError, DatabaseBusy) as exc:
            raise unusable(where, exc) from None

    async def _check_key(self) -> None:
        """Make sure the key is the one that encrypted what is stored (or adopt it if empty)."""
        where = self.database.location
        async with self.transaction() as db:
            matches, stored = await _key_state(db, self._box)
            if matches:
                return
            if matches is False:
                if stored:
                    raise ConfigError(_wrong_key_message(stored, where))
                log.warning("storage %s: no tokens stored; adopting the new key", where)
            check = self._box.encrypt(_KEY_CHECK_TEXT, context=_KEY_CHECK)
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (_KEY_CHECK, check),
            )

    @classmethod
    async def verify_key(cls, location: str | Path, *, secret_key: str | SecretStr) -> None:
        """Without changing anything, raise ConfigError if `secret_key` cannot read the tokens
        already stored at `location` (for `rcbot check`); a missing file or table is fine."""
        box = _secret_box(secret_key)
        where = str(location)
        if is_postgres_url(where):
            database: Database = await open_database(where)
        else:
            if not Path(where).is_file():
                return
            from bot.storage.sqlite import SqliteDatabase

            database = await SqliteDatabase.connect(where, read_only=True)
        try:
            async with database.reading() as db:
                if not await database.table_exists(db, "meta"):
                    return
                matches, stored = await _key_state(db, box)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{describe_key('db')}: {where} is not a usable SQLite database ({exc})"
            ) from None
        finally:
            await database.close()
        if matches is False and stored:
            raise ConfigError(_wrong_key_message(stored, database.location))

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction, rolled back if the block raises.

        Feature stores (conversations, automation, the ledger) run their statements in here
        too, so each change is one transaction in the same database.
        """
        return self.database.transaction()

    async def write_together(self, work: Work[T], *, give_up_after: float | None = None) -> T:
        """Run `work(connection)` in a write transaction shared with the other writes queued
        meanwhile (bot.storage.group_commit); returns once it is committed. `work` may run twice.
        `give_up_after`: DatabaseBusy (and the write dropped) when another process keeps the
        database locked that long; without it the write waits for as long as that takes."""
        return await self._group.write(work, give_up_after=give_up_after)

    def reading(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads (serialised with the writes on SQLite)."""
        return self.database.reading()

    # -- other secrets (calendar addresses) ---------------------------------------------------

    def seal(self, secret: str, *, context: str) -> bytes:
        """`secret` encrypted with the configured key, bound to `context` (e.g. the owner)."""
        return self._box.encrypt(secret, context=context)

    def unseal(self, sealed: bytes, *, context: str) -> str | None:
        """What `seal` encrypted, or None when the configured key cannot read it."""
        try:
            return self._box.decrypt(bytes(sealed), context=context)
        except DecryptionError:
            return None

    # -- delegated tokens -------------------------------------------------------------------

    async def put_token(self, *, user_id: str, username: str, token: str) -> None:
        """Store (or replace) a user's token, encrypted, and mark it valid."""
        encrypted = self._box.encrypt(token, context=user_id)
        moment = self._clock().astimezone(UTC)
        stored_at = moment.isoformat()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO delegated_tokens (user_id, username, token_encrypted, valid, stored_at)"
                " VALUES (?, ?, ?, 1, ?) ON CONFLICT(user_id) DO UPDATE SET"
                " username = excluded.username, token_encrypted = excluded.token_encrypted,"
                " valid = 1, stored_at = excluded.stored_at",
                (user_id, username, encrypted, stored_at),
            )
        credentials = Credentials(user_id=user_id, token=token)
        self._remember(DelegatedToken(user_id, username, credentials, True, moment))
        log.info("stored a delegated token for %s (%s)", username, user_id)

    def _remember(self, token: DelegatedToken) -> None:
        # Another replica may replace or forget the token at any time: only a store that has
        # the database to itself may trust its memory.
        if not self.shared:
            self._tokens[token.user_id] = token

    async def get_token(self, user_id: str) -> DelegatedToken | None:
        """The user's token, or None if none is stored (or it cannot be decrypted).

        Encrypted at rest; after the first read the decrypted token stays in this process's
        memory, as it would for the request anyway: every command needs its sender's token, and
        reading and decrypting it each time was a tenth of the bot's work (bench/RESULTS.md).
        Only on SQLite: with replicas, another process may change the row, so each read goes
        to the database.
        """
        cached = self._tokens.get(user_id)
        if cached is not None:
            return cached
        async with self.reading() as db:
            row = await db.fetchone(
                "SELECT username, token_encrypted, valid, stored_at FROM delegated_tokens"
                " WHERE user_id = ?",
                (user_id,),
            )
        if row is None:
            return None
        stored_at = datetime.fromisoformat(str(row[3]))
        try:
            token = self._box.decrypt(bytes(row[1]), context=user_id)
        except DecryptionError as exc:
            # Not a silent "no token": the admin sees it, the person is told to send it again.
            metrics.TOKENS_UNREADABLE.inc()
            log.error(
                "the stored token of %s cannot be decrypted with the configured key (%s); "
                "they will be asked to send it again",
                user_id,
                exc,
            )
            return DelegatedToken(
                user_id=user_id,
                username=str(row[0]),
                credentials=Credentials(user_id=user_id, token=""),
                valid=False,
                stored_at=stored_at,
                readable=False,
            )
        delegated = DelegatedToken(
            user_id=user_id,
            username=str(row[0]),
            credentials=Credentials(user_id=user_id, token=token),
            valid=bool(row[2]),
            stored_at=stored_at,
        )
        self._remember(delegated)
        return delegated

    async def mark_token_invalid(self, user_id: str) -> None:
        """Remember that the server rejected this user's token (401)."""
        async with self.transaction() as db:
            await db.execute("UPDATE delegated_tokens SET valid = 0 WHERE user_id = ?", (user_id,))
        if user_id in self._tokens:
            self._tokens[user_id] = replace(self._tokens[user_id], valid=False)
        log.info("marked the delegated token of %s invalid", user_id)

    async def forget_token(self, user_id: str) -> bool:
        """Delete the user's token; True if there was one."""
        async with self.transaction() as db:
            deleted = await db.execute(
                "DELETE FROM delegated_tokens WHERE user_id = ?", (user_id,)
            )
        self._tokens.pop(user_id, None)
        if deleted:
            log.info("forgot the delegated token of %s", user_id)
        return deleted > 0

    async def rotate_key(self, new_key: str | SecretStr, *, lease: float = 15.0) -> int:
        """Re-encrypt every stored token, and the key check, with `new_key` in one transaction;
        from then on this store uses the new key. Returns how many tokens were re-encrypted.

        ConfigError, changing nothing, when the new key is malformed or the same as the current
        one, or when a stored token cannot be read with the current key. Old ciphertexts are
        overwritten (SQLite: secure_delete, then a WAL checkpoint; PostgreSQL: VACUUM), so a
        leaked old key opens nothing afterwards. A running bot (any replica) still holds the
        old key, so while one uses the database this refuses (ConfigError naming it).
        """
        others = await self.database.others_using(lease=lease)
        if others:
            raise ConfigError(
                f"{describe_key('db')}: {redact_url(self.database.location)} is in use by "
                f"{', '.join(others)}; a running bot keeps the old key and would stop reading "
                "the tokens. Stop every bot on it first, then run rotate-key again"
            )
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
        await self.database.secure_delete()
        async with self.transaction() as db:
            rows = await db.fetchall(
                "SELECT user_id, token_encrypted FROM delegated_tokens ORDER BY user_id"
            )
            updates: list[tuple[bytes, str]] = []
            unreadable: list[str] = []
            for user_id, encrypted in rows:
                try:
                    token = self._box.decrypt(bytes(encrypted), context=user_id)
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
            await _reseal_calendar_addresses(db, self._box, new_box)
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (_KEY_CHECK, check),
            )
        self._box = new_box
        self._tokens.clear()
        await self.database.wipe_free_space()
        log.info(
            "storage %s: re-encrypted %d token(s) with a new key",
            self.database.location,
            len(updates),
        )
        return len(updates)

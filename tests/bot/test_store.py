"""The token store on both backends: encrypted at rest, survives restarts, refuses a wrong key
clearly, migrates once. Tests that take `store_location` run on SQLite and on PostgreSQL; the
rest are about one backend (file bytes and permissions, or URLs, replicas and caching)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

from bot.core.errors import ConfigError
from bot.storage.backends import is_postgres_url, open_database
from bot.storage.store import SCHEMA_VERSION, Store

TOKEN = "tK3n_0f-Al1ce-abcdefghijklmnopqrstuvwxyz01234"[:43]
OTHER_TOKEN = "Bob-token-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"[:43]
WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
PASSWORD = "SeCrEt"


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """An SQLite file, for the tests about SQLite alone."""
    return tmp_path / "rcbot.db"


def files_of(db_path: Path) -> bytes:
    """Every byte SQLite keeps for this database (main file, WAL and shared memory)."""
    parts = [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


async def query(store: Store, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query through the store's own connection (any backend)."""
    async with store.reading() as db:
        return [tuple(row) for row in await db.fetchall(sql, params)]


async def ciphertexts(store: Store) -> dict[str, bytes]:
    """user id → the stored (encrypted) token."""
    rows = await query(store, "SELECT user_id, token_encrypted FROM delegated_tokens")
    return {str(user): bytes(blob) for user, blob in rows}


async def copy_ciphertext(store: Store, *, source: str, target: str) -> None:
    """Put `source`'s encrypted token on `target`'s row, behind the store's back."""
    async with store.transaction() as db:
        await db.execute(
            "UPDATE delegated_tokens SET token_encrypted = (SELECT token_encrypted FROM "
            "delegated_tokens WHERE user_id = ?) WHERE user_id = ?",
            (source, target),
        )


# -- the contract: both backends ------------------------------------------------------------


async def test_a_token_round_trips(store_location: str, key: str) -> None:
    async with await Store.open(store_location, secret_key=key, clock=lambda: WHEN) as store:
        assert await store.get_token("alice-id") is None
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        found = await store.get_token("alice-id")

    assert found is not None
    assert found.user_id == "alice-id"
    assert found.username == "alice"
    assert found.credentials.user_id == "alice-id"
    assert found.credentials.token == TOKEN
    assert found.valid is True
    assert found.stored_at == WHEN
    assert TOKEN not in repr(found)


async def test_shared_says_whether_replicas_may_use_the_database(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        assert store.shared is is_postgres_url(store_location)
        assert store.database.dialect == ("postgresql" if store.shared else "sqlite")


async def test_the_stored_token_is_encrypted(store_location: str, key: str) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        stored = await ciphertexts(store)
        meta = await query(store, "SELECT key, value FROM meta")

    assert list(stored) == ["alice-id"]
    assert TOKEN.encode() not in stored["alice-id"]
    assert key.encode() not in stored["alice-id"]
    assert [name for name, _ in meta] == ["key-check"]
    assert key.encode() not in bytes(meta[0][1])


async def test_tokens_survive_a_restart(store_location: str, key: str) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.put_token(user_id="bob-id", username="bob", token=OTHER_TOKEN)
        await store.mark_token_invalid("bob-id")

    async with await Store.open(store_location, secret_key=key) as store:
        alice = await store.get_token("alice-id")
        bob = await store.get_token("bob-id")

    assert alice is not None and alice.credentials.token == TOKEN and alice.valid
    assert bob is not None and bob.credentials.token == OTHER_TOKEN and not bob.valid


async def test_putting_again_replaces_the_token_and_makes_it_valid(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.mark_token_invalid("alice-id")
        invalid = await store.get_token("alice-id")
        await store.put_token(user_id="alice-id", username="alice2", token=OTHER_TOKEN)
        found = await store.get_token("alice-id")

    assert invalid is not None and invalid.valid is False
    assert found is not None
    assert (found.username, found.credentials.token, found.valid) == (
        "alice2",
        OTHER_TOKEN,
        True,
    )


async def test_marking_an_unknown_user_invalid_changes_nothing(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.mark_token_invalid("nobody")
        assert await store.get_token("nobody") is None
        assert await ciphertexts(store) == {}


async def test_forget_deletes_and_says_whether_there_was_one(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        assert await store.forget_token("alice-id") is True
        assert await store.forget_token("alice-id") is False
        assert await store.get_token("alice-id") is None
    async with await Store.open(store_location, secret_key=key) as store:
        assert await store.get_token("alice-id") is None


async def test_a_wrong_key_for_stored_tokens_is_reported_clearly(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
    wrong = Fernet.generate_key().decode()

    with pytest.raises(ConfigError) as caught:
        await Store.open(store_location, secret_key=wrong)

    message = str(caught.value)
    assert "secret_key (RCBOT_SECRET_KEY)" in message
    assert "not the key that encrypted the 1 token(s)" in message
    assert "original key" in message
    assert key not in message and wrong not in message
    # Nothing was damaged: the right key still reads the token.
    async with await Store.open(store_location, secret_key=key) as store:
        found = await store.get_token("alice-id")
    assert found is not None and found.credentials.token == TOKEN


async def test_a_new_key_is_adopted_when_no_token_is_stored(store_location: str, key: str) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.forget_token("alice-id")
    new_key = Fernet.generate_key().decode()

    async with await Store.open(store_location, secret_key=new_key) as store:
        await store.put_token(user_id="bob-id", username="bob", token=OTHER_TOKEN)
    with pytest.raises(ConfigError, match="not the key that encrypted the 1 token"):
        await Store.open(store_location, secret_key=key)
    async with await Store.open(store_location, secret_key=new_key) as store:
        bob = await store.get_token("bob-id")
    assert bob is not None and bob.credentials.token == OTHER_TOKEN


@pytest.mark.parametrize("bad", ["", "   ", "short", "x" * 44])
async def test_a_missing_or_malformed_key_says_how_to_make_one(
    store_location: str, bad: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        await Store.open(store_location, secret_key=bad)
    message = str(caught.value)
    assert "secret_key (RCBOT_SECRET_KEY)" in message
    assert "rcbot keygen" in message
    # Nothing is created before the key is known to be usable.
    if not is_postgres_url(store_location):
        assert not Path(store_location).exists()
        return
    database = await open_database(store_location)
    try:
        async with database.reading() as db:
            assert not await database.table_exists(db, "schema_version")
            assert not await database.table_exists(db, "meta")
    finally:
        await database.close()


async def test_a_token_copied_onto_another_user_does_not_decrypt(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.put_token(user_id="mallory-id", username="mallory", token=OTHER_TOKEN)
        await copy_ciphertext(store, source="alice-id", target="mallory-id")

    async with await Store.open(store_location, secret_key=key) as store:
        mallory = await store.get_token("mallory-id")
        assert mallory is not None and not mallory.readable
        assert mallory.credentials.token == ""  # never alice's token
        alice = await store.get_token("alice-id")
    assert alice is not None and alice.credentials.token == TOKEN


async def test_each_migration_is_recorded_once(store_location: str, key: str) -> None:
    async with await Store.open(store_location, secret_key=key):
        pass
    async with await Store.open(store_location, secret_key=key) as store:  # reopening: none
        versions = await query(store, "SELECT version FROM schema_version ORDER BY version")
    assert [row[0] for row in versions] == list(range(1, SCHEMA_VERSION + 1))


async def test_a_schema_newer_than_this_rcbot_says_to_upgrade(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,)
            )

    with pytest.raises(ConfigError) as caught:
        await Store.open(store_location, secret_key=key)
    message = str(caught.value)
    assert message.startswith("db (RCBOT_DB): ")
    assert f"schema {SCHEMA_VERSION + 1}, this rcbot knows {SCHEMA_VERSION}" in message
    assert "upgrade rcbot" in message


async def test_concurrent_changes_are_each_their_own_transaction(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await asyncio.gather(
            *(
                store.put_token(
                    user_id=f"user-{n}", username=f"u{n}", token=f"{TOKEN[:-2]}{n:02d}"
                )
                for n in range(20)
            ),
        )
        await asyncio.gather(*(store.mark_token_invalid(f"user-{n}") for n in range(0, 20, 2)))
        found = [await store.get_token(f"user-{n}") for n in range(20)]
    assert all(item is not None for item in found)
    assert [item.credentials.token[-2:] for item in found if item] == [
        f"{n:02d}" for n in range(20)
    ]
    assert [item.valid for item in found if item] == [n % 2 == 1 for n in range(20)]


async def test_tokens_never_reach_the_log(
    store_location: str, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.get_token("alice-id")
        await store.mark_token_invalid("alice-id")
        await store.forget_token("alice-id")
    assert "alice-id" in caplog.text
    assert TOKEN not in caplog.text
    assert key not in caplog.text


async def test_verify_key_checks_without_changing_anything(store_location: str, key: str) -> None:
    await Store.verify_key(store_location, secret_key=key)  # nothing stored: nothing to check
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        before = await ciphertexts(store), await query(store, "SELECT key, value FROM meta")
    wrong = Fernet.generate_key().decode()

    await Store.verify_key(store_location, secret_key=key)
    with pytest.raises(ConfigError, match="not the key that encrypted the 1 token") as caught:
        await Store.verify_key(store_location, secret_key=wrong)
    assert wrong not in str(caught.value) and key not in str(caught.value)

    async with await Store.open(store_location, secret_key=key) as store:
        after = await ciphertexts(store), await query(store, "SELECT key, value FROM meta")
    assert after == before


async def test_verify_key_accepts_any_key_while_no_token_is_stored(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key):
        pass
    await Store.verify_key(store_location, secret_key=Fernet.generate_key().decode())


async def test_rotate_key_re_encrypts_every_token(store_location: str, key: str) -> None:
    new_key = Fernet.generate_key().decode()
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.put_token(user_id="bob-id", username="bob", token=OTHER_TOKEN)
        await store.get_token("alice-id")  # cached on SQLite: must not outlive the old key
        before = await ciphertexts(store)

        assert await store.rotate_key(new_key) == 2

        after = await ciphertexts(store)
        alice = await store.get_token("alice-id")
        await store.put_token(user_id="carol-id", username="carol", token=TOKEN)
    assert after.keys() == before.keys()
    assert not set(after.values()) & set(before.values())
    assert alice is not None and alice.credentials.token == TOKEN

    with pytest.raises(ConfigError, match="not the key that encrypted the 3 token"):
        await Store.open(store_location, secret_key=key)
    async with await Store.open(store_location, secret_key=new_key) as store:
        tokens = [await store.get_token(user) for user in ("alice-id", "bob-id", "carol-id")]
    assert [found.credentials.token if found else None for found in tokens] == [
        TOKEN,
        OTHER_TOKEN,
        TOKEN,
    ]


async def test_rotate_key_refuses_a_bad_or_same_key_and_changes_nothing(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        before = await ciphertexts(store)
        with pytest.raises(ConfigError, match="same as the current one"):
            await store.rotate_key(key)
        with pytest.raises(ConfigError, match="the new key"):
            await store.rotate_key("not-a-key")
        assert await ciphertexts(store) == before
        found = await store.get_token("alice-id")
    assert found is not None and found.credentials.token == TOKEN


async def test_rotate_key_stops_at_an_unreadable_token_before_any_change(
    store_location: str, key: str
) -> None:
    async with await Store.open(store_location, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.put_token(user_id="bob-id", username="bob", token=OTHER_TOKEN)
        await copy_ciphertext(store, source="bob-id", target="alice-id")
        before = await ciphertexts(store)

        with pytest.raises(ConfigError, match=r"users alice-id\)"):
            await store.rotate_key(Fernet.generate_key().decode())
        assert await ciphertexts(store) == before
    async with await Store.open(store_location, secret_key=key) as store:  # old key still good
        bob = await store.get_token("bob-id")
    assert bob is not None and bob.credentials.token == OTHER_TOKEN


# -- SQLite only: the file ------------------------------------------------------------------


async def test_the_token_is_encrypted_in_the_sqlite_files(db_path: Path, key: str) -> None:
    store = await Store.open(db_path, secret_key=key)
    await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
    while_open = files_of(db_path)
    await store.close()

    assert b"alice-id" in files_of(db_path)  # the row is there…
    for raw in (while_open, files_of(db_path)):
        assert TOKEN.encode() not in raw  # …but not the token
        assert key.encode() not in raw


async def test_the_sqlite_journal_is_wal(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key):
        pass
    with sqlite3.connect(db_path) as raw:
        journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
    raw.close()
    assert journal == "wal"


async def test_the_database_file_is_private_to_its_owner(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key):
        pass
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


async def test_a_database_in_a_missing_folder_names_the_db_key(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=r"db \(RCBOT_DB\): the folder .* does not exist"):
        await Store.open(tmp_path / "missing" / "rcbot.db", secret_key=key)


async def test_a_file_that_is_not_sqlite_names_the_db_key(tmp_path: Path, key: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(ConfigError, match=r"db \(RCBOT_DB\): .* is not a usable SQLite"):
        await Store.open(path, secret_key=key)
    with pytest.raises(ConfigError, match=r"db \(RCBOT_DB\): .* is not a usable SQLite"):
        await Store.verify_key(path, secret_key=key)


async def test_verify_key_creates_no_file_and_changes_no_byte(db_path: Path, key: str) -> None:
    await Store.verify_key(db_path, secret_key=key)  # no file yet: nothing to check
    assert not db_path.exists()
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
    before = db_path.read_bytes()

    await Store.verify_key(db_path, secret_key=key)
    with pytest.raises(ConfigError, match="not the key that encrypted the 1 token"):
        await Store.verify_key(db_path, secret_key=Fernet.generate_key().decode())
    assert db_path.read_bytes() == before
    wal = Path(f"{db_path}-wal")  # a read-only reader of a WAL database may create it empty
    assert not wal.exists() or wal.stat().st_size == 0


async def test_rotate_key_leaves_no_old_ciphertext_in_the_sqlite_files(
    db_path: Path, key: str
) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.put_token(user_id="bob-id", username="bob", token=OTHER_TOKEN)
        before = await ciphertexts(store)
        assert await store.rotate_key(Fernet.generate_key().decode()) == 2
        while_open = files_of(db_path)
    for raw in (while_open, files_of(db_path)):
        assert not any(blob in raw for blob in before.values())


async def test_sqlite_keeps_tokens_in_memory_once_read(db_path: Path, key: str) -> None:
    """One process owns an SQLite file, so a token read once is not read again: a change made
    through another connection goes unseen until the store reopens."""
    async with await Store.open(db_path, secret_key=key) as first:
        await first.put_token(user_id="alice-id", username="alice", token=TOKEN)
        async with await Store.open(db_path, secret_key=key) as second:
            assert await second.forget_token("alice-id") is True
        cached = await first.get_token("alice-id")
    assert cached is not None and cached.credentials.token == TOKEN
    async with await Store.open(db_path, secret_key=key) as reopened:
        assert await reopened.get_token("alice-id") is None


# -- PostgreSQL only: URLs and replicas ------------------------------------------------------


def with_password(url: str, *, database: str) -> str:
    """`url`'s server, logged in with PASSWORD (the test server trusts everyone)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(
        netloc=f"{parts.username}:{PASSWORD}@{host}", path=f"/{database}"
    ).geturl()


def assert_reported_without_password(caught: pytest.ExceptionInfo[ConfigError]) -> None:
    message = str(caught.value)
    assert message.startswith("db (RCBOT_DB): ")
    assert PASSWORD not in message
    assert "***" in message


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"postgresql://u:{PASSWORD}@127.0.0.1:1/x", id="refused"),
        pytest.param(f"postgres://u:{PASSWORD}@127.0.0.1:1/x", id="postgres-scheme"),
        pytest.param(f"postgresql://u:{PASSWORD}@127.0.0.1:notaport/x", id="bad-port"),
        pytest.param(f"postgresql://u:{PASSWORD}@nohost.invalid:5432/x", id="unknown-host"),
    ],
)
async def test_an_unusable_url_is_a_config_error_without_the_password(url: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await Store.open(url, secret_key=key)
    assert_reported_without_password(caught)
    with pytest.raises(ConfigError) as caught:
        await Store.verify_key(url, secret_key=key)  # what `rcbot check` runs
    assert_reported_without_password(caught)


async def test_a_missing_database_is_a_config_error_without_the_password(
    postgres_url: str, key: str
) -> None:
    url = with_password(postgres_url, database="no_such_database")
    with pytest.raises(ConfigError) as caught:
        await Store.open(url, secret_key=key)
    assert_reported_without_password(caught)
    assert "does not exist" in str(caught.value)


async def test_a_port_out_of_range_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await Store.open(f"postgresql://u:{PASSWORD}@127.0.0.1:99999/x", secret_key=key)
    assert_reported_without_password(caught)


async def test_a_malformed_host_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await Store.open(f"postgresql://u:{PASSWORD}@[::1/x", secret_key=key)
    assert PASSWORD not in str(caught.value)


async def test_a_password_in_the_query_never_reaches_the_message(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await Store.open(f"postgresql://u@127.0.0.1:1/x?password={PASSWORD}", secret_key=key)
    assert PASSWORD not in str(caught.value)


async def test_stores_opening_together_run_each_migration_once(
    postgres_url: str, key: str
) -> None:
    stores = await asyncio.gather(*(Store.open(postgres_url, secret_key=key) for _ in range(4)))
    try:
        versions = await query(stores[0], "SELECT version FROM schema_version ORDER BY version")
        await stores[1].put_token(user_id="alice-id", username="alice", token=TOKEN)
        found = await stores[3].get_token("alice-id")
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert [row[0] for row in versions] == list(range(1, SCHEMA_VERSION + 1))
    assert found is not None and found.credentials.token == TOKEN


async def test_shared_stores_see_each_others_token_changes(postgres_url: str, key: str) -> None:
    """With replicas, any of them may change a token: no store answers from memory."""
    async with (
        await Store.open(postgres_url, secret_key=key) as first,
        await Store.open(postgres_url, secret_key=key) as second,
    ):
        assert first.shared and second.shared
        await first.put_token(user_id="alice-id", username="alice", token=TOKEN)
        seen = await first.get_token("alice-id")
        assert seen is not None and seen.credentials.token == TOKEN
        assert await second.get_token("alice-id") == seen

        await second.put_token(user_id="alice-id", username="alice2", token=OTHER_TOKEN)
        replaced = await first.get_token("alice-id")
        assert replaced is not None
        assert (replaced.username, replaced.credentials.token) == ("alice2", OTHER_TOKEN)

        await second.mark_token_invalid("alice-id")
        invalid = await first.get_token("alice-id")
        assert invalid is not None and invalid.valid is False

        assert await second.forget_token("alice-id") is True
        assert await first.get_token("alice-id") is None
        assert await first.forget_token("alice-id") is False

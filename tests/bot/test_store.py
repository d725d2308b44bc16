"""The token store: encrypted at rest, survives restarts, and refuses a wrong key clearly."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError
from bot.store import SCHEMA_VERSION, Store

TOKEN = "tK3n_0f-Al1ce-abcdefghijklmnopqrstuvwxyz01234"[:43]
OTHER_TOKEN = "Bob-token-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"[:43]
WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "rcbot.db"


def files_of(db_path: Path) -> bytes:
    """Every byte SQLite keeps for this database (main file, WAL and shared memory)."""
    parts = [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


async def test_a_token_round_trips(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key, clock=lambda: WHEN) as store:
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


async def test_the_token_is_encrypted_at_rest(db_path: Path, key: str) -> None:
    store = await Store.open(db_path, secret_key=key)
    await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
    while_open = files_of(db_path)
    await store.close()

    assert b"alice-id" in files_of(db_path)  # the row is there…
    for raw in (while_open, files_of(db_path)):
        assert TOKEN.encode() not in raw  # …but not the token
        assert key.encode() not in raw


async def test_tokens_survive_a_restart(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.put_token(user_id="bob-id", username="bob", token=OTHER_TOKEN)
        await store.mark_token_invalid("bob-id")

    async with await Store.open(db_path, secret_key=key) as store:
        alice = await store.get_token("alice-id")
        bob = await store.get_token("bob-id")

    assert alice is not None and alice.credentials.token == TOKEN and alice.valid
    assert bob is not None and bob.credentials.token == OTHER_TOKEN and not bob.valid


async def test_putting_again_replaces_the_token_and_makes_it_valid(
    db_path: Path, key: str
) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.mark_token_invalid("alice-id")
        await store.put_token(user_id="alice-id", username="alice2", token=OTHER_TOKEN)
        found = await store.get_token("alice-id")

    assert found is not None
    assert (found.username, found.credentials.token, found.valid) == (
        "alice2",
        OTHER_TOKEN,
        True,
    )


async def test_forget_deletes_and_says_whether_there_was_one(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        assert await store.forget_token("alice-id") is True
        assert await store.forget_token("alice-id") is False
        assert await store.get_token("alice-id") is None


async def test_a_wrong_key_for_stored_tokens_is_reported_clearly(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
    wrong = Fernet.generate_key().decode()

    with pytest.raises(ConfigError) as caught:
        await Store.open(db_path, secret_key=wrong)

    message = str(caught.value)
    assert "secret_key (RCBOT_SECRET_KEY)" in message
    assert "not the key that encrypted the 1 token(s)" in message
    assert "original key" in message
    assert key not in message and wrong not in message
    # Nothing was damaged: the right key still reads the token.
    async with await Store.open(db_path, secret_key=key) as store:
        found = await store.get_token("alice-id")
    assert found is not None and found.credentials.token == TOKEN


async def test_a_new_key_is_adopted_when_no_token_is_stored(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.forget_token("alice-id")
    new_key = Fernet.generate_key().decode()

    async with await Store.open(db_path, secret_key=new_key) as store:
        await store.put_token(user_id="bob-id", username="bob", token=OTHER_TOKEN)
    with pytest.raises(ConfigError):
        await Store.open(db_path, secret_key=key)


@pytest.mark.parametrize("bad", ["", "   ", "short", "x" * 44])
async def test_a_missing_or_malformed_key_says_how_to_make_one(db_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await Store.open(db_path, secret_key=bad)
    message = str(caught.value)
    assert "secret_key (RCBOT_SECRET_KEY)" in message
    assert "rcbot keygen" in message
    assert not db_path.exists()  # nothing is created before the key is known to be usable


async def test_a_token_copied_onto_another_user_does_not_decrypt(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.put_token(user_id="mallory-id", username="mallory", token=OTHER_TOKEN)
    with sqlite3.connect(db_path) as raw:
        raw.execute(
            "UPDATE delegated_tokens SET token_encrypted = (SELECT token_encrypted FROM "
            "delegated_tokens WHERE user_id = 'alice-id') WHERE user_id = 'mallory-id'"
        )
    raw.close()

    async with await Store.open(db_path, secret_key=key) as store:
        assert await store.get_token("mallory-id") is None
        alice = await store.get_token("alice-id")
    assert alice is not None and alice.credentials.token == TOKEN


async def test_the_schema_is_versioned_and_the_journal_is_wal(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key):
        pass
    async with await Store.open(db_path, secret_key=key):  # reopening runs no migration twice
        pass

    with sqlite3.connect(db_path) as raw:
        versions = [row[0] for row in raw.execute("SELECT version FROM schema_version")]
        journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
    raw.close()
    assert versions == list(range(1, SCHEMA_VERSION + 1))
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


async def test_concurrent_changes_are_each_their_own_transaction(db_path: Path, key: str) -> None:
    async with await Store.open(db_path, secret_key=key) as store:
        await asyncio.gather(
            *(
                store.put_token(
                    user_id=f"user-{n}", username=f"u{n}", token=f"{TOKEN[:-2]}{n:02d}"
                )
                for n in range(20)
            ),
            *(store.mark_token_invalid(f"user-{n}") for n in range(0, 20, 2)),
        )
        found = [await store.get_token(f"user-{n}") for n in range(20)]
    assert all(item is not None for item in found)
    assert [item.credentials.token[-2:] for item in found if item] == [
        f"{n:02d}" for n in range(20)
    ]


async def test_tokens_never_reach_the_log(
    db_path: Path, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
        await store.get_token("alice-id")
        await store.mark_token_invalid("alice-id")
        await store.forget_token("alice-id")
    assert "alice-id" in caplog.text
    assert TOKEN not in caplog.text
    assert key not in caplog.text


async def test_verify_key_checks_without_changing_anything(db_path: Path, key: str) -> None:
    await Store.verify_key(db_path, secret_key=key)  # no file yet: nothing to check
    assert not db_path.exists()
    async with await Store.open(db_path, secret_key=key) as store:
        await store.put_token(user_id="alice-id", username="alice", token=TOKEN)
    before = db_path.read_bytes()
    wrong = Fernet.generate_key().decode()

    await Store.verify_key(db_path, secret_key=key)
    with pytest.raises(ConfigError, match="not the key that encrypted the 1 token"):
        await Store.verify_key(db_path, secret_key=wrong)
    assert db_path.read_bytes() == before

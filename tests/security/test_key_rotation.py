"""`rcbot rotate-key`: the key that encrypts stored tokens can be changed without losing one.

Every token is re-encrypted in one transaction; the old key then opens nothing (its ciphertexts
are gone from the files); a key that cannot read the tokens is refused and nothing changes;
no key or token is ever printed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from bot.core.crypto import generate_key
from bot.core.errors import ConfigError
from bot.storage.store import Store
from sandbox.people import Person
from tests.e2e.conftest import BOT_PASSWORD, ClockedWorld, ask_bot
from tests.security.conftest import bot_environment, bot_process, security_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with security_world(tmp_path) as running:
        yield running


async def delegated(world: ClockedWorld, *names: str) -> dict[str, tuple[Person, str]]:
    """People who gave the bot a token, with their tokens."""
    people = {}
    for name in names:
        person = await world.person(name)
        token = await person.create_personal_access_token("profile-bot")
        assert "stored" in await ask_bot(person, f"/token set {token}")
        people[name] = (person, token)
    return people


def ciphertexts(db: Path) -> dict[str, bytes]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT user_id, token_encrypted FROM delegated_tokens")
        return {str(user_id): bytes(blob) for user_id, blob in rows}
    finally:
        connection.close()


def files_of(db: Path) -> bytes:
    return b"".join(path.read_bytes() for path in db.parent.glob(db.name + "*"))


def environment(world: ClockedWorld, **extra: str) -> dict[str, str]:
    assert world.bot_settings is not None
    return bot_environment(
        world.url,
        Path(world.bot_settings.db),
        world.bot_settings.secret_key.get_secret_value(),
        **extra,
    )


async def rotate(world: ClockedWorld, cwd: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run `rcbot rotate-key args`; (exit code, everything it printed)."""
    async with bot_process(environment(world, **env), cwd, "rotate-key", *args) as process:
        code = await process.finish()
    return code, process.stdout + process.stderr


async def test_rotate_key_re_encrypts_every_token_and_the_bot_keeps_working(
    world: ClockedWorld, tmp_path: Path
) -> None:
    people = await delegated(world, "alice", "bob")
    assert world.bot_settings is not None
    db = Path(world.bot_settings.db)
    old_key = world.bot_settings.secret_key.get_secret_value()
    before = ciphertexts(db)
    await world.bot_stack.aclose()  # stop the bot first, as the command says
    new_key = generate_key()
    key_file = tmp_path / "new.key"
    key_file.write_text(new_key + "\n")

    code, printed = await rotate(world, tmp_path, "--new-key-file", str(key_file))

    assert code == 0, printed
    assert "Re-encrypted 2 stored token(s)" in printed and "RCBOT_SECRET_KEY" in printed
    secrets = [old_key, new_key, BOT_PASSWORD, *(token for _, token in people.values())]
    assert not any(secret in printed for secret in secrets)
    after = ciphertexts(db)
    assert after.keys() == before.keys()
    raw = files_of(db)
    assert not any(blob in raw for blob in before.values())  # old ciphertexts overwritten
    with pytest.raises(ConfigError, match="is not the key"):
        await Store.open(db, secret_key=old_key)

    world.bot_settings = world.bot_settings.model_copy(update={"secret_key": SecretStr(new_key)})
    await world.start_bot()
    alice, _ = people["alice"]
    bob, _ = people["bob"]
    assert "“Rotated”" in await ask_bot(alice, "/nick Rotated")
    assert "still accepts it" in await ask_bot(bob, "/token status")


async def test_rotate_key_refuses_a_key_that_cannot_read_the_tokens_and_changes_nothing(
    world: ClockedWorld, tmp_path: Path
) -> None:
    people = await delegated(world, "alice")
    assert world.bot_settings is not None
    db = Path(world.bot_settings.db)
    before = ciphertexts(db)
    await world.bot_stack.aclose()
    wrong, new = generate_key(), generate_key()

    code, printed = await rotate(
        world, tmp_path, "--old-key-env", "WRONG_KEY", WRONG_KEY=wrong, RCBOT_NEW_SECRET_KEY=new
    )
    assert code == 2 and "is not the key that encrypted the 1 token(s)" in printed
    code, printed_bad_new = await rotate(world, tmp_path, RCBOT_NEW_SECRET_KEY="not-a-key")
    assert code == 2 and "the new key from $RCBOT_NEW_SECRET_KEY is not a valid key" in (
        printed_bad_new
    )
    code, printed_same = await rotate(
        world,
        tmp_path,
        RCBOT_NEW_SECRET_KEY=world.bot_settings.secret_key.get_secret_value(),
    )
    assert code == 2 and "the same as the current one" in printed_same
    code, printed_unset = await rotate(world, tmp_path)
    assert code == 2 and "RCBOT_NEW_SECRET_KEY is not set" in printed_unset
    for secret in (wrong, new, people["alice"][1]):
        assert secret not in printed + printed_bad_new + printed_same + printed_unset

    assert ciphertexts(db) == before
    await world.start_bot()  # the original key still works
    alice, _ = people["alice"]
    assert "still accepts it" in await ask_bot(alice, "/token status")


async def test_a_token_the_old_key_cannot_read_stops_the_rotation_before_any_change(
    world: ClockedWorld,
) -> None:
    """One transaction: a row that does not decrypt (here: bob's ciphertext copied onto
    alice's row) refuses the whole rotation, and every other token stays as it was."""
    people = await delegated(world, "alice", "bob")
    assert world.bot_settings is not None
    db = Path(world.bot_settings.db)
    old_key = world.bot_settings.secret_key.get_secret_value()
    await world.bot_stack.aclose()
    alice_id, bob_id = people["alice"][0].user_id, people["bob"][0].user_id
    connection = sqlite3.connect(db)
    with connection:
        connection.execute(
            "UPDATE delegated_tokens SET token_encrypted = "
            "(SELECT token_encrypted FROM delegated_tokens WHERE user_id = ?) WHERE user_id = ?",
            (bob_id, alice_id),
        )
    connection.close()
    before = ciphertexts(db)

    store = await Store.open(db, secret_key=old_key)
    try:
        with pytest.raises(ConfigError, match=f"users {alice_id}\\)"):
            await store.rotate_key(generate_key())
        assert ciphertexts(db) == before
        bobs = await store.get_token(bob_id)
        assert bobs is not None and bobs.credentials.token == people["bob"][1]
    finally:
        await store.close()
    await Store.open(db, secret_key=old_key)  # the key check still names the old key


async def test_rotate_key_needs_an_existing_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    environ = bot_environment(
        "http://127.0.0.1:9", missing, generate_key(), RCBOT_NEW_SECRET_KEY=generate_key()
    )
    async with bot_process(environ, tmp_path, "rotate-key") as process:
        assert await process.finish() == 2
    assert "does not exist; nothing to rotate" in process.stderr
    assert not missing.exists()


async def test_rotate_key_refuses_while_a_bot_runs_on_the_database(
    world: ClockedWorld, tmp_path: Path
) -> None:
    """A running bot keeps the old key in memory: rotating under it would leave it unable to
    read any token. The bot holds the file; rotate-key sees that and changes nothing."""
    await delegated(world, "alice")
    assert world.bot_settings is not None
    db = Path(world.bot_settings.db)
    before = ciphertexts(db)
    code, printed = await rotate(world, tmp_path, RCBOT_NEW_SECRET_KEY=generate_key())
    assert code == 2, printed
    assert "in use by another rcbot process" in printed and "Stop every bot" in printed
    assert ciphertexts(db) == before
    await world.bot_stack.aclose()
    code, printed = await rotate(world, tmp_path, RCBOT_NEW_SECRET_KEY=generate_key())
    assert code == 0, printed


async def test_rotate_key_refuses_while_a_replica_runs_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    async with security_world(tmp_path, db=postgres_url) as world:
        await delegated(world, "alice")
        assert world.bot is not None and world.bot.replicas is not None
        replica = world.bot.replicas.id
        code, printed = await rotate(
            world, tmp_path, RCBOT_DB=postgres_url, RCBOT_NEW_SECRET_KEY=generate_key()
        )
        assert code == 2, printed
        assert f"in use by replica {replica}" in printed


async def test_a_stored_token_the_key_cannot_read_is_reported_not_ignored(
    world: ClockedWorld,
) -> None:
    """Not a silent "no token": the admin sees an error (and a metric), the person is told
    their stored token cannot be read and how to give it again."""
    people = await delegated(world, "alice", "bob")
    assert world.bot_settings is not None
    db = Path(world.bot_settings.db)
    await world.bot_stack.aclose()
    alice, _ = people["alice"]
    with sqlite3.connect(db) as connection:
        connection.execute(
            "UPDATE delegated_tokens SET token_encrypted = "
            "(SELECT token_encrypted FROM delegated_tokens WHERE user_id = ?) WHERE user_id = ?",
            (people["bob"][0].user_id, alice.user_id),
        )
    before = REGISTRY.get_sample_value("rcbot_tokens_unreadable_total") or 0.0
    await world.start_bot()
    answer = await ask_bot(alice, "/nick Ali")
    assert "can't read it" in answer and "/token set <token>" in answer
    assert "I need your personal access token" not in answer
    assert "can't read it" in await ask_bot(alice, "/token status")
    assert (REGISTRY.get_sample_value("rcbot_tokens_unreadable_total") or 0.0) > before
    token = await alice.create_personal_access_token("again")
    assert "stored" in await ask_bot(alice, f"/token set {token}")
    assert "“Ali”" in await ask_bot(alice, "/nick Ali")

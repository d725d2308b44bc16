"""Delegated tokens end to end: `/token set|status|forget` against the sandbox over sockets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.conftest import BOT_NAME, World, ask_bot, delegate


async def test_token_is_stored_encrypted_and_its_message_deleted(world: World) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("profile-bot")
    room = await alice.direct_room(BOT_NAME)
    answer = await ask_bot(alice, f"/token set {token}")
    assert "stored" in answer and token not in answer
    history = await alice.rest("GET", "im.history", params={"roomId": room, "count": "100"})
    assert not any(token in str(m.get("msg", "")) for m in history["messages"])
    raw = b"".join(p.read_bytes() for p in Path(world.bot.settings.db).parent.glob("bot.db*"))
    assert token.encode() not in raw
    assert "still accepts it" in await ask_bot(alice, "/token status")


async def test_token_of_another_user_is_refused(world: World) -> None:
    alice = await world.person("alice")
    bob = await world.person("bob")
    alices_token = await alice.create_personal_access_token("profile-bot")
    answer = await ask_bot(bob, f"/token set {alices_token}")
    assert "did not store it" in answer
    assert alices_token not in answer
    answer = await ask_bot(bob, "/nick Bobby")
    assert "/token set" in answer  # still no token for bob
    assert (await bob.profile()).get("nickname", "") == ""


async def test_token_posted_in_a_room_is_refused_deleted_and_user_told_to_rotate(
    world: World,
) -> None:
    alice = await world.person("alice")
    token = await alice.create_personal_access_token("profile-bot")
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    message_id = await alice.say("GENERAL", f"/token set {token}")
    warning = await alice.hear(
        lambda m: m["rid"] == dm and m["u"]["username"] == BOT_NAME, after=mark
    )
    assert "regenerate" in warning["msg"].lower() or "new token" in warning["msg"].lower()
    assert token not in warning["msg"]
    history = await alice.rest(
        "GET", "channels.history", params={"roomId": "GENERAL", "count": "100"}
    )
    assert message_id not in {m["_id"] for m in history["messages"]}
    assert "/token set" in await ask_bot(alice, "/bio not stored")


async def test_command_without_token_explains_how_to_delegate(world: World) -> None:
    alice = await world.person("alice")
    answer = await ask_bot(alice, "/status away")
    assert "Personal Access Tokens" in answer and "/token set" in answer


async def test_forgotten_token_is_gone(world: World) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    assert "I deleted your token" in await ask_bot(alice, "/token forget")
    assert "/token set" in await ask_bot(alice, "/nick Ali")
    db = sqlite3.connect(world.bot.settings.db)
    try:
        rows = db.execute("SELECT COUNT(*) FROM delegated_tokens").fetchone()[0]
    finally:
        db.close()
    assert rows == 0


async def test_revoked_token_is_marked_invalid_and_user_told(world: World) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    await alice.rest(
        "POST",
        "users.removePersonalAccessToken",
        json={"tokenName": "profile-bot"},
        headers={"X-2fa-Method": "password", "X-2fa-Code": "ignored-for-fresh-users"},
    )
    answer = await ask_bot(alice, "/nick Ali")
    assert "token" in answer.lower() and "/token set" in answer
    status = await ask_bot(alice, "/token status")
    assert "rejected" in status

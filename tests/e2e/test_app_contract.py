"""The bot's side of the contract with the companion Rocket.Chat App (rocketchat-app/).

The App turns a slash command into a message from the person in their DM with the bot: it opens
the DM as the person (`createDirectMessage`) and posts the command line as them (its bridge sends
it as the person's message, apps/meteor/app/apps/server/bridges/messages.ts). These tests play the
App's part with the texts of rocketchat-app-tests/contract.json, which the App's own tests check
it posts, and check what the bot makes of them. The workspace has
`Message_AllowUnrecognizedSlashCommand` off: with the App, nobody needs it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.people import Person
from tests.e2e.conftest import (
    BOT_DM_TIMEOUT,
    BOT_NAME,
    PASSWORD,
    World,
    ask_bot,
    delegate,
    each_release,
    running_world,
    status_of,
)

CONTRACT_FILE = Path(__file__).resolve().parents[2] / "rocketchat-app-tests" / "contract.json"
CONTRACT: dict[str, Any] = json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))


def posts(case: str) -> list[str]:
    """The texts the App posts for the contract's `case`, in order."""
    return list(CONTRACT[case]["posts"])


@pytest.fixture
async def app_world(tmp_path: Path, rc_version: str) -> AsyncIterator[World]:
    """A running bot on a workspace where unknown slash commands are not sent as messages."""
    async with running_world(
        tmp_path,
        OVERWRITE_SETTING_Message_AllowUnrecognizedSlashCommand="false",
        SANDBOX_RC_VERSION=rc_version,
    ) as world:
        yield world


async def forwarded(person: Person, text: str) -> str:
    """Post `text` as the App does for `person` (REST chat.sendMessage into their DM with the
    bot); return the bot's next answer there."""
    room = await person.direct_room(BOT_NAME)
    mark = person.heard_count
    await person.rest("POST", "chat.sendMessage", json={"message": {"rid": room, "msg": text}})
    reply = await person.hear(
        lambda message: message["rid"] == room and message["u"]["username"] == BOT_NAME,
        after=mark,
        timeout=BOT_DM_TIMEOUT,
    )
    return str(reply["msg"])


async def ready(world: World, name: str = "alice") -> Person:
    person = await world.person(name)
    assert "stored" in await delegate(person)
    return person


async def test_the_workspace_does_not_send_unknown_slash_commands(app_world: World) -> None:
    wanted = {"_id": "Message_AllowUnrecognizedSlashCommand"}
    reply = await app_world.admin.rest("GET", "settings.public", params=wanted)
    assert [setting["value"] for setting in reply["settings"]] == [False]


async def test_bio_from_the_text_box_is_set_exactly(app_world: World) -> None:
    alice = await ready(app_world)
    [text] = posts("bio_from_box")

    answer = await forwarded(alice, text)

    assert "Bio set" in answer
    assert (await alice.profile())["bio"] == CONTRACT["bio_from_box"]["box"] == "I'm Bob's friend"


async def test_status_from_the_text_box_keeps_the_apostrophe(app_world: World) -> None:
    alice = await ready(app_world)
    [text] = posts("status_from_box")

    await forwarded(alice, text)

    assert await status_of(alice) == ("busy", "Writing the Q3 report, don't disturb")


@each_release
async def test_away_with_text_sets_presence_and_text(app_world: World) -> None:
    alice = await ready(app_world)
    [text] = posts("away_with_text")

    answer = await forwarded(alice, text)

    assert "away: At lunch" in answer
    assert await status_of(alice) == ("away", "At lunch")


@each_release
async def test_online_changes_presence_and_keeps_the_text(app_world: World) -> None:
    alice = await ready(app_world)
    await forwarded(alice, posts("away_with_text")[0])
    [text] = posts("online")

    await forwarded(alice, text)

    assert await status_of(alice) == ("online", "At lunch")


async def test_a_quoted_argument_arrives_quoted(app_world: World) -> None:
    alice = await ready(app_world)

    await forwarded(alice, posts("quoted_status_text")[0])
    await forwarded(alice, posts("quoted_field")[0])

    assert (await status_of(alice))[1] == "Back for 2h"
    assert (await alice.profile())["customFields"]["location"] == "Berlin, Germany"


async def test_undo_puts_back_what_a_forwarded_command_changed(app_world: World) -> None:
    alice = await ready(app_world)
    await forwarded(alice, posts("nick")[0])
    assert (await alice.profile())["nickname"] == "Ali"

    await forwarded(alice, posts("undo")[0])

    assert not (await alice.profile()).get("nickname")


async def test_email_confirmed_with_the_yes_button(app_world: World) -> None:
    alice = await ready(app_world)
    command, answer = posts("email_yes")

    question = await forwarded(alice, command)
    assert "(yes/no)" in question and "alice.new@example.org" in question
    prompt = await forwarded(alice, answer)
    assert "current password" in prompt
    done = await ask_bot(alice, PASSWORD)

    assert "Done" in done
    assert (await alice.profile())["emails"][0]["address"] == "alice.new@example.org"


async def test_username_confirmed_with_the_yes_button(app_world: World) -> None:
    alice = await ready(app_world)
    command, answer = posts("username_yes")

    assert "(yes/no)" in await forwarded(alice, command)
    done = await forwarded(alice, answer)

    assert "you are now @alice.liddell" in done
    assert (await alice.profile())["username"] == "alice.liddell"


async def test_username_refused_with_the_no_button(app_world: World) -> None:
    alice = await ready(app_world)
    command, answer = posts("username_no")

    assert "(yes/no)" in await forwarded(alice, command)
    cancelled = await forwarded(alice, answer)

    assert "Nothing was changed" in cancelled
    assert (await alice.profile())["username"] == "alice"


async def test_what_the_app_tells_for_a_token_works_in_the_dm(app_world: World) -> None:
    alice = await app_world.person("alice")
    token = await alice.create_personal_access_token("profile-bot")
    told = CONTRACT["token_hint"]["tells"]
    assert posts("token_hint") == []

    answer = await ask_bot(alice, told.replace("<token>", token))

    assert "stored" in answer


async def test_what_the_app_tells_for_a_password_works_in_the_dm(app_world: World) -> None:
    alice = await ready(app_world)
    told = CONTRACT["password_hint"]["tells"]
    assert posts("password_hint") == []

    prompt = await ask_bot(alice, told)

    assert "new password" in prompt
    assert "Nothing was changed" in await ask_bot(alice, "cancel")

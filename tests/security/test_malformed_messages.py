"""Huge and malformed messages and frames are refused without harm to other users: the sender is
told why (when it was meant for the bot), nothing runs, and everyone else is served as usual."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.ddp_client import DdpClient
from tests.e2e.conftest import BOT_NAME, PASSWORD, ClockedWorld, ask_bot, delegate
from tests.security.conftest import bot_messages, from_bot, security_world, stays_quiet

NOTHING_TO_CANCEL = "You have no change waiting"
APOLOGY = "something went wrong on my side"
LARGE = {"OVERWRITE_SETTING_Message_MaxAllowedSize": "3000000"}  # an admin allowed huge messages


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[ClockedWorld]:
    async with security_world(tmp_path, environ=LARGE) as running:
        yield running


@pytest.fixture(autouse=True)
def no_crash_is_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever comes in, nothing in the bot fails with a traceback."""
    caplog.set_level(logging.WARNING)
    yield
    crashes = [
        r for r in caplog.records if r.name.startswith("bot") and r.levelno >= logging.ERROR
    ]
    assert crashes == [], [r.getMessage() for r in crashes]


async def test_a_100_kb_command_is_refused_without_delaying_others(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    bob = await world.person("bob")
    answer = await ask_bot(alice, "/bio " + "x" * 100_000)
    assert "too long for me: 100,005 characters" in answer and "at most 5,000" in answer
    assert NOTHING_TO_CANCEL in await ask_bot(bob, "/cancel", timeout=2)
    assert (await alice.profile()).get("bio", "") == ""


async def test_a_100_kb_message_in_a_room_is_ignored_quietly(world: ClockedWorld) -> None:
    alice = await world.person("alice")
    bob = await world.person("bob")
    mark = alice.heard_count
    chatter = await alice.say("GENERAL", "lorem ipsum " * 9_000)
    assert await stays_quiet(alice, after=mark)
    assert not any(m["_id"] == chatter and m.get("reactions") for m in alice.heard())
    assert NOTHING_TO_CANCEL in await ask_bot(bob, "/cancel")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/nick A\x00B", "control characters"),
        ("/status away \x1b[2J\x1b[H", "control characters"),
        ("/bio line\x0bfeed\x7f", "control characters"),
        ("/nick broken \ud800 half", "broken characters"),
        ("\udfff/help", "broken characters"),
    ],
    ids=[
        "nul",
        "ansi-escape",
        "vertical-tab-and-del",
        "lone-high-surrogate",
        "lone-low-surrogate",
    ],
)
async def test_control_characters_and_broken_surrogates_are_refused_politely(
    world: ClockedWorld, text: str, why: str
) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    bob = await world.person("bob")
    before = await alice.profile()
    answer = await ask_bot(alice, text)
    assert why in answer and "type it again" in answer
    assert NOTHING_TO_CANCEL in await ask_bot(bob, "/cancel")
    after = await alice.profile()
    assert [after.get(k) for k in ("nickname", "bio", "statusText")] == [
        before.get(k) for k in ("nickname", "bio", "statusText")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/status " + '"' * 4_001, "at most 120"),
        ("/field " + '"' * 4_001, "double quote"),
        ("/field team " + "'\"" * 2_000 + "'", "at most 30"),
        ("/nick " + '"' * 2_000 + "x" + '"' * 2_000, "Nickname set to “x”"),
        ("/bio " + "> " * 2_000 + "quoted", "at most 260"),
        ("/status " + "\\" * 4_000, "at most 120"),
        ("/audit " + "'" * 3_999, "single quote"),
    ],
    ids=[
        "4001-double-quotes-as-text",
        "4001-double-quotes-as-words",
        "alternating-quotes",
        "nested-quotes",
        "chat-quotes",
        "backslashes",
        "unbalanced-single-quotes",
    ],
)
async def test_deeply_nested_quotes_get_a_sentence_not_a_crash(
    world: ClockedWorld, text: str, expected: str
) -> None:
    alice = await world.person("alice")
    await delegate(alice)
    answer = await ask_bot(alice, text)
    assert expected in answer and APOLOGY not in answer


async def test_a_deeply_nested_frame_is_read_without_harm(world: ClockedWorld) -> None:
    """customFields nested 400 deep (what the server still accepts) reach the bot in the
    message frame; the bot reads the text and ignores the rest."""
    alice = await world.person("alice")
    bob = await world.person("bob")
    dm = await alice.direct_room(BOT_NAME)
    depth = 400
    nested = '{"a":' * depth + "1" + "}" * depth
    frame = (
        '{"msg":"method","method":"sendMessage","id":"deep","params":[{"_id":"deep-frame-1",'
        f'"rid":"{dm}","msg":"/cancel","customFields":{nested}}}]}}'
    )
    mark = alice.heard_count
    async with aiohttp.ClientSession() as http, DdpClient.open(http, world.url) as raw:
        await raw.connect()
        await raw.login_password("alice", PASSWORD)
        await raw.send(frame)
        assert "result" in await raw.expect(msg="result", id="deep", timeout=5)
    answer = await alice.hear(from_bot(dm), after=mark)
    assert NOTHING_TO_CANCEL in answer["msg"]
    assert NOTHING_TO_CANCEL in await ask_bot(bob, "/cancel")


async def test_a_message_over_a_mebibyte_is_answered_too_long_and_costs_no_service(
    world: ClockedWorld,
) -> None:
    """2 MB of text was over websockets' default frame limit (1 MiB), which closed the bot's
    socket; the bot reads frames up to 64 MiB now (issue 13), so the sender is told it is too
    long, everyone else is served, and the huge message is never acted on."""
    alice = await world.person("alice")
    await delegate(alice)
    bob = await world.person("bob")
    dm = await alice.direct_room(BOT_NAME)
    mark = alice.heard_count
    await alice.say(dm, "/bio " + "y" * 2_000_000)
    assert NOTHING_TO_CANCEL in await ask_bot(bob, "/cancel", timeout=10)
    assert NOTHING_TO_CANCEL in await ask_bot(alice, "/cancel", timeout=10)
    told = [text for text in bot_messages(alice, after=mark) if "2,000,005" in text]
    assert len(told) == 1 and "too long" in told[0]
    assert (await alice.profile()).get("bio", "") == ""

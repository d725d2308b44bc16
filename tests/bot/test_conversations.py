"""The conversation engine on its own: a real Store file, a fake chat, a ManualClock.

The end-to-end behaviour (2FA, deletion, restarts of the whole bot) is in
tests/e2e/test_sensitive_*.py; these tests pin the engine's rules one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import ManualClock
from bot.core.context import CommandContext
from bot.core.crypto import generate_key
from bot.core.errors import UsageError, UserError
from bot.core.message import IncomingMessage, RoomType
from bot.flows.conversations import (
    END,
    ConversationKey,
    Conversations,
    Step,
    Turn,
    describe_duration,
    is_cancel,
)
from bot.flows.sensitive.rules import (
    EmailAddress,
    NewUsername,
    mask_email,
    policy_problems,
    policy_summary,
    username_pattern,
)
from bot.framework.parser import parse_command
from bot.storage.conversations import ConversationRecord
from bot.storage.store import Store

ALICE_DM = "dm-alice"
BOB_DM = "dm-bob"


class FakeChat:
    """Records what the engine sends; knows each user's one-to-one DM."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.on_send: Any = None

    async def send_message(
        self,
        room_id: str,
        text: str,
        *,
        thread_id: str | None = None,
        message_id: str | None = None,
    ) -> None:
        if self.on_send is not None:
            await self.on_send(room_id, text)
        self.sent.append((room_id, text))

    async def direct_room(self, username: str) -> str:
        return {"alice": ALICE_DM, "bob": BOB_DM}[username]

    def texts(self, room_id: str = ALICE_DM) -> list[str]:
        return [text for room, text in self.sent if room == room_id]


class Quiz:
    """A test flow: `ask` takes any word (`secret` next, `done` ends); `secret` is secret."""

    name = "quiz"
    label = "quiz"
    article = "a"

    def __init__(self) -> None:
        self.steps = {
            "ask": Step(self._ask),
            "secret": Step(self._secret, secret=True),
            "slow": Step(self._slow),
        }
        self.forgotten: list[ConversationKey] = []
        self.discarded: list[str] = []
        self.gate = asyncio.Event()

    def restart_hint(self) -> str:
        return "send `/quiz`"

    def forget(self, key: ConversationKey) -> None:
        self.forgotten.append(key)

    async def discard(self, message: IncomingMessage) -> bool:
        self.discarded.append(message.id)
        return True

    async def recover(self, record: ConversationRecord) -> str:
        return "recovered"

    async def _ask(self, turn: Turn) -> str:
        if turn.text == "boom":
            raise RuntimeError("a bug")
        if turn.text == "refuse":
            raise UserError("Refused, and here is how to do it right.")
        turn.data["answers"] = [*turn.data.get("answers", []), turn.text]
        await turn.say(f"got {turn.text}")
        return {"next": "secret", "done": END, "slow": "slow"}.get(turn.text, "ask")

    async def _secret(self, turn: Turn) -> str:
        await turn.say("secret taken")
        return END

    async def _slow(self, turn: Turn) -> str:
        await self.gate.wait()
        turn.data["answers"] = [*turn.data.get("answers", []), turn.text]
        await turn.say(f"slowly got {turn.text} after {len(turn.data['answers'])}")
        return "slow"


_ids = iter(range(1, 1_000_000))


def message(
    text: str, *, room_id: str = ALICE_DM, sender: str = "alice", direct: bool = True
) -> IncomingMessage:
    return IncomingMessage(
        id=f"m{next(_ids)}",
        room_id=room_id,
        room_type=RoomType.DIRECT if direct else RoomType.CHANNEL,
        one_to_one=direct,
        text=text,
        sender_id=f"u-{sender}",
        sender_username=sender,
    )


def parsed(text: str) -> Any:
    return parse_command(text, prefixes=["/"], direct=True, known_names=["cancel", "help"])


class Rig:
    def __init__(self, store: Store, clock: ManualClock) -> None:
        self.store = store
        self.clock = clock
        self.chat = FakeChat()
        self.quiz = Quiz()
        self.engine = self.new_engine()

    def new_engine(self) -> Conversations:
        engine = Conversations(self.store, self.chat, self.clock, timeout=300)
        engine.add_flow(self.quiz)
        return engine

    async def start(self, step: str = "ask", sender: str = "alice") -> str:
        room = ALICE_DM if sender == "alice" else BOB_DM
        ctx = CommandContext.from_message(message("/quiz", room_id=room, sender=sender))
        return await self.engine.start(ctx, self.quiz, step=step, data={}, prompt="Question?")

    async def answer(self, text: str, **kwargs: Any) -> bool:
        return await self.engine.on_message(message(text, **kwargs), parsed(text))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await Store.open(tmp_path / "bot.db", secret_key=generate_key())
    rig = Rig(store, ManualClock())
    try:
        yield rig
    finally:
        await rig.engine.close()
        await store.close()


async def test_the_question_is_the_reply_and_the_conversation_is_stored(rig: Rig) -> None:
    assert await rig.start() == "Question?"
    pending = await rig.engine.pending("u-alice")
    assert pending is not None and pending.step == "ask"
    assert pending.key == ConversationKey(ALICE_DM, "u-alice")


async def test_only_the_user_in_their_dm_advances_it(rig: Rig) -> None:
    await rig.start()
    assert not await rig.answer("hi", sender="bob", room_id=ALICE_DM)
    assert not await rig.answer("hi", room_id=BOB_DM)
    assert not await rig.answer("hi", room_id="GENERAL", direct=False)
    assert rig.chat.sent == []
    assert await rig.answer("hi")
    assert rig.chat.texts() == ["got hi"]
    pending = await rig.engine.pending("u-alice")
    assert pending is not None and pending.data == {"answers": ["hi"]}


async def test_what_a_step_says_goes_out_after_its_step_is_saved(rig: Rig) -> None:
    await rig.start()
    seen: list[str | None] = []

    async def check(room_id: str, text: str) -> None:
        pending = await rig.engine.pending("u-alice")
        seen.append(pending.step if pending else None)

    rig.chat.on_send = check
    await rig.answer("next")
    await rig.answer("the secret")
    assert seen == ["secret", None]


async def test_a_second_conversation_is_refused_while_one_is_pending(rig: Rig) -> None:
    await rig.start()
    with pytest.raises(UserError, match=r"already have a quiz waiting.*`/cancel`"):
        await rig.start()
    assert await rig.start(sender="bob") == "Question?"


@pytest.mark.parametrize("word", ["cancel", "no", "/cancel", "NO!", "Cancel."])
async def test_cancel_words_end_it_at_any_step(rig: Rig, word: str) -> None:
    await rig.start(step="secret")
    assert await rig.answer(word)
    assert rig.chat.texts() == ["Cancelled your quiz. Nothing was changed."]
    assert await rig.engine.pending("u-alice") is None
    assert rig.quiz.forgotten == [ConversationKey(ALICE_DM, "u-alice")]


async def test_cancel_from_anywhere_and_with_nothing_pending(rig: Rig) -> None:
    ctx = CommandContext.from_message(message("/cancel", room_id="GENERAL", direct=False))
    assert "nothing to cancel" in await rig.engine.cancel(ctx)
    await rig.start()
    assert await rig.engine.cancel(ctx) == "Cancelled your quiz. Nothing was changed."
    assert await rig.engine.pending("u-alice") is None


async def test_a_prefixed_command_passes_a_question_but_not_a_secret_step(rig: Rig) -> None:
    await rig.start()
    assert not await rig.answer("/help")
    await rig.answer("next")
    assert await rig.answer("/help")  # may be a password that starts with "/"
    assert rig.chat.texts()[-1] == "secret taken"


async def test_the_sweeper_ends_it_at_the_deadline_and_not_before(rig: Rig) -> None:
    rig.engine.open()
    await rig.start()
    await rig.clock.advance(299)
    await asyncio.sleep(0.05)
    assert rig.chat.sent == [] and await rig.engine.pending("u-alice") is not None
    await rig.clock.advance(2)
    for _ in range(100):
        if rig.chat.sent:
            break
        await asyncio.sleep(0.01)
    assert rig.chat.texts() == [
        (
            "I waited 5 minutes for your answer, so I stopped your quiz: nothing was changed. "
            "When you are ready, send `/quiz`."
        )
    ]
    assert await rig.engine.pending("u-alice") is None


async def test_each_answer_gets_the_full_time_again(rig: Rig) -> None:
    await rig.start()
    await rig.clock.advance(200)
    await rig.answer("one")
    await rig.clock.advance(200)
    assert await rig.engine.expire_due() == 0
    await rig.clock.advance(101)
    assert await rig.engine.expire_due() == 1


async def test_a_late_answer_is_not_taken_and_a_late_secret_is_discarded(rig: Rig) -> None:
    await rig.start()
    await rig.clock.advance(301)  # no sweeper running: the answer finds it expired
    assert not await rig.answer("yes")
    assert "nothing was changed" in rig.chat.texts()[-1]
    await rig.engine.cancel(CommandContext.from_message(message("/cancel")))
    await rig.start(step="secret")
    await rig.clock.advance(301)
    late = message("hunter2")
    assert await rig.engine.on_message(late, None)
    assert rig.quiz.discarded == [late.id]


async def test_a_new_engine_on_the_same_database_continues(rig: Rig) -> None:
    await rig.start()
    await rig.answer("next")
    await rig.engine.close()
    rig.engine = rig.new_engine()  # what a restarted bot builds, on the same file
    assert await rig.answer("the secret")
    assert rig.chat.texts()[-1] == "secret taken"


async def test_answers_to_one_conversation_are_handled_one_at_a_time(rig: Rig) -> None:
    await rig.start()
    await rig.answer("slow")
    first = asyncio.create_task(rig.answer("a"))
    second = asyncio.create_task(rig.answer("b"))
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    rig.quiz.gate.set()
    await asyncio.gather(first, second)
    assert rig.chat.texts()[-2:] == ["slowly got a after 2", "slowly got b after 3"]


async def test_a_failing_step_ends_it_with_a_sentence(rig: Rig) -> None:
    await rig.start()
    assert await rig.answer("boom")
    assert "something went wrong on my side" in rig.chat.texts()[-1]
    assert "send `/quiz`" in rig.chat.texts()[-1]
    assert await rig.engine.pending("u-alice") is None
    await rig.start()
    assert await rig.answer("refuse")
    assert rig.chat.texts()[-1] == "Refused, and here is how to do it right."
    assert await rig.engine.pending("u-alice") is None


async def test_a_group_dm_command_is_answered_like_a_room_command(rig: Rig) -> None:
    """A group DM is not private: the question is the command's reply, which the dispatcher
    sends to the one-to-one DM as for any room; the conversation waits there."""
    group = CommandContext.from_message(message("/quiz", room_id="group-dm", direct=False))
    reply = await rig.engine.start(group, rig.quiz, step="ask", data={}, prompt="Question?")
    assert reply == "Question?"
    assert rig.chat.texts() == []
    assert await rig.engine.pending(group.sender_id) is not None


# -- pure pieces ------------------------------------------------------------------------------


def test_cancel_words_and_durations() -> None:
    assert is_cancel("Cancel", None) and is_cancel("no.", None)
    assert is_cancel("!cancel", parse_command("!cancel", prefixes=["!"]))
    assert not is_cancel("/cancel now", parse_command("/cancel now", prefixes=["/"]))
    assert not is_cancel("nope", None)
    assert describe_duration(300) == "5 minutes"
    assert describe_duration(60) == "1 minute"
    assert describe_duration(90) == "90 seconds"


POLICY = {
    "Accounts_Password_Policy_Enabled": True,
    "Accounts_Password_Policy_MinLength": 7,
    "Accounts_Password_Policy_MaxLength": 12,
    "Accounts_Password_Policy_ForbidRepeatingCharacters": True,
    "Accounts_Password_Policy_ForbidRepeatingCharactersCount": 3,
    "Accounts_Password_Policy_AtLeastOneLowercase": True,
    "Accounts_Password_Policy_AtLeastOneUppercase": True,
    "Accounts_Password_Policy_AtLeastOneNumber": True,
    "Accounts_Password_Policy_AtLeastOneSpecialCharacter": True,
}


def test_password_policy_follows_rocket_chats_rules() -> None:
    assert policy_problems("Good-pass-1", POLICY) == []
    assert policy_problems("aaaa-Pass-1", POLICY) == ["no character more than 3 times in a row"]
    assert policy_problems("aaa-Pass-1", POLICY) == []
    assert policy_problems("Pass 1", POLICY) == [
        "at least 7 characters",
        "a special character such as ! or #",
    ]
    assert policy_problems("Very-long-pass-1", POLICY) == ["at most 12 characters"]
    assert policy_problems("x", {**POLICY, "Accounts_Password_Policy_Enabled": False}) == []
    assert policy_problems("x", {}) == []
    assert policy_summary(POLICY).startswith("This workspace wants at least 7 characters, a low")
    assert policy_summary({}) == ""


def test_addresses_and_usernames() -> None:
    assert mask_email("alice@example.com") == "a…@e….com"
    assert mask_email("broken") == "…"
    assert EmailAddress.convert(" <Alice@Example.org> ") == "Alice@Example.org"
    for bad in ("alice", "alice@", "@example.org", "a b@example.org", "alice@example"):
        with pytest.raises(UsageError, match="name@example.com"):
            EmailAddress.convert(bad)
    assert NewUsername.convert("@alice.l") == "alice.l"
    with pytest.raises(UsageError):
        NewUsername.convert("@")
    rule = username_pattern({})
    assert rule is not None and rule.fullmatch("a-b_c.d") and not rule.fullmatch("a b")
    custom = username_pattern({"UTF8_User_Names_Validation": "[0-9a-z]+"})
    assert custom is not None and custom.fullmatch("ab1") and not custom.fullmatch("Ab1")
    assert username_pattern({"UTF8_User_Names_Validation": "(?<=x"}) is None

"""What happens to a message that reaches someone away: noted for the digest, answered once.

A message is for the person when someone else wrote it (not a system message, not an edit),
after the absence began, in a one-to-one DM with them or mentioning `@them` anywhere they are a
member (a group DM, a channel, a thread), in a room they did not mute (bot.automation.ooo.view).
Such a message is noted for the digest. Its sender gets one automatic answer per absence:
never a bot, never an automatic answer itself (two people away would answer each other), and
only the first time. The answer is claimed in the database before it is sent (one replica, one
run), has an id derived from the absence and the sender (Rocket.Chat saves a given `_id` once,
so a run that died after sending cannot send it twice), and goes out as the person over their
own connection, in the same room: in the DM, or in the thread of the mention so a channel
stays quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Final, Protocol

from bot.automation.ooo.model import until_label
from bot.automation.ooo.view import PersonView, mentions, muted
from bot.core.clock import Clock
from bot.core.credentials import Credentials
from bot.core.errors import BotError
from bot.core.message import IncomingMessage, reply_id
from bot.rocketchat.rest import RestClient
from bot.storage.absences import Absence, AbsenceStore, NotedMessage, RoomKind

log = logging.getLogger(__name__)

MARK: Final = ":robot: *Automatic reply*"
QUOTE_LIMIT: Final = 300
BOT_ROLES: Final = frozenset({"bot", "app"})
REPLY_LEASE: Final = 60.0
WORD_JOINER: Final = "\u2060"


class Sender(Protocol):
    """The person's connection, to answer as them."""

    async def send_message(
        self,
        room_id: str,
        text: str,
        *,
        thread_id: str | None = None,
        message_id: str | None = None,
    ) -> None: ...


class BotSenders:
    """Who is a bot: the bot itself, and accounts whose type or roles say so (users.info read
    as the bot, which sees roles when its role may view full user info), remembered."""

    def __init__(
        self, rest: RestClient, credentials: Callable[[], Awaitable[Credentials]]
    ) -> None:
        self._rest = rest
        self._credentials = credentials
        self._known: dict[str, bool] = {}
        self._own_id: str | None = None

    async def is_self(self, user_id: str) -> bool:
        """True for the bot's own account (its DMs with the person are not for the digest)."""
        if self._own_id is None:
            self._own_id = (await self._credentials()).user_id
        return user_id == self._own_id

    async def is_bot(self, user_id: str) -> bool:
        """True for a bot or an App's user; an account that cannot be read counts as a person."""
        if user_id not in self._known:
            credentials = await self._credentials()
            if credentials.user_id == user_id:
                self._known[user_id] = True
                return True
            try:
                user = await self._rest.user_info(credentials, user_id=user_id)
            except BotError as error:
                log.info("cannot tell whether %s is a bot (%s)", user_id, type(error).__name__)
                return False
            roles = user.get("roles")
            self._known[user_id] = user.get("type") in BOT_ROLES or (
                isinstance(roles, list) and bool(BOT_ROLES.intersection(map(str, roles)))
            )
        return self._known[user_id]


def reply_text(absence: Absence, message: IncomingMessage) -> str:
    """The automatic answer, as the person: marked, with the return date and their message."""
    back = until_label(absence, weekday=True)
    note = f" ({absence.note})" if absence.note else ""
    quoted = quote(message.text)
    head = f"{MARK}: I'm out of office until {back}{note}. I'll read your message when I'm back"
    return f"{head}:\n{quoted}" if quoted else f"{head}."


def quote(text: str) -> str:
    """`text` as a quote, cut, with every @ defused so the answer mentions nobody again."""
    cut = text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1].rstrip() + "…"
    defused = cut.replace("@", "@" + WORD_JOINER)
    return "\n".join(f"> {line}" for line in defused.splitlines() if line.strip())


class Responder:
    """Notes and answers the messages that reach one away person (one per absence)."""

    def __init__(
        self,
        absence: Absence,
        store: AbsenceStore,
        bots: BotSenders,
        clock: Clock,
        *,
        owner: str,
        auto_reply: bool = True,
    ) -> None:
        self.absence = absence
        self._store = store
        self._bots = bots
        self._clock = clock
        self._owner = owner
        self._auto_reply = auto_reply

    def anchor(self, anchor_ms: float) -> None:
        """Nothing at or before `anchor_ms` (server time) is answered."""
        self.absence = replace(self.absence, anchor_ms=anchor_ms)

    async def consider(
        self, message: IncomingMessage, ts: float | None, view: PersonView, sender: Sender
    ) -> None:
        """Note `message` and answer its sender when it is for the away person."""
        absence = self.absence
        if message.sender_id == absence.user_id or message.system_type or message.edited:
            return
        anchor = absence.anchor_ms
        if ts is None or (anchor is not None and ts <= anchor):
            return
        if await self._bots.is_self(message.sender_id):
            return
        room = await view.room(message.room_id)
        if room is None:
            return
        if not room.one_to_one and not mentions(message.text, absence.username):
            return
        subscription = await view.subscription(message.room_id)
        if subscription is None or muted(subscription, message.sender_id):
            return
        kind: RoomKind = room.kind  # type: ignore[assignment]
        await self._store.note(
            absence.absence_id,
            NotedMessage(
                message_id=message.id,
                room_id=message.room_id,
                room_kind=kind,
                room_name=message.room_name or room.name,
                thread_id=message.thread_id,
                sender_id=message.sender_id,
                sender_username=message.sender_username,
                ts=ts,
            ),
        )
        if not self._auto_reply or message.text.lstrip().startswith(MARK):
            return
        if await self._bots.is_bot(message.sender_id):
            return
        thread = message.thread_id if room.one_to_one else (message.thread_id or message.id)
        await self._answer(message, thread, sender)

    async def _answer(self, message: IncomingMessage, thread: str | None, sender: Sender) -> None:
        absence, store = self.absence, self._store
        now = self._clock.now().timestamp()
        claimed = await store.claim_reply(
            absence.absence_id, message.sender_id, owner=self._owner, now=now, lease=REPLY_LEASE
        )
        if not claimed:
            return
        text = reply_text(absence, message)
        try:
            await sender.send_message(
                message.room_id,
                text,
                thread_id=thread,
                message_id=reply_id(f"ooo:{absence.absence_id}", message.sender_id),
            )
        except Exception:
            await store.release_reply(absence.absence_id, message.sender_id, owner=self._owner)
            raise
        await store.reply_sent(absence.absence_id, message.sender_id)
        log.info("answered %s for %s (out of office)", message.sender_id, absence.user_id)

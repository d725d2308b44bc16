"""Which DMs are private: a person's one-to-one DM with the bot, and no other room.

Rocket.Chat gives a group DM the same room type (`d`) as a one-to-one DM, but everyone in it
reads it. The bot tells them apart by asking which room is its DM with the sender
(`createDirectMessage`, which returns the existing room and is remembered per person); a
two-person DM's id is the two user ids sorted and joined, so that case needs no call.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Protocol

from bot.core.errors import BotError
from bot.core.message import IncomingMessage, RoomType
from bot.rocketchat.transport import ConnectionLost

log = logging.getLogger(__name__)


class DirectRoomLookup(Protocol):
    """The realtime connection: the bot's one-to-one DM with a user."""

    async def direct_room(self, username: str) -> str: ...


class OneToOneRooms:
    """Marks the messages that were sent in their sender's one-to-one DM with the bot."""

    def __init__(self, chat: DirectRoomLookup, *, bot_user_id: str) -> None:
        self._chat = chat
        self._bot_user_id = bot_user_id

    async def mark(self, message: IncomingMessage) -> IncomingMessage:
        """`message`, with `one_to_one` set when it came from its sender's DM with the bot."""
        if message.room_type is not RoomType.DIRECT:
            return message
        if await self.is_one_to_one(message):
            return dataclasses.replace(message, one_to_one=True)
        return message

    async def is_one_to_one(self, message: IncomingMessage) -> bool:
        """True when `message.room_id` is the sender's one-to-one DM with the bot."""
        pair = "".join(sorted((message.sender_id, self._bot_user_id)))
        if message.room_id == pair:
            return True
        try:
            return await self._chat.direct_room(message.sender_username) == message.room_id
        except (BotError, ConnectionLost) as error:
            # Unknown is treated as shared: nothing private is said or taken there.
            log.info("cannot tell whether DM %s is private: %s", message.room_id, error)
            return False

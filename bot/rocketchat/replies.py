"""Where the bot's answers go: a DM is answered in the DM, a room gets a reaction plus a DM.

Rooms stay quiet: the command message gets a check mark or a cross, and the details go to the
sender's DM with the bot. An answer to a message in a thread stays in that thread.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.core.errors import ServerError
from bot.core.message import IncomingMessage, reply_id

log = logging.getLogger(__name__)

DONE = ":white_check_mark:"
FAILED = ":x:"


class ChatSender(Protocol):
    """What replies need from the realtime connection."""

    async def send_message(
        self,
        room_id: str,
        text: str,
        *,
        thread_id: str | None = None,
        message_id: str | None = None,
    ) -> None: ...
    async def react(self, message_id: str, emoji: str) -> None: ...
    async def direct_room(self, username: str) -> str: ...


class Replies:
    """Sends the outcome of one command to the person who sent it."""

    def __init__(self, sender: ChatSender) -> None:
        self._sender = sender

    async def answer(self, message: IncomingMessage, text: str, *, ok: bool) -> None:
        """Answer `message` with `text`; `ok` picks the reaction used in rooms."""
        if message.is_direct:
            await self._sender.send_message(
                message.room_id,
                text,
                thread_id=message.thread_id,
                message_id=reply_id(message.id, text),
            )
            return
        try:
            await self._sender.react(message.id, DONE if ok else FAILED)
        except ServerError as error:
            # The message may be gone already (a token the bot deleted): the DM still goes out.
            log.info("could not react to message %s: %s", message.id, error.error_type)
        await self.tell(message.sender_username, text, about=message.id)

    async def tell(self, username: str, text: str, *, about: str | None = None) -> None:
        """Send `text` to `username`'s DM with the bot (once only, when it answers the
        message `about`)."""
        room_id = await self._sender.direct_room(username)
        answer_id = reply_id(about, text) if about is not None else None
        await self._sender.send_message(room_id, text, message_id=answer_id)

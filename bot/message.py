"""A chat message as the bot sees it: parsed once from the realtime frame, then passed along."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# The characters of Meteor's ids (Random.id()): message ids the bot makes use them too.
ID_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"


class RoomType(StrEnum):
    DIRECT = "d"
    CHANNEL = "c"
    PRIVATE = "p"
    LIVECHAT = "l"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from `stream-room-messages`, with the sender as the server says it.

    `one_to_one` is set by the dispatcher (bot.privacy) for the sender's one-to-one DM with the
    bot: the only private place. A group DM has the same room type `d`, but all its members
    read it, so there the bot behaves as in any room.
    """

    id: str
    room_id: str
    room_type: RoomType
    text: str
    sender_id: str
    sender_username: str
    thread_id: str | None = None
    room_name: str | None = None  # absent for DMs
    system_type: str | None = None  # Rocket.Chat's `t` (uj, rm, ...); None for user text
    edited: bool = False
    one_to_one: bool = False

    @property
    def is_direct(self) -> bool:
        """True in the sender's one-to-one DM with the bot (never in a group DM)."""
        return self.one_to_one


def reply_id(message_id: str, text: str) -> str:
    """The id of the bot's reply `text` to message `message_id`: the same every time, so that
    when a command runs again (a replica or a process died after answering but before noting
    the message as handled) the server saves the repeated answer only once."""
    digest = hashlib.blake2b(f"{message_id}\x00{text}".encode(), digest_size=17).digest()
    return "".join(ID_ALPHABET[byte % len(ID_ALPHABET)] for byte in digest)

"""A chat message as the bot sees it: parsed once from the realtime frame, then passed along."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

# The characters of Meteor's ids (Random.id()): message ids the bot makes use them too.
ID_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
# byte → its letter of ID_ALPHABET (byte % 55), for bytes.translate
_ID_LETTERS: Final = bytes(ord(ID_ALPHABET[byte % len(ID_ALPHABET)]) for byte in range(256))


class RoomType(StrEnum):
    DIRECT = "d"
    CHANNEL = "c"
    PRIVATE = "p"
    LIVECHAT = "l"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from `stream-room-messages`, with the sender as the server says it.

    `one_to_one` is set by the dispatcher (bot.rocketchat.privacy) for the sender's one-to-one DM with the
    bot: the only private place. A group DM has the same room type `d`, but all its members
    read it, so there the bot behaves as in any room.

    An edit of a message arrives as the message again, changed. The dispatcher turns it into an
    event of its own (`as_edit`): a new `id`, and `edit_of` naming the message to act on.
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
    edit_of: str | None = None

    @property
    def is_direct(self) -> bool:
        """True in the sender's one-to-one DM with the bot (never in a group DM)."""
        return self.one_to_one

    @property
    def original_id(self) -> str:
        """The id of the message in Rocket.Chat (for deleting it or reacting to it)."""
        return self.edit_of or self.id


def as_edit(message: IncomingMessage) -> IncomingMessage:
    """An edited message as an event of its own: the same message edited to the same text is the
    same event (a re-sent frame), another text is another."""
    return replace(message, id=_derived_id(message.id, message.text), edit_of=message.id)


def reply_id(message_id: str, text: str) -> str:
    """The id of the bot's reply `text` to message `message_id`: the same every time, so that
    when a command runs again (a replica or a process died after answering but before noting
    the message as handled) the server saves the repeated answer only once."""
    return _derived_id(message_id, text)


def _derived_id(*parts: str) -> str:
    """A Meteor-style id (17 characters of ID_ALPHABET) that only depends on `parts`."""
    joined = "\x00".join(parts).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(joined, digest_size=17).digest()
    return digest.translate(_ID_LETTERS).decode("ascii")

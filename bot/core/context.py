"""What a command handler knows about the message that invoked it (parameter name `ctx`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.message import IncomingMessage


@dataclass(frozen=True)
class CommandContext:
    """The invoking message and its sender, as the server reported them (never from the text).

    Build it with `CommandContext.from_message(msg)`. Services (profile, tokens, registry,
    settings) are injected separately, by parameter name.
    """

    message: IncomingMessage
    sender_id: str
    sender_username: str

    @classmethod
    def from_message(cls, message: IncomingMessage) -> CommandContext:
        """The context for `message`; the sender comes from the server's `u` field."""
        return cls(
            message=message,
            sender_id=message.sender_id,
            sender_username=message.sender_username,
        )

    @property
    def room_id(self) -> str:
        return self.message.room_id

    @property
    def message_id(self) -> str:
        return self.message.id

    @property
    def thread_id(self) -> str | None:
        return self.message.thread_id

    @property
    def is_direct(self) -> bool:
        """True when the command was sent in a DM (with the bot)."""
        return self.message.is_direct

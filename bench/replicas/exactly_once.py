"""Exactly once, from the DM histories: every command of a user answered once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.client import ChatUser
from bench.load.plan import Command
from bench.load.workspace import BOT_NAME
from bench.replicas.options import HISTORY_PAGE

# -- exactly once ----------------------------------------------------------------------------


def answers(command: Command, text: str) -> bool:
    """True when a bot message `text` can be the answer to `command` (see the docstring)."""
    return command.accepts(text)


@dataclass
class AnswerCount:
    """How many bot answers each command of one user got, from the DM's history."""

    per_command: list[int]
    unmatched: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(max(0, count - 1) for count in self.per_command)

    @property
    def missing(self) -> int:
        return sum(1 for count in self.per_command if count == 0)


def count_answers(plan: Sequence[Command], history: Sequence[dict[str, Any]]) -> AnswerCount:
    """Walk a DM's history (oldest first): the user's messages are the plan's commands in order,
    each bot message after the first command is given to the latest command it can answer."""
    counted = AnswerCount([0] * len(plan))
    sent = 0
    for message in history:
        if message.get("t"):
            continue  # system messages
        text = str(message.get("msg", ""))
        if (message.get("u") or {}).get("username") != BOT_NAME:
            if sent < len(plan) and text == plan[sent].text:
                sent += 1
            continue
        if sent == 0:
            continue  # the answer to `/token set`
        index = next((i for i in range(sent - 1, -1, -1) if answers(plan[i], text)), None)
        if index is None:
            counted.unmatched.append(text[:160])
        else:
            counted.per_command[index] += 1
    return counted  # a command the history does not show counts as missing (0 answers)


async def dm_history(user: ChatUser, room_id: str) -> list[dict[str, Any]]:
    """Every message of a DM, oldest first (im.history pages are newest first)."""
    newest_first: list[dict[str, Any]] = []
    while True:
        page = await user.rest(
            "GET",
            "im.history",
            params={
                "roomId": room_id,
                "count": str(HISTORY_PAGE),
                "offset": str(len(newest_first)),
            },
        )
        messages = page["messages"]
        newest_first.extend(messages)
        if len(messages) < HISTORY_PAGE:
            return newest_first[::-1]

"""The digest a person gets in their DM with the bot when they are back.

Who wrote, where, when (in their zone), oldest first, each with a link to the message as
Rocket.Chat's clients build one: `<Site_Url>/direct/<room id>?msg=<id>` for DMs and group DMs,
`/channel/<name>?msg=<id>` and `/group/<name>?msg=<id>` for channels and private groups
(apps/meteor/client/lib/rooms/roomTypes/{direct,public,private}.ts; a thread's message opens
with the same `?msg=`). Nothing of the messages' text is kept or repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import quote

from bot.automation.ooo.model import moment_label, since_label
from bot.storage.absences import Absence, NotedMessage

MAX_LINES: Final = 50
ROUTES: Final = {"direct": "direct", "group": "direct", "channel": "channel", "private": "group"}


def permalink(site_url: str, message: NotedMessage) -> str:
    """The message's link, as a Rocket.Chat client copies it."""
    route = ROUTES[message.room_kind]
    target = message.room_id if route == "direct" else (message.room_name or message.room_id)
    return (
        f"{site_url.rstrip('/')}/{route}/{quote(target, safe='')}?msg={quote(message.message_id)}"
    )


def _where(message: NotedMessage) -> str:
    said = "wrote to you directly" if message.room_kind == "direct" else "mentioned you"
    if message.thread_id:
        said += " in a thread"
    if message.room_kind == "group":
        said += " in a group DM"
    elif message.room_kind != "direct":
        said += f" in #{message.room_name or message.room_id}"
    return said


def digest_text(
    absence: Absence, messages: Sequence[NotedMessage], site_url: str, replied: int
) -> str:
    """The whole digest (one message)."""
    since = since_label(absence)
    if not messages:
        return (
            f"Welcome back! Nobody wrote to you directly or mentioned you while you were out "
            f"of office (since {since})."
        )
    count = len(messages)
    noun = "message was" if count == 1 else "messages were"
    lines = [
        (
            f"Welcome back! While you were out of office (since {since}), {count} {noun} for "
            "you, oldest first:"
        )
    ]
    for message in messages[:MAX_LINES]:
        when = moment_label(message.ts, absence)
        link = permalink(site_url, message)
        lines.append(f"• {when} — @{message.sender_username} {_where(message)}: [open]({link})")
    if count > MAX_LINES:
        lines.append(f"… and {count - MAX_LINES} more after these.")
    if replied:
        people = "person" if replied == 1 else "people"
        lines.append(f"I answered {replied} {people} automatically, once each.")
    return "\n".join(lines)

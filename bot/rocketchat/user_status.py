"""`user-status` events: what the realtime API says about a person's presence and status text.

Rocket.Chat announces each change of someone's shown status or status text to every logged-in
session on stream-notify-logged `user-status` (listeners.module.ts, from the `presence.status`
broadcast of Presence.setStatus, setStatusText and users.setStatus). The args are one list:
7.x `[uid, username, 0-3, statusText, name, roles]`, 8.6 `[uid, username, 0-3, statusText,
statusSource, statusExpiresAt]`; the number is the shown status (STATUS_MAP: 0 offline,
1 online, 2 away, 3 busy). The bot reads the first four, which both shapes share, and 8.6's
statusSource (told apart from 7.x's name by the sixth value, which 7.x sends as a list).

A listener is told which connection it is watching on (`watching`, a number that changes at
every connection, None while there is none): an event missed while disconnected is never
re-sent, so what it learnt on an earlier connection may be old.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

NOTIFY_LOGGED: Final = "stream-notify-logged"
USER_STATUS: Final = "user-status"
SHOWN: Final = {0: "offline", 1: "online", 2: "away", 3: "busy"}


@dataclass(frozen=True, slots=True)
class UserStatusEvent:
    """Someone's shown status and status text, as Rocket.Chat just announced them."""

    user_id: str
    shown: str  # online, away, busy or offline: what others see, not the chosen presence
    text: str
    source: str = ""  # 8.6+: manual, internal (a call), external (a calendar); "" otherwise


class StatusListener(Protocol):
    """Who wants to hear `user-status` events, in the order the server sent them."""

    def watching(self, connection: int | None) -> None:
        """Events now come over connection number `connection` (None: no connection)."""
        ...

    def status_changed(self, event: UserStatusEvent) -> None:
        """`event` arrived (called before any later frame of the connection is handled)."""
        ...


def parse_user_status(fields: dict[str, Any]) -> UserStatusEvent | None:
    """The `fields` of a stream-notify-logged frame → an event; None for other events or a
    frame that does not have the expected shape."""
    if fields.get("eventName") != USER_STATUS:
        return None
    args = fields.get("args")
    if not isinstance(args, list) or not args or not isinstance(args[0], list):
        return None
    values = args[0]
    if len(values) < 4 or not isinstance(values[0], str) or not values[0]:
        return None
    number = values[2]
    shown = SHOWN.get(number) if type(number) is int else None
    if shown is None:
        return None
    text = values[3].strip() if isinstance(values[3], str) else ""
    source = ""
    if len(values) >= 6 and not isinstance(values[5], list) and isinstance(values[4], str):
        source = values[4]
    return UserStatusEvent(user_id=values[0], shown=shown, text=text, source=source)

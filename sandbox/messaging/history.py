"""Reading: which stored messages a room shows (getLastVisibleMessage…, findVisibleByRoomId…)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.state import SandboxState


def last_visible_message(state: SandboxState, room_id: str) -> dict[str, Any] | None:
    """getLastVisibleMessageSentWithNoTypeByRoomId (ties: the later saved one)."""
    best: tuple[datetime, int, dict[str, Any]] | None = None
    for order, message in enumerate(state.messages.values()):
        if message.get("rid") != room_id or message.get("_hidden") or message.get("t"):
            continue
        if message.get("tmid") and not message.get("tshow"):
            continue
        if best is None or (message["ts"], order) > (best[0], best[1]):
            best = (message["ts"], order, message)
    return best[2] if best else None


def visible_messages(
    state: SandboxState,
    room_id: str,
    *,
    latest: datetime | None = None,
    oldest: datetime | None = None,
    inclusive: bool = False,
    show_thread_messages: bool = True,
    hidden_types: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """findVisibleByRoomId…: not hidden, not of a hidden type, in the window, newest first."""
    found = []
    for order, message in enumerate(state.messages.values()):
        if message.get("rid") != room_id or message.get("_hidden"):
            continue
        if message.get("t") in hidden_types:
            continue
        if not show_thread_messages and message.get("tmid") and not message.get("tshow"):
            continue
        ts = message["ts"]
        if latest is not None and (ts > latest if inclusive else ts >= latest):
            continue
        if oldest is not None and (ts < oldest if inclusive else ts <= oldest):
            continue
        found.append((message["ts"], order, message))
    # Newest first; messages of the same millisecond keep their insertion order.
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [message for _, _, message in found]

"""`user-status` events as each release sends them (bot.rocketchat.user_status;
apps/meteor/server/modules/listeners/listeners.module.ts, 8.6: PR #40274)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.rocketchat.user_status import UserStatusEvent, parse_user_status


def frame(*values: Any) -> dict[str, Any]:
    return {"eventName": "user-status", "args": [list(values)]}


@pytest.mark.parametrize(
    ("fields", "event"),
    [
        (  # 7.x: name and roles after the text
            frame("u1", "alice", 2, " Lunch ", "manual", ["user"]),
            UserStatusEvent("u1", "away", "Lunch"),
        ),
        (  # 8.6: statusSource and statusExpiresAt
            frame("u1", "alice", 3, "On a call", "internal", None),
            UserStatusEvent("u1", "busy", "On a call", "internal"),
        ),
        (
            frame("u1", "alice", 2, "Lunch", "manual", {"$date": 1_780_000_000_000}),
            UserStatusEvent("u1", "away", "Lunch", "manual"),
        ),
        (frame("u1", "alice", 1, "", None, None), UserStatusEvent("u1", "online", "")),
        (frame("u1", "alice", 7, ""), None),
    ],
)
def test_each_release_shape_is_read(fields: dict[str, Any], event: UserStatusEvent | None) -> None:
    assert parse_user_status(fields) == event

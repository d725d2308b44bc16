"""What the bot makes of GET /api/info (bot.rocketchat.server_info), and which profile the
bot's revert takes for the end Rocket.Chat 8.6's expiry job made (bot.profile.restore)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.profile.model import Profile
from bot.profile.restore import ended_by_server_expiry
from bot.rocketchat.server_info import ServerInfo, ServerVersion, version_of
from bot.storage.automation import PendingRevert

DUE = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("answer", "version"),
    [
        ({"version": "7.4", "success": True}, ServerVersion(7, 4)),
        ({"version": "8.6.0", "info": {"version": "8.6.1"}}, ServerVersion(8, 6, 1)),
        ({"version": "8.10.0-rc.2"}, ServerVersion(8, 10)),
        ({"version": ""}, None),
        ({"success": True}, None),
        ("not an object", None),
    ],
)
def test_the_version_is_read_from_info_else_from_version(answer: object, version: object) -> None:
    assert version_of(answer) == version


@pytest.mark.parametrize(
    ("version", "engine"),
    [(None, False), ("7.4", False), ("8.5.3", False), ("8.6.0", True), ("9.0", True)],
)
def test_the_presence_engine_comes_with_8_6(version: str | None, engine: bool) -> None:
    known = ServerVersion.parse(version) if version else None
    assert ServerInfo(known).has_presence_engine is engine


def lunch_revert() -> PendingRevert:
    return PendingRevert(
        user_id="u1",
        username="alice",
        group="status",
        due_at=DUE,
        restore={"presence": "busy", "status_text": "Deep work"},
        expected={"presence": "away", "status_text": "At lunch"},
        cause="command /status",
    )


def profile(presence: str, text: str = "", source: str = "", expires: str = "") -> Profile:
    return Profile(
        user_id="u1",
        username="alice",
        presence=presence,
        status_text=text,
        status_source=source,
        status_expires_at=expires,
    )


def test_what_the_expiry_job_leaves_after_the_deadline_is_the_servers_end() -> None:
    assert ended_by_server_expiry(lunch_revert(), profile("online"), DUE)
    assert ended_by_server_expiry(lunch_revert(), profile("online"), DUE + timedelta(hours=2))


@pytest.mark.parametrize(
    ("seen", "at"),
    [
        (profile("online"), DUE - timedelta(seconds=1)),  # before the deadline: by hand
        (profile("online", "Back"), DUE),  # a text: by hand
        (profile("busy"), DUE),
        (profile("online", source="manual"), DUE),
        (profile("online", source="external"), DUE),  # a calendar's claim
        (profile("online", expires="2026-07-01T14:00:00.000Z"), DUE),
    ],
)
def test_anything_else_is_a_change_made_elsewhere(seen: Profile, at: datetime) -> None:
    assert not ended_by_server_expiry(lunch_revert(), seen, at)

"""Room members for `users = { room = ... }`: the bot's paged channels/groups.members read, and
each user's own subscriptions on a server without those endpoints (like the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from bot.automation.members import RoomDirectory
from bot.core.clock import ManualClock
from bot.core.credentials import Credentials
from bot.core.errors import AuthError, ServerError
from tests.bot.test_profile_rules import OTHER_TOKEN, TOKEN, FakeStore

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class BotLogin:
    username: str | None = "profilebot"
    password: SecretStr | None = field(default_factory=lambda: SecretStr("pw"))
    user_id: str | None = None
    auth_token: SecretStr | None = None


class FakeRest:
    def __init__(self, members: dict[str, list[str]], *, endpoint: bool = True) -> None:
        self.members = members  # room name → member ids (public channels only)
        self.endpoint = endpoint
        self.calls: list[tuple[str, dict[str, Any] | None, str]] = []
        self.logins = 0
        self.expired_once = False
        self.subscriptions = {"u1": ["general", "team"], "u2": ["general"]}

    async def login(self, *, username: str, password: str) -> Credentials:
        self.logins += 1
        return Credentials("bot", f"login-{self.logins}")

    async def request(
        self,
        method: str,
        endpoint: str,
        *,
        credentials: Credentials | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        assert credentials is not None
        self.calls.append((endpoint, params, credentials.user_id))
        if endpoint == "subscriptions.get":
            names = self.subscriptions[credentials.user_id]
            return {"update": [{"name": name, "rid": name.upper()} for name in names]}
        if not self.endpoint:
            raise ServerError("API endpoint not found", status=404, endpoint=endpoint)
        if self.expired_once and credentials.token == "login-1":
            raise AuthError("You must be logged in to do this.", status=401, endpoint=endpoint)
        assert params is not None
        room = params["roomName"]
        if endpoint == "groups.members" or room not in self.members:
            raise ServerError("room not found", status=400, error_type="error-room-not-found")
        ids = self.members[room]
        page = ids[params["offset"] : params["offset"] + params["count"]]
        return {"members": [{"_id": uid} for uid in page], "total": len(ids)}


async def directory(rest: FakeRest, settings: BotLogin | None = None) -> RoomDirectory:
    store = FakeStore()
    await store.put_token(user_id="u1", username="alice", token=TOKEN)
    await store.put_token(user_id="u2", username="bob", token=OTHER_TOKEN)
    return RoomDirectory(
        rest,  # type: ignore[arg-type]
        settings or BotLogin(),  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        ManualClock(START),
    )


async def test_members_are_read_page_by_page_with_the_bots_login_and_cached() -> None:
    team = [f"m{i}" for i in range(150)] + ["u1"]
    rest = FakeRest({"team": team})
    rooms = await directory(rest)

    assert await rooms.members_among("#team", ["u1", "u2", "m149"]) == {"u1", "m149"}
    assert [(endpoint, params["offset"]) for endpoint, params, _ in rest.calls if params] == [
        ("channels.members", 0),
        ("channels.members", 100),
    ]
    assert rest.logins == 1
    await rooms.members_among("team", ["u2"])
    assert len(rest.calls) == 2  # cached for a minute


async def test_a_private_room_is_asked_as_a_group_and_a_missing_one_is_empty() -> None:
    rest = FakeRest({})
    rooms = await directory(rest)
    assert await rooms.members_among("secret", ["u1"]) == set()
    assert [endpoint for endpoint, *_ in rest.calls] == ["channels.members", "groups.members"]


async def test_a_configured_bot_token_is_used_as_is_and_a_login_is_renewed_on_401() -> None:
    rest = FakeRest({"team": ["u1"]})
    token = BotLogin(username=None, password=None, user_id="bot", auth_token=SecretStr("pat"))
    assert await (await directory(rest, token)).members_among("team", ["u1"]) == {"u1"}
    assert rest.logins == 0

    renewing = FakeRest({"team": ["u1"]})
    renewing.expired_once = True
    assert await (await directory(renewing)).members_among("team", ["u1"]) == {"u1"}
    assert renewing.logins == 2


async def test_without_a_members_endpoint_each_candidate_is_asked_with_their_own_token() -> None:
    rest = FakeRest({}, endpoint=False)
    rooms = await directory(rest)

    assert await rooms.members_among("team", ["u1", "u2", "u3"]) == {"u1"}
    asked = [who for endpoint, _, who in rest.calls if endpoint == "subscriptions.get"]
    assert asked == ["u1", "u2"]  # u3 has no token: not a candidate
    assert await rooms.members_among("general", ["u1", "u2"]) == {"u1", "u2"}
    assert len(rest.calls) == 3  # one failed members call, then each user's cached rooms

"""The REST rate limiter (reference §1) and the DDP/function limiter helpers."""

from __future__ import annotations

import pytest

from sandbox import ratelimit
from sandbox.errors import MeteorError
from sandbox.state import SandboxState, to_ms
from tests.sandbox.conftest import World, WorldFactory

TOO_MANY = (
    "Error, too many requests. Please slow down. You must wait 60 seconds before trying this "
    "endpoint again. [error-too-many-requests]"
)


async def test_eleventh_call_in_a_minute_gets_429_with_headers(world: World) -> None:
    """§1: 10 calls per route and IP per 60 s; then 429 and X-RateLimit-* headers."""
    alice = world.add_user("alice")
    remaining = []
    for _ in range(10):
        reply = await world.call("GET", "me", auth=alice.auth)
        assert reply.status == 200
        assert reply.headers["X-RateLimit-Limit"] == "10"
        remaining.append(int(reply.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(9, -1, -1))
    blocked = await world.call("GET", "me", auth=alice.auth)
    assert blocked.status == 429
    assert blocked.body == {"success": False, "error": TOO_MANY}
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    reset = int(blocked.headers["X-RateLimit-Reset"])
    assert abs(reset - (to_ms(world.state.clock()) + 60_000)) < 5_000


async def test_each_route_and_method_has_its_own_budget(world: World) -> None:
    """§1: the key is IP + route + HTTP method."""
    alice = world.add_user("alice")
    for _ in range(10):
        await world.call("GET", "me", auth=alice.auth)
    assert (await world.call("GET", "me", auth=alice.auth)).status == 429
    other = await world.call("GET", "users.info", auth=alice.auth, params={"username": "alice"})
    assert other.status == 200 and other.headers["X-RateLimit-Remaining"] == "9"
    assert (await world.call("POST", "logout", auth=alice.auth)).status == 200


async def test_window_resets_after_the_interval(world: World) -> None:
    """§1: counters reset once the interval has passed."""
    alice = world.add_user("alice")
    for _ in range(11):
        await world.call("GET", "me", auth=alice.auth)
    world.advance(61)
    reply = await world.call("GET", "me", auth=alice.auth)
    assert reply.status == 200 and reply.headers["X-RateLimit-Remaining"] == "9"


async def test_budget_is_per_client_ip_not_per_user(world: World) -> None:
    """§1: keyed by IP (X-Real-IP); X-Forwarded-For is ignored by default."""
    alice = world.add_user("alice")
    bob = world.add_user("bob")
    for _ in range(10):
        await world.call("GET", "me", auth=alice.auth)
    assert (await world.call("GET", "me", auth=bob.auth)).status == 429
    spoofed = await world.call("GET", "me", auth=bob.auth, headers={"X-Forwarded-For": "9.9.9.9"})
    assert spoofed.status == 429
    elsewhere = await world.call("GET", "me", auth=bob.auth, headers={"X-Real-IP": "10.0.0.2"})
    assert elsewhere.status == 200


@pytest.mark.parametrize("roles", [["admin"], ["user", "bot"]])
async def test_api_bypass_rate_limit_holders_are_not_limited(world: World, roles: list) -> None:
    """§1: users with api-bypass-rate-limit (admin, bot) get no limit and no headers."""
    account = world.admin if roles == ["admin"] else world.add_user("robo", roles=roles)
    for _ in range(12):
        reply = await world.call("GET", "me", auth=account.auth)
        assert reply.status == 200
        assert "X-RateLimit-Limit" not in reply.headers


async def test_limiter_can_be_switched_off_or_resized(world_factory: WorldFactory) -> None:
    """§1/§11: API_Enable_Rate_Limiter false → no limit; the default count is a setting."""
    async with world_factory(OVERWRITE_SETTING_API_Enable_Rate_Limiter="false") as world:
        alice = world.add_user("alice")
        for _ in range(12):
            reply = await world.call("GET", "me", auth=alice.auth)
            assert reply.status == 200 and "X-RateLimit-Limit" not in reply.headers
    async with world_factory(
        OVERWRITE_SETTING_API_Enable_Rate_Limiter_Limit_Calls_Default="2"
    ) as world:
        alice = world.add_user("alice")
        statuses = [(await world.call("GET", "me", auth=alice.auth)).status for _ in range(3)]
        assert statuses == [200, 200, 429]


async def test_401_comes_before_429_and_429_before_validation(world: World) -> None:
    """§1 route order: auth 401 → rate limit 429 → validateParams 400."""
    alice = world.add_user("alice")
    for _ in range(10):
        await world.call(
            "POST", "users.updateOwnBasicInfo", auth=alice.auth, json={"data": {"nickname": "a"}}
        )
    assert (await world.call("POST", "users.updateOwnBasicInfo", json={})).status == 401
    invalid = await world.call("POST", "users.updateOwnBasicInfo", auth=alice.auth, json={})
    assert invalid.status == 429


async def test_login_is_rate_limited_too(world: World) -> None:
    """§1: /login is an ordinary v1 route for the limiter (10 per minute per IP)."""
    world.add_user("alice")
    statuses = [
        (await world.call("POST", "login", json={"user": "alice", "password": "x"})).status
        for _ in range(11)
    ]
    assert statuses == [401] * 10 + [429]


def test_ddp_limiter_raises_too_many_requests_after_the_limit() -> None:
    """DDP helper: 5 calls per 1000 ms, then Meteor.Error('too-many-requests')."""
    state = SandboxState()
    for _ in range(5):
        ratelimit.check_ddp(state, "sendMessage:u1", 5, 1000)
    with pytest.raises(MeteorError) as raised:
        ratelimit.check_ddp(state, "sendMessage:u1", 5, 1000)
    assert raised.value.error == "too-many-requests"
    assert raised.value.reason is not None and "before trying again" in raised.value.reason
    ratelimit.check_ddp(state, "sendMessage:u2", 5, 1000)  # other key, own budget
    state.runtime["clock_offset"] = 2
    ratelimit.check_ddp(state, "sendMessage:u1", 5, 1000)


def test_function_limiter_spares_privileged_users() -> None:
    """setStatusText/setEmail limiter: only callers without edit-other-user-info count."""
    state = SandboxState()
    state.users["u"] = {"_id": "u", "roles": ["user"]}
    state.users["a"] = {"_id": "a", "roles": ["admin"]}
    state.permissions["edit-other-user-info"] = ["admin"]
    ratelimit.limit_unless_privileged(state, "setEmail", "u", 1, 60_000)
    with pytest.raises(MeteorError) as raised:
        ratelimit.limit_unless_privileged(state, "setEmail", "u", 1, 60_000)
    assert raised.value.error == "error-too-many-requests"
    for _ in range(3):
        ratelimit.limit_unless_privileged(state, "setEmail", "a", 1, 60_000)

"""Rocket.Chat 8.6's presence engine (PR #40274 and follow-ups), behaviour 7.4 does not have.

Sources: ee/packages/presence/src/lib/presenceEngine.ts (claims, priorities, previousState),
ee/packages/presence/src/Presence.ts (setActiveState, the expiry job), the users.setStatus
route in apps/meteor/app/api/server/v1/users.ts, apps/meteor/app/user-status/server/methods/
setUserStatus.ts and apps/meteor/server/methods/saveUserProfile.ts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.state import iso
from tests.rest_helpers import sandbox_call
from tests.sandbox.conftest import World, WorldFactory
from tests.sandbox.status_helpers import (
    connected,
    get_status,
    later,
    next_status_event,
    set_status,
    update,
    watching_status,
)


@pytest.fixture
async def world(world_factory: WorldFactory) -> AsyncIterator[World]:
    """8.6 with the REST limiter off (its users.setStatus allows 5 calls a minute)."""
    async with world_factory(
        SANDBOX_RC_VERSION="8.6.0", OVERWRITE_SETTING_API_Enable_Rate_Limiter="false"
    ) as running:
        yield running


async def claim(world: World, body: dict[str, object]) -> dict[str, object]:
    return await sandbox_call(world.url, "POST", "/sandbox/presence-claims", body)


async def test_a_timed_status_is_answered_stored_and_shown(world: World) -> None:
    """users.setStatus {status, message, expiresAt} (PR #40274/#41048): the answer carries
    `statusExpiresAt`; users.getStatus (Open-API PR #236), users.info and `me` show
    statusSource "manual" and the expiry; previousState and statusId stay internal."""
    alice = world.add_user("alice")
    expires = later(world, 3600)
    async with connected(world, alice):
        reply = await set_status(
            world, alice, {"status": "busy", "message": " Focus ", "expiresAt": expires}
        )
        assert reply.status == 200, reply.body
        assert reply.body == {"statusExpiresAt": expires, "success": True}
        own = await get_status(world, alice)
        assert own.body == {
            "_id": alice.user_id,
            "connectionStatus": "online",
            "status": "busy",
            "statusSource": "manual",
            "statusExpiresAt": expires,
            "success": True,
        }
        shown = await world.call(
            "GET", "users.info", auth=world.admin.auth, params={"username": "alice"}
        )
        user = shown.body["user"]
        assert (user["status"], user["statusText"]) == ("busy", "Focus")
        assert (user["statusSource"], user["statusExpiresAt"]) == ("manual", expires)
        me = (await world.call("GET", "me", auth=alice.auth)).body
        assert (me["statusDefault"], me["statusSource"], me["statusExpiresAt"]) == (
            "busy",
            "manual",
            expires,
        )
        assert "previousState" not in me and "statusId" not in user


@pytest.mark.parametrize(
    ("expires_at", "error"),
    [
        ("2020-01-01T00:00:00.000Z", "expiresAt must be a future date [error-invalid-date]"),
        (None, "expiresAt must be a future date [error-invalid-date]"),  # exactly now
        ("next tuesday", "Invalid expiresAt date string [error-invalid-date]"),
    ],
)
async def test_an_expiry_that_is_not_in_the_future_is_refused(
    world: World, expires_at: str | None, error: str
) -> None:
    """users.setStatus: `expiresAt <= now` → 400 error-invalid-date "expiresAt must be a future
    date" (PR #41048); an unreadable date → error-invalid-date too (PR #40274; the reason text
    of that one is the sandbox's wording: the PR's text is not in the sources read). Nothing
    changes."""
    alice = world.add_user("alice")
    world.advance(0.001)  # make "now" a whole millisecond
    sent = expires_at if expires_at is not None else iso(world.state.clock())
    reply = await set_status(world, alice, {"status": "busy", "expiresAt": sent})
    assert reply.status == 400
    assert (reply.body["error"], reply.body["errorType"]) == (error, "error-invalid-date")
    assert "statusSource" not in world.user(alice)
    assert world.user(alice).get("statusDefault", "online") == "online"


async def test_the_expiry_job_returns_the_user_to_online_on_the_sandbox_clock(
    world: World,
) -> None:
    """Presence.ts `processExpiredStatuses` at the soonest `statusExpiresAt`: a manual claim
    never keeps a waiting one, so its end is presenceEngine.ts RESET_TO_ONLINE (online, no
    text, no source or expiry), announced on user-status [uid, username, 1, "", null, null]."""
    alice, bob = world.add_user("alice"), world.add_user("bob")
    async with watching_status(world, bob) as watcher, connected(world, alice):
        await set_status(
            world, alice, {"status": "busy", "message": "Focus", "expiresAt": later(world, 1800)}
        )
        busy = await next_status_event(watcher, alice.user_id, 3)
        assert busy[3:5] == ["Focus", "manual"]
        world.advance(1799)
        assert world.user(alice)["status"] == "busy"
        await sandbox_call(world.url, "POST", "/sandbox/clock", {"advance": 2})
        assert await next_status_event(watcher, alice.user_id, 1, "") == [
            alice.user_id,
            "alice",
            1,
            "",
            None,
            None,
        ]
    user = world.user(alice)
    assert (user["statusDefault"], user["statusText"]) == ("online", "")
    assert not {"statusSource", "statusExpiresAt", "previousState"} & set(user)


async def test_the_expiry_job_fires_by_itself_as_time_passes(world: World) -> None:
    """Presence.ts keeps a timer armed for the soonest expiry (setupNextExpiration, PR
    #41047): without any call, the status reverts once its time has come."""
    alice, bob = world.add_user("alice"), world.add_user("bob")
    async with watching_status(world, bob) as watcher, connected(world, alice):
        await set_status(world, alice, {"status": "busy", "expiresAt": later(world, 0.3)})
        await next_status_event(watcher, alice.user_id, 3)
        await next_status_event(watcher, alice.user_id, 1, "")
    assert "statusExpiresAt" not in world.user(alice)


async def test_a_waiting_calendar_claim_comes_back_when_the_manual_one_ends(
    world: World,
) -> None:
    """presenceEngine.ts resolveIntent: a lower claim (external, a calendar) waits in
    previousState while a manual one is active; when the manual one expires the calendar's
    comes back with its own text, source and expiry, and expires in turn."""
    alice = world.add_user("alice")
    async with connected(world, alice):
        await set_status(
            world, alice, {"status": "busy", "message": "Focus", "expiresAt": later(world, 3600)}
        )
        meeting_ends = later(world, 7200)
        answer = await claim(
            world,
            {
                "user": "alice",
                "claim": "set",
                "statusDefault": "away",
                "statusSource": "external",
                "statusText": "In a meeting",
                "statusExpiresAt": meeting_ends,
                "statusId": "calendar",
            },
        )
        assert answer["applied"] is True
        user = world.user(alice)
        assert (user["statusText"], user["previousState"]["statusText"]) == (
            "Focus",
            "In a meeting",
        )
        world.advance(3601)
        assert (user["status"], user["statusText"], user["statusSource"]) == (
            "away",
            "In a meeting",
            "external",
        )
        assert iso(user["statusExpiresAt"]) == meeting_ends and user["statusId"] == "calendar"
        assert "previousState" not in user
        world.advance(3600)
        assert (user["status"], user["statusText"]) == ("online", "")


async def test_a_call_displaces_the_manual_status_and_gives_it_back(world: World) -> None:
    """presenceEngine.ts: an internal claim (a call) outranks the manual one and stashes it;
    ending the call by its statusId restores the manual status with its expiry; ending an
    unknown statusId changes nothing."""
    alice = world.add_user("alice")
    async with connected(world, alice):
        focus_ends = later(world, 3600)
        await set_status(
            world, alice, {"status": "away", "message": "Focus", "expiresAt": focus_ends}
        )
        call = {
            "user": "alice",
            "claim": "set",
            "statusDefault": "busy",
            "statusSource": "internal",
        }
        await claim(world, {**call, "statusText": "On a call", "statusId": "call-1"})
        user = world.user(alice)
        assert (user["status"], user["statusText"], user["statusSource"]) == (
            "busy",
            "On a call",
            "internal",
        )
        assert "statusExpiresAt" not in user
        unknown = await claim(world, {"user": "alice", "claim": "end", "statusId": "call-9"})
        assert unknown["applied"] is False and user["statusText"] == "On a call"
        await claim(world, {"user": "alice", "claim": "end", "statusId": "call-1"})
        assert (user["status"], user["statusText"], user["statusSource"]) == (
            "away",
            "Focus",
            "manual",
        )
        assert iso(user["statusExpiresAt"]) == focus_ends


async def test_a_new_manual_status_drops_the_waiting_claim(world: World) -> None:
    """presenceEngine.ts: "manual is the user's explicit intent: it never stashes and clears
    any queued claim" — after it expires nothing comes back."""
    alice = world.add_user("alice")
    await set_status(
        world, alice, {"status": "busy", "message": "Focus", "expiresAt": later(world, 600)}
    )
    await claim(
        world,
        {
            "user": "alice",
            "claim": "set",
            "statusDefault": "busy",
            "statusSource": "external",
            "statusText": "Meeting",
        },
    )
    assert world.user(alice)["previousState"]["statusText"] == "Meeting"
    await set_status(
        world, alice, {"status": "busy", "message": "Deep work", "expiresAt": later(world, 600)}
    )
    assert "previousState" not in world.user(alice)
    world.advance(601)
    assert (world.user(alice)["statusDefault"], world.user(alice)["statusText"]) == ("online", "")


async def test_a_manual_away_is_kept_as_a_manual_claim(world: World) -> None:
    """What 8.6 does with a manual Away: it is neither refused nor overridden. users.setStatus,
    setUserStatus and updateOwnBasicInfo's statusType all make it a manual claim
    (statusDefault "away", statusSource "manual"); while connected, presenceEngine.ts
    computeStatus shows the claim, not the connection, and a new connection does not change
    it. Only the clients stopped offering Away (PR #40469; Rocket.Chat.ReactNative #7392)."""
    alice = world.add_user("alice")
    async with connected(world, alice) as session:
        for how in ("users.setStatus", "setUserStatus", "users.updateOwnBasicInfo"):
            await set_status(world, alice, {"status": "online"})
            assert world.user(alice)["status"] == "online"
            if how == "users.setStatus":
                assert (await set_status(world, alice, {"status": "away"})).status == 200
            elif how == "setUserStatus":
                assert "error" not in await session.method("setUserStatus", "away")
            else:
                assert (await update(world, alice, {"statusType": "away"})).status == 200
            user = world.user(alice)
            assert (user["status"], user["statusDefault"], user["statusSource"]) == (
                "away",
                "away",
                "manual",
            ), how
        async with connected(world, alice):
            assert world.user(alice)["status"] == "away"


async def test_update_own_basic_info_status_type_is_an_untimed_manual_claim(
    world: World,
) -> None:
    """saveUserProfile.ts calls setUserStatusMethod twice (the text alone, then the type
    alone); in 8.6 the type becomes a manual claim without text or expiry, so it drops a timed
    status's expiry and keeps its text — and 'online' clears every claim, text included, even
    the text sent in the same call (setUserStatus.ts: online without text → clearActiveState)."""
    alice = world.add_user("alice")
    await set_status(
        world, alice, {"status": "busy", "message": "Focus", "expiresAt": later(world, 3600)}
    )
    assert (await update(world, alice, {"statusType": "away"})).status == 200
    user = world.user(alice)
    assert (user["statusDefault"], user["statusText"], user["statusSource"]) == (
        "away",
        "Focus",
        "manual",
    )
    assert "statusExpiresAt" not in user
    reply = await update(world, alice, {"statusType": "online", "statusText": "Back at my desk"})
    assert reply.status == 200
    assert (user["statusDefault"], user["statusText"]) == ("online", "")
    assert "statusSource" not in user
    text_only = await update(world, alice, {"statusText": "Back at my desk"})
    assert text_only.body["user"]["statusText"] == "Back at my desk"
    assert "statusSource" not in world.user(alice)


async def test_a_rest_only_bot_keeps_its_claimed_status(world: World) -> None:
    """presenceEngine.ts processPresence: without a connection a human shows offline, but a
    bot or app keeps the status it claims (disconnectedStatus)."""
    human, bot = world.add_user("alice"), world.add_user("helper", roles=["user", "bot"])
    await set_status(world, human, {"status": "busy"})
    await set_status(world, bot, {"status": "busy"})
    assert (world.user(human)["status"], world.user(human)["statusDefault"]) == ("offline", "busy")
    assert world.user(bot)["status"] == "busy"


async def test_presence_claims_control_is_refused_by_7x(world_factory: WorldFactory) -> None:
    """§11 /sandbox/presence-claims exists for the 8.6 engine only."""
    async with world_factory() as world74:
        world74.add_user("alice")
        async with world74.http.post(
            f"{world74.url}/sandbox/presence-claims",
            json={"user": "alice", "claim": "end"},
        ) as response:
            assert response.status == 400
            assert "8.6" in (await response.json())["error"]


async def test_an_expiry_that_passed_while_the_server_was_down_is_ended_at_start(
    world_factory: WorldFactory, tmp_path: Path
) -> None:
    """Presence.ts started() runs handleExpirationJob before arming the timer, and
    Users.findNextStatusExpiration includes overdue expiries (PR #41047): a status whose time
    came while the server was stopped reverts as soon as it is back."""
    data = tmp_path / "world.json"
    env = {"SANDBOX_RC_VERSION": "8.6.0", "OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false"}
    async with world_factory(data_file=data, **env) as first:
        alice = first.add_user("alice")
        await set_status(first, alice, {"status": "busy", "expiresAt": later(first, 0.2)})
        assert first.user(alice)["statusDefault"] == "busy"  # stopped before the timer fired
    await asyncio.sleep(0.3)
    async with world_factory(data_file=data, **env) as second:
        user = second.user(alice)
        assert (user["statusDefault"], user.get("statusExpiresAt")) == ("online", None)

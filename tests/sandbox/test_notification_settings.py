"""A member's notification preferences per room, and what a delegated token's session hears.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/rooms.ts (`rooms.saveNotification`),
apps/meteor/app/push-notifications/server/methods/saveNotificationSettings.ts (the DDP method
and the fields it accepts), apps/meteor/app/utils/server/getUserNotificationPreference.ts
(`default`), apps/meteor/app/lib/server/lib/sendNotificationsOnMessage.ts (a member with
notifications disabled, or desktop notifications set to nothing, gets no desktop notification),
apps/meteor/server/methods/ignoreUser.ts and the REST route chat.ignoreUser (chat.ts), and for
the session of a personal access token: apps/meteor/server/modules/listeners/
listeners.module.ts (`__my_messages__` with roomParticipant) and the resume login handler that
accepts a personal access token (its hashed token is one of the user's resume tokens).
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.ddp_client import Realtime, User

USER_STREAM = "stream-notify-user"
ROOM_MESSAGES = "stream-room-messages"


async def _save(realtime: Realtime, user: User, room_id: str, **notifications: Any) -> Any:
    return await realtime.rest(
        "POST",
        "rooms.saveNotification",
        user,
        json={"roomId": room_id, "notifications": notifications},
    )


async def _subscription(realtime: Realtime, user: User, room_id: str) -> dict[str, Any]:
    reply = await realtime.rest("GET", "subscriptions.getOne", user, params={"roomId": room_id})
    return dict(reply.body["subscription"])


async def test_save_notification_keeps_the_preferences_on_the_subscription(
    realtime: Realtime,
) -> None:
    """rooms.saveNotification: each key saved on the caller's subscription; `<uid>/
    subscriptions-changed` announces the change (notifyOnSubscriptionChangedById)."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        await client.sub(USER_STREAM, f"{alice.user_id}/subscriptions-changed", False)
        reply = await _save(
            realtime, alice, "GENERAL", disableNotifications="1", desktopNotifications="nothing"
        )
        assert reply.status == 200 and reply.body == {"success": True}
        action, changed = await client.event(USER_STREAM, f"{alice.user_id}/subscriptions-changed")
        assert action == "updated" and changed["rid"] == "GENERAL"
    saved = await _subscription(realtime, alice, "GENERAL")
    assert saved["disableNotifications"] is True
    assert saved["desktopNotifications"] == "nothing"
    assert saved["desktopPrefOrigin"] == "subscription"
    await _save(realtime, alice, "GENERAL", disableNotifications="0")
    assert (await _subscription(realtime, alice, "GENERAL"))["disableNotifications"] is False


async def test_save_notification_refusals(realtime: Realtime) -> None:
    """rooms.saveNotification: roomId and a non-empty notifications are required (failure);
    an unknown field or value is error-invalid-settings, a room the caller is not in
    error-invalid-subscription (Meteor errors of saveNotificationSettingsMethod)."""
    alice = await realtime.user("alice")
    no_room = await realtime.rest(
        "POST", "rooms.saveNotification", alice, json={"notifications": {"x": "1"}}
    )
    assert no_room.status == 400
    assert no_room.body == {"success": False, "error": "The 'roomId' param is required"}
    empty = await _save(realtime, alice, "GENERAL")
    assert empty.body == {"success": False, "error": "The 'notifications' param is required"}
    field = await _save(realtime, alice, "GENERAL", loudness="11")
    assert field.status == 400
    assert field.body["errorType"] == "error-invalid-settings"
    assert field.body["error"] == "Invalid settings field [error-invalid-settings]"
    value = await _save(realtime, alice, "GENERAL", desktopNotifications="sometimes")
    assert value.body["error"] == "Invalid settings value [error-invalid-settings]"
    group = await realtime.rest("POST", "groups.create", realtime.admin, json={"name": "hush"})
    outside = await _save(realtime, alice, group.body["group"]["_id"], disableNotifications="1")
    assert outside.body["errorType"] == "error-invalid-subscription"
    assert outside.body["error"] == "Invalid subscription [error-invalid-subscription]"


async def test_ddp_save_notification_settings_and_default(realtime: Realtime) -> None:
    """saveNotificationSettings(roomId, field, value) → true; `default` copies the user's own
    preference (origin user) or, without one, removes the field; strings only; logged in only."""
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as client:
        frame = await client.call("saveNotificationSettings", "GENERAL", "muteGroupMentions", "1")
        assert frame["result"] is True
        await client.call("saveNotificationSettings", "GENERAL", "desktopNotifications", "all")
        await client.call("saveNotificationSettings", "GENERAL", "desktopNotifications", "default")
        saved = await _subscription(realtime, alice, "GENERAL")
        assert saved["muteGroupMentions"] is True
        assert "desktopNotifications" not in saved and "desktopPrefOrigin" not in saved
        await realtime.rest(
            "POST",
            "users.setPreferences",
            alice,
            json={"data": {"desktopNotifications": "mentions"}},
        )
        await client.call("saveNotificationSettings", "GENERAL", "desktopNotifications", "default")
        saved = await _subscription(realtime, alice, "GENERAL")
        assert saved["desktopNotifications"] == "mentions"
        assert saved["desktopPrefOrigin"] == "user"
        wrong = await client.call("saveNotificationSettings", "GENERAL", "disableNotifications", 1)
        assert wrong["error"]["error"] == 400 and wrong["error"]["reason"] == "Match failed"
    async with realtime.ddp() as anonymous:
        refused = await anonymous.call("saveNotificationSettings", "GENERAL", "x", "1")
        assert refused["error"]["error"] == "error-invalid-user"


async def test_notifications_off_or_nothing_send_no_desktop_notification(
    realtime: Realtime,
) -> None:
    """sendNotificationsOnMessage: disableNotifications drops the member from the query, and
    desktopNotifications 'nothing' fails shouldNotifyDesktop; the DM itself still arrives."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(bob, alice)
    async with realtime.ddp(alice) as client:
        await client.sub(USER_STREAM, f"{alice.user_id}/notification", False)
        await client.sub(ROOM_MESSAGES, "__my_messages__", False)
        await _save(realtime, alice, rid, disableNotifications="1")
        await realtime.post(bob, rid, "muted one")
        await client.wait_for(client.changed(ROOM_MESSAGES, "__my_messages__"))
        await client.expect_none(client.changed(USER_STREAM, f"{alice.user_id}/notification"))
        await _save(realtime, alice, rid, disableNotifications="0", desktopNotifications="nothing")
        await realtime.post(bob, rid, "muted two")
        await client.expect_none(client.changed(USER_STREAM, f"{alice.user_id}/notification"))
        await _save(realtime, alice, rid, desktopNotifications="all")
        await realtime.post(bob, rid, "heard")
        (note,) = await client.event(USER_STREAM, f"{alice.user_id}/notification")
        assert note["payload"]["message"] == {"msg": "heard"}


async def test_a_personal_access_tokens_session_hears_the_persons_messages(
    realtime: Realtime,
) -> None:
    """A personal access token logs in over DDP (resume), and that session's __my_messages__
    carries the person's DMs, group DMs and thread replies, each with roomParticipant and the
    room type; a public channel they left arrives with roomParticipant false."""
    alice, bob, carol = [await realtime.user(n) for n in ("alice", "bob", "carol")]
    token = await realtime.rest(
        "POST",
        "users.generatePersonalAccessToken",
        alice,
        json={"tokenName": "ooo", "bypassTwoFactor": True},
        headers={"X-2fa-Code": _sha256(alice.password), "X-2fa-Method": "password"},
    )
    assert token.status == 200, token.body
    delegated = User(alice.user_id, "alice", alice.password, token.body["token"])
    direct = await realtime.dm(bob, alice)
    group = await realtime.rest("POST", "im.create", bob, json={"usernames": "alice,carol"})
    group_id = group.body["room"]["rid"]
    async with realtime.ddp(delegated) as client:
        await client.sub(ROOM_MESSAGES, "__my_messages__", False)
        await realtime.post(bob, direct, "one to one")
        root = await realtime.post(carol, group_id, "to both of you")
        await realtime.post(bob, group_id, "in the thread", tmid=root["_id"])
        await realtime.rest("POST", "channels.leave", alice, json={"roomId": "GENERAL"})
        await realtime.post(bob, "GENERAL", "after she left")
        by_text: dict[str, dict[str, Any]] = {}
        while "after she left" not in by_text:  # re-sent copies (thread counters) overwrite
            frame = await client.wait_for(client.changed(ROOM_MESSAGES, "__my_messages__"))
            message, extra = frame["fields"]["args"]
            if message.get("t") is None:
                by_text[message["msg"]] = extra
    assert by_text["one to one"] == {"roomParticipant": True, "roomType": "d"}
    assert by_text["to both of you"]["roomType"] == "d"
    assert by_text["in the thread"]["roomParticipant"] is True
    assert by_text["after she left"]["roomParticipant"] is False


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_ignoring_a_member_of_a_room(realtime: Realtime) -> None:
    """ignoreUser / chat.ignoreUser: the ignored id joins the subscription's `ignored`, and
    leaves it with ignore=false; both people must be in the room (error-invalid-subscription)."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    reply = await realtime.rest(
        "GET", "chat.ignoreUser", alice, params={"rid": "GENERAL", "userId": bob.user_id}
    )
    assert reply.body == {"success": True}
    assert (await _subscription(realtime, alice, "GENERAL"))["ignored"] == [bob.user_id]
    async with realtime.ddp(alice) as client:
        frame = await client.call(
            "ignoreUser", {"rid": "GENERAL", "userId": bob.user_id, "ignore": False}
        )
        assert frame["result"] is True
        assert (await _subscription(realtime, alice, "GENERAL"))["ignored"] == []
        stranger = await client.call("ignoreUser", {"rid": "GENERAL", "userId": "nobody"})
        assert stranger["error"]["error"] == "error-invalid-subscription"
    missing = await realtime.rest("GET", "chat.ignoreUser", alice, params={"rid": "GENERAL"})
    assert missing.body["errorType"] == "error-user-id-param-not-provided"

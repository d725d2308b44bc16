"""Rooms, subscriptions and the message object (reference §7, §9) as Rocket.Chat shapes them."""

from __future__ import annotations

from typing import Any

from sandbox import markdown, rooms
from sandbox.state import SandboxState
from tests.ddp_client import Realtime, User, unique


def sub_of(realtime: Realtime, room_id: str, user: User) -> dict[str, Any]:
    """The user's subscription to the room (which must exist)."""
    sub = realtime.state.subscription(room_id, user.user_id)
    assert sub is not None
    return sub


async def test_general_exists_as_on_a_fresh_server(realtime: Realtime) -> None:
    """§7: the public channel `general` exists from the start with _id GENERAL."""
    room = realtime.state.rooms["GENERAL"]
    assert (room["_id"], room["t"], room["name"], room["default"]) == (
        "GENERAL",
        "c",
        "general",
        True,
    )
    assert room["msgs"] >= 0 and "ts" in room and "_updatedAt" in room


def test_ensure_general_is_idempotent() -> None:
    """§7: ensure_general creates GENERAL once and returns the same room after."""
    state = SandboxState()
    first = rooms.ensure_general(state)
    assert rooms.ensure_general(state) is first
    assert list(state.rooms) == ["GENERAL"]


async def test_new_user_joins_general_with_a_subscription(realtime: Realtime) -> None:
    """§7: every new user joins general; the subscription is shaped like Rocket.Chat's."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "subscriptions.get", alice)
    (sub,) = reply.body["update"]
    assert sub["rid"] == "GENERAL" and sub["name"] == "general" and sub["t"] == "c"
    assert sub["u"] == {"_id": alice.user_id, "username": "alice", "name": "Alice"}
    assert (sub["open"], sub["alert"], sub["unread"], sub["userMentions"]) == (True, True, 1, 1)
    assert sub["groupMentions"] == 0
    assert sub["ts"].endswith("Z") and sub["_updatedAt"].endswith("Z")
    assert isinstance(sub["_id"], str) and len(sub["_id"]) == 17


async def test_joining_general_saves_a_user_joined_message(realtime: Realtime) -> None:
    """§9: a join is a system message t:'uj' whose msg is the username."""
    alice = await realtime.user("alice")
    joined = [
        m
        for m in realtime.state.messages.values()
        if m.get("t") == "uj" and m["u"]["_id"] == alice.user_id
    ]
    assert len(joined) == 1
    assert joined[0]["rid"] == "GENERAL" and joined[0]["msg"] == "alice"
    assert joined[0]["groupable"] is False


async def test_joining_bumps_users_count(realtime: Realtime) -> None:
    """§7: usersCount follows the subscriptions."""
    before = realtime.state.rooms["GENERAL"]["usersCount"]
    await realtime.user("alice")
    assert realtime.state.rooms["GENERAL"]["usersCount"] == before + 1


async def test_dm_room_id_is_the_sorted_user_ids(realtime: Realtime) -> None:
    """§7: a two-person DM is `t:'d'` with _id = both user ids sorted and joined."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(bob, alice)
    room = realtime.state.rooms[rid]
    assert rid == "".join(sorted([alice.user_id, bob.user_id]))
    assert room["t"] == "d" and room["usersCount"] == 2 and room["msgs"] == 0
    assert room["usernames"] == ["alice", "bob"]
    assert room["uids"] == sorted([alice.user_id, bob.user_id])


async def test_dm_subscriptions_are_named_after_the_other_user(realtime: Realtime) -> None:
    """§7: each DM subscription carries the other member's username (name) and name (fname)."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(bob, alice)
    mine = realtime.state.subscription(rid, alice.user_id)
    theirs = realtime.state.subscription(rid, bob.user_id)
    assert mine is not None and theirs is not None
    assert (mine["name"], mine["fname"], mine["open"]) == ("bob", "Bob", False)
    assert (theirs["name"], theirs["fname"], theirs["open"]) == ("alice", "Alice", True)


async def test_dm_with_oneself_is_allowed(realtime: Realtime) -> None:
    """§7: Message_AllowDirectMessagesToYourself (default on) allows a self-DM."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("POST", "im.create", alice, json={"username": "alice"})
    assert reply.status == 200, reply.body
    assert reply.body["room"]["usernames"] == ["alice"]


async def test_dm_with_oneself_when_disallowed(realtime: Realtime) -> None:
    """§7: with the setting off, a self-DM is error-invalid-user."""
    alice = await realtime.user("alice")
    realtime.state.settings["Message_AllowDirectMessagesToYourself"] = False
    reply = await realtime.rest("POST", "im.create", alice, json={"username": "alice"})
    assert reply.body["errorType"] == "error-invalid-user"


async def test_public_channel_is_accessible_without_joining(realtime: Realtime) -> None:
    """§7: canAccessRoom: a public channel with view-c-room; a DM only for its members."""
    alice, bob, eve = [await realtime.user(n) for n in ("alice", "bob", "eve")]
    reply = await realtime.rest("POST", "channels.create", alice, json={"name": unique("pub")})
    channel = reply.body["channel"]
    rid = await realtime.dm(alice, bob)
    state = realtime.state
    assert rooms.can_access_room(state, state.rooms[channel["_id"]], eve.user_id)
    assert rooms.can_access_room(state, state.rooms[rid], bob.user_id)
    assert not rooms.can_access_room(state, state.rooms[rid], eve.user_id)
    assert not rooms.can_access_room(state, state.rooms[rid], None)


async def test_room_last_message_follows_new_messages(realtime: Realtime) -> None:
    """§7: a message sets the room's lastMessage, lm and msgs."""
    alice = await realtime.user("alice")
    msgs = realtime.state.rooms["GENERAL"]["msgs"]
    sent = await realtime.post(alice, "GENERAL", "latest news")
    room = realtime.state.rooms["GENERAL"]
    assert room["lastMessage"]["_id"] == sent["_id"]
    assert room["lm"] == room["lastMessage"]["ts"]
    assert room["msgs"] == msgs + 1


async def test_deleting_the_last_message_restores_the_previous_one(realtime: Realtime) -> None:
    """§7: deleting the last message makes the previous visible one lastMessage."""
    alice = await realtime.user("alice")
    first = await realtime.post(alice, "GENERAL", "first")
    second = await realtime.post(alice, "GENERAL", "second")
    await realtime.rest(
        "POST", "chat.delete", alice, json={"msgId": second["_id"], "roomId": "GENERAL"}
    )
    assert realtime.state.rooms["GENERAL"]["lastMessage"]["_id"] == first["_id"]


# -- the message object (§9) ---------------------------------------------------------------------


async def test_plain_text_message_has_no_type(realtime: Realtime) -> None:
    """§9: `t` is absent for normal user text."""
    alice = await realtime.user("alice")
    message = await realtime.post(alice, "GENERAL", "just text")
    assert "t" not in message
    assert {"_id", "rid", "msg", "ts", "u", "_updatedAt"} <= set(message)


async def test_mentions_channels_and_urls_are_parsed(realtime: Realtime) -> None:
    """§9: mentions[{_id,username,name,type}], channels[{_id,name}], urls[{url}]."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    message = await realtime.post(
        alice, "GENERAL", "hey @bob and @all, see #general at https://example.com/x ok"
    )
    assert message["mentions"] == [
        {"_id": "all", "username": "all"},
        {"_id": bob.user_id, "username": "bob", "name": "Bob", "type": "user"},
    ]
    assert message["channels"] == [{"_id": "GENERAL", "name": "general"}]
    assert message["urls"] == [{"url": "https://example.com/x"}]


async def test_unknown_mentions_are_left_out(realtime: Realtime) -> None:
    """§9: only existing users are mentions."""
    alice = await realtime.user("alice")
    message = await realtime.post(alice, "GENERAL", "hello @nobody")
    assert message["mentions"] == []


async def test_md_is_a_paragraph_ast(realtime: Realtime) -> None:
    """§9: md is the parsed AST (paragraph of plain text, mention, link)."""
    alice = await realtime.user("alice")
    await realtime.user("bob")
    message = await realtime.post(alice, "GENERAL", "hi @bob https://x.io")
    assert message["md"] == [
        {
            "type": "PARAGRAPH",
            "value": [
                {"type": "PLAIN_TEXT", "value": "hi "},
                {"type": "MENTION_USER", "value": {"type": "PLAIN_TEXT", "value": "bob"}},
                {"type": "PLAIN_TEXT", "value": " "},
                {
                    "type": "LINK",
                    "value": {
                        "src": {"type": "PLAIN_TEXT", "value": "https://x.io"},
                        "label": [{"type": "PLAIN_TEXT", "value": "https://x.io"}],
                    },
                },
            ],
        }
    ]


def test_md_splits_lines_into_paragraphs() -> None:
    """§9: each line is a paragraph; an empty line is a LINE_BREAK."""
    assert markdown.parse("a\n\nb :smile:") == [
        {"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": "a"}]},
        {"type": "LINE_BREAK"},
        {
            "type": "PARAGRAPH",
            "value": [
                {"type": "PLAIN_TEXT", "value": "b "},
                {
                    "type": "EMOJI",
                    "value": {"type": "PLAIN_TEXT", "value": "smile"},
                    "shortCode": "smile",
                },
            ],
        },
    ]


def test_mention_parser_ignores_email_addresses() -> None:
    """§9: `a@b.c` is not a mention; `@name` after a space is."""
    assert markdown.user_mentions("mail me at a@b.c, @carol") == ["carol"]
    assert markdown.channel_mentions("see #general and x#y") == ["general"]


async def test_thread_parent_counts_replies(realtime: Realtime) -> None:
    """§9: tcount/tlm/replies on the parent; tmid on the reply."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    parent = await realtime.post(alice, "GENERAL", "topic")
    one = await realtime.post(bob, "GENERAL", "one", tmid=parent["_id"])
    await realtime.post(alice, "GENERAL", "two", tmid=parent["_id"])
    reply = await realtime.rest("GET", "chat.getMessage", alice, params={"msgId": parent["_id"]})
    stored: dict[str, Any] = reply.body["message"]
    assert stored["tcount"] == 2
    assert stored["replies"] == [alice.user_id, bob.user_id]
    assert one["tmid"] == parent["_id"]
    assert stored["tlm"] >= one["ts"]


async def test_thread_replies_do_not_change_last_message(realtime: Realtime) -> None:
    """§7: a thread reply (without tshow) is not the room's lastMessage."""
    alice = await realtime.user("alice")
    parent = await realtime.post(alice, "GENERAL", "topic")
    await realtime.post(alice, "GENERAL", "hidden reply", tmid=parent["_id"])
    assert realtime.state.rooms["GENERAL"]["lastMessage"]["_id"] == parent["_id"]


async def test_mention_counts_on_subscriptions(realtime: Realtime) -> None:
    """§7: in channels only mentions raise unread (Unread_Count default)."""
    alice, bob, carol = [await realtime.user(n) for n in ("alice", "bob", "carol")]
    before_bob = sub_of(realtime, "GENERAL", bob)["unread"]
    before_carol = sub_of(realtime, "GENERAL", carol)["unread"]
    await realtime.post(alice, "GENERAL", "hi @bob")
    bob_sub = sub_of(realtime, "GENERAL", bob)
    carol_sub = sub_of(realtime, "GENERAL", carol)
    assert bob_sub["unread"] == before_bob + 1 and bob_sub["alert"] is True
    assert carol_sub["unread"] == before_carol


async def test_dm_messages_raise_unread(realtime: Realtime) -> None:
    """§7: in DMs every message raises the receiver's unread (Unread_Count_DM default)."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    rid = await realtime.dm(alice, bob)
    await realtime.post(alice, rid, "1")
    await realtime.post(alice, rid, "2")
    assert sub_of(realtime, rid, bob)["unread"] == 2
    assert sub_of(realtime, rid, alice)["unread"] == 0


async def test_channel_members_lists_active_members_sorted_and_paged(realtime: Realtime) -> None:
    """channels.members: members of the channel by roomName, sorted by username, paged."""
    alice, bob = await realtime.user("alice"), await realtime.user("bob")
    name = unique("team")
    created = await realtime.rest(
        "POST", "channels.create", realtime.admin, json={"name": name, "members": ["bob", "alice"]}
    )
    assert created.status == 200, created.body
    reply = await realtime.rest("GET", "channels.members", alice, params={"roomName": name})
    assert reply.status == 200, reply.body
    usernames = [m["username"] for m in reply.body["members"]]
    assert usernames == sorted(usernames) and {"alice", "bob"} <= set(usernames)
    assert reply.body["total"] == len(usernames) and reply.body["offset"] == 0
    assert all("emails" not in m and "services" not in m for m in reply.body["members"])
    page = await realtime.rest(
        "GET", "channels.members", bob, params={"roomName": name, "count": "1", "offset": "1"}
    )
    assert page.body["count"] == 1 and page.body["members"][0]["username"] == usernames[1]


async def test_channel_members_of_an_unknown_channel(realtime: Realtime) -> None:
    """channels.members: findChannelByIdOrName's error for a name that matches nothing."""
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "channels.members", alice, params={"roomName": "nowhere"})
    assert reply.status == 400 and reply.body["errorType"] == "error-room-not-found"

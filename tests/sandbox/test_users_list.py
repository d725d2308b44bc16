"""users.list and users.setPreferences.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/users.ts (users.list needs view-d-room; the
fields a caller sees come from getNonEmptyFields merged with parseJsonQuery's exclusions, so
non-admins get no emails/roles/lastLogin; the query is checked by isValidQuery with
`$or`/`$and`; `nameInsensitive` is added by the aggregation), app/api/server/lib/users.ts,
app/api/server/helpers/parseJsonQuery.ts, rest-typings' UsersSetPreferenceParamsPOST and
server/methods/saveUserPreferences.ts.
"""

from __future__ import annotations

from tests.ddp_client import Realtime


async def test_a_user_sees_everyone_but_not_their_private_fields(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    await realtime.user("bob", name="Bob Builder")
    reply = await realtime.rest("GET", "users.list", alice)
    assert reply.status == 200, reply.body
    usernames = [u["username"] for u in reply.body["users"]]
    assert usernames == sorted(usernames) and {"alice", "bob", "admin"} <= set(usernames)
    bob = next(u for u in reply.body["users"] if u["username"] == "bob")
    assert set(bob) == {"_id", "name", "username", "status", "active", "type", "nameInsensitive"}
    assert bob["nameInsensitive"] == "bob builder"
    total = len(realtime.state.users)
    assert (reply.body["count"], reply.body["offset"], reply.body["total"]) == (total, 0, total)


async def test_an_admin_also_sees_emails_roles_and_last_login(realtime: Realtime) -> None:
    await realtime.user("bob")
    reply = await realtime.rest(
        "GET", "users.list", realtime.admin, params={"query": '{"username":"bob"}'}
    )
    assert [u["username"] for u in reply.body["users"]] == ["bob"]
    bob = reply.body["users"][0]
    assert bob["emails"][0]["address"] == "bob@example.com" and bob["roles"] == ["user"]
    assert "services" not in bob


async def test_paging_sorting_and_querying(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    for name in ("carl", "bert", "dora"):
        await realtime.user(name)
    page = await realtime.rest(
        "GET",
        "users.list",
        alice,
        params={"query": '{"username":{"$regex":"^(bert|carl|dora)$"}}', "count": "2"},
    )
    assert [u["username"] for u in page.body["users"]] == ["bert", "carl"]
    assert (page.body["count"], page.body["total"]) == (2, 3)
    backwards = await realtime.rest(
        "GET",
        "users.list",
        alice,
        params={
            "query": '{"$or":[{"username":"bert"},{"username":"dora"}]}',
            "sort": '{"username":-1}',
            "offset": "1",
        },
    )
    assert [u["username"] for u in backwards.body["users"]] == ["bert"]
    assert (backwards.body["offset"], backwards.body["total"]) == (1, 2)


async def test_queries_on_hidden_or_unknown_fields_are_refused(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    reply = await realtime.rest("GET", "users.list", alice, params={"query": '{"bio":"x"}'})
    assert reply.body == {
        "success": False,
        "error": "Invalid attribute: bio [error-invalid-query]",
        "errorType": "error-invalid-query",
    }
    # A non-admin's query on emails is dropped by parseJsonQuery (a limited field), so it
    # does not narrow anything.
    hidden = await realtime.rest(
        "GET", "users.list", alice, params={"query": '{"emails.address":"bob@example.com"}'}
    )
    assert hidden.body["total"] == len(realtime.state.users)


async def test_users_list_needs_view_d_room(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    realtime.state.permissions["view-d-room"] = ["admin"]
    reply = await realtime.rest("GET", "users.list", alice)
    assert reply.status == 403
    assert reply.body == {
        "success": False,
        "error": "User does not have the permissions required for this action "
        "[error-unauthorized]",
    }


async def test_set_preferences_saves_and_answers_them(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    body = {"data": {"useEmojis": False, "language": "de", "emailNotificationMode": "all"}}
    reply = await realtime.rest("POST", "users.setPreferences", alice, json=body)
    assert reply.status == 200, reply.body
    assert reply.body == {
        "user": {
            "_id": alice.user_id,
            "settings": {
                "preferences": {
                    "useEmojis": False,
                    "emailNotificationMode": "mentions",  # old value mapped
                    "language": "de",
                }
            },
        },
        "success": True,
    }
    stored = realtime.state.users[alice.user_id]
    assert stored["language"] == "de" and stored["settings"]["preferences"]["useEmojis"] is False


async def test_set_preferences_validates_and_guards_other_users(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    unknown = await realtime.rest(
        "POST", "users.setPreferences", alice, json={"data": {"favouriteColour": "red"}}
    )
    assert unknown.body["error"] == "must NOT have additional properties [invalid-params]"
    others = await realtime.rest(
        "POST",
        "users.setPreferences",
        alice,
        json={"userId": bob.user_id, "data": {"useEmojis": False}},
    )
    assert others.body == {
        "success": False,
        "error": "Editing user is not allowed [error-action-not-allowed]",
        "errorType": "error-action-not-allowed",
    }
    admin = await realtime.rest(
        "POST",
        "users.setPreferences",
        realtime.admin,
        json={"userId": bob.user_id, "data": {"hideRoles": True}},
    )
    assert admin.body["user"]["settings"]["preferences"] == {"hideRoles": True}
    nobody = await realtime.rest(
        "POST",
        "users.setPreferences",
        realtime.admin,
        json={"userId": "nobody", "data": {}},
    )
    assert nobody.body["errorType"] == "error-invalid-user"

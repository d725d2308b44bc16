"""users.register, users.create, users.info and users.setStatus (reference §1, §6)."""

from __future__ import annotations

import json
from typing import Any

from tests.sandbox.conftest import Account, World, WorldFactory


def new_user(username: str, **extra: Any) -> dict[str, Any]:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "password": "pw-1234",
        "name": username.title(),
        **extra,
    }


async def test_create_by_admin_returns_the_user_without_services(world: World) -> None:
    """users.create (create-user): the new user, unverified, without services."""
    reply = await world.call("POST", "users.create", auth=world.admin.auth, json=new_user("carl"))
    assert reply.status == 200, reply.body
    user = reply.body["user"]
    assert user["username"] == "carl" and user["roles"] == ["user"]
    assert user["emails"] == [{"address": "carl@example.com", "verified": False}]
    assert "services" not in user and user["type"] == "user" and user["active"] is True
    stored = world.state.users[user["_id"]]
    assert stored["services"]["email2fa"]["enabled"] is True  # auto opt-in


async def test_create_with_bot_role_and_verified_email(world: World) -> None:
    """users.create: roles such as bot are kept; verified:true marks the e-mail."""
    reply = await world.call(
        "POST",
        "users.create",
        auth=world.admin.auth,
        json=new_user("robo", roles=["bot"], verified=True),
    )
    assert reply.body["user"]["roles"] == ["bot"]
    assert reply.body["user"]["emails"][0]["verified"] is True


async def test_create_by_a_normal_user_is_not_allowed(world: World) -> None:
    """users.create without create-user → error-action-not-allowed (bare code)."""
    alice = world.add_user("alice")
    reply = await world.call("POST", "users.create", auth=alice.auth, json=new_user("carl"))
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": "error-action-not-allowed",
        "errorType": "error-action-not-allowed",
        "details": {"method": "insertOrUpdateUser", "action": "Adding_user"},
    }


async def test_create_validation_errors(world: World) -> None:
    """users.create: AJV, taken username, invalid username, unknown role."""
    missing = await world.call(
        "POST", "users.create", auth=world.admin.auth, json={"username": "x"}
    )
    assert missing.body["error"] == "must have required property 'email' [invalid-params]"
    await world.call("POST", "users.create", auth=world.admin.auth, json=new_user("carl"))
    taken = await world.call(
        "POST",
        "users.create",
        auth=world.admin.auth,
        json={**new_user("CARL"), "email": "c2@example.com"},
    )
    assert taken.body["errorType"] == "error-field-unavailable"
    invalid = await world.call(
        "POST", "users.create", auth=world.admin.auth, json=new_user("bad name")
    )
    assert invalid.body["errorType"] == "error-input-is-not-a-valid-field"
    role = await world.call(
        "POST", "users.create", auth=world.admin.auth, json=new_user("dora", roles=["wizard"])
    )
    assert role.body["errorType"] == "error-action-not-allowed"


async def test_register_creates_a_limited_view_user(world_factory: WorldFactory) -> None:
    """users.register: no auth; the answer hides emails, services, roles."""
    async with world_factory() as world:
        reply = await world.call(
            "POST",
            "users.register",
            json={"username": "reg", "email": "reg@example.com", "pass": "pw-1234", "name": "Reg"},
        )
        assert reply.status == 200, reply.body
        user = reply.body["user"]
        assert user["username"] == "reg" and user["name"] == "Reg"
        for hidden in ("emails", "services", "roles", "createdAt", "settings"):
            assert hidden not in user
        assert world.state.subscription("GENERAL", user["_id"]) is not None
        assert world.emails_to("reg@example.com")  # verification mail
        login = await world.call("POST", "login", json={"user": "reg", "password": "pw-1234"})
        assert login.status == 200


async def test_register_is_limited_to_one_call_per_minute(world: World) -> None:
    """users.register has its own limit: Rate_Limiter_Limit_RegisterUser (1) per minute."""
    first = await world.call(
        "POST",
        "users.register",
        json={"username": "r1", "email": "r1@example.com", "pass": "pw-1234", "name": "R"},
    )
    assert first.status == 200
    assert first.headers["X-RateLimit-Limit"] == "1"
    second = await world.call(
        "POST",
        "users.register",
        json={"username": "r2", "email": "r2@example.com", "pass": "pw-1234", "name": "R"},
    )
    assert second.status == 429


async def test_register_errors(world_factory: WorldFactory) -> None:
    """users.register: taken username, missing name (Match), disabled form, taken e-mail."""
    async with world_factory(OVERWRITE_SETTING_Rate_Limiter_Limit_RegisterUser="50") as world:
        world.add_user("alice")
        taken = await world.call(
            "POST",
            "users.register",
            json={"username": "ALICE", "email": "x@example.com", "pass": "pw", "name": "X"},
        )
        assert taken.body == {"success": False, "error": "Username is already in use"}
        no_name = await world.call(
            "POST",
            "users.register",
            json={"username": "nn", "email": "nn@example.com", "pass": "pw"},
        )
        assert no_name.body == {"success": False, "error": "Match error: Missing key 'name'"}
        email = await world.call(
            "POST",
            "users.register",
            json={"username": "e2", "email": "alice@example.com", "pass": "pw", "name": "E"},
        )
        assert email.body["error"] == "Email already exists. [403]"
        world.set("Accounts_RegistrationForm", "Disabled")
        disabled = await world.call(
            "POST",
            "users.register",
            json={"username": "dd", "email": "dd@example.com", "pass": "pw", "name": "D"},
        )
        assert disabled.body["errorType"] == "error-user-registration-disabled"


async def test_info_of_oneself_shows_everything_but_hashes(world: World) -> None:
    """users.info: oneself → emails, roles, services (password: true), canViewAllInfo."""
    alice = world.add_user("alice")
    reply = await world.call(
        "GET", "users.info", auth=alice.auth, params={"userId": alice.user_id}
    )
    user = reply.body["user"]
    assert user["canViewAllInfo"] is True
    assert user["emails"][0]["address"] == "alice@example.com"
    assert user["services"]["password"] is True
    assert user["roles"] == ["user"]


async def test_info_of_another_user_is_limited_for_normal_users(world: World) -> None:
    """users.info: another user sees public fields only; an admin sees full info."""
    alice = world.add_user("alice")
    bob = world.add_user("bob")
    world.user(bob)["bio"] = "hi"
    seen = (
        await world.call("GET", "users.info", auth=alice.auth, params={"username": "bob"})
    ).body["user"]
    assert seen["username"] == "bob" and seen["bio"] == "hi"
    assert seen["canViewAllInfo"] is False
    for hidden in ("emails", "services", "roles", "createdAt"):
        assert hidden not in seen
    by_admin = (
        await world.call(
            "GET", "users.info", auth=world.admin.auth, params={"userId": bob.user_id}
        )
    ).body["user"]
    assert by_admin["canViewAllInfo"] is True and "emails" in by_admin
    assert "services" not in by_admin


async def test_info_public_custom_fields_only_for_others(world: World) -> None:
    """users.info: others see only custom fields marked public."""
    alice = world.add_user("alice")
    bob = world.add_user("bob")
    world.set(
        "Accounts_CustomFields",
        json.dumps({"team": {"type": "text", "public": True}, "salary": {"type": "text"}}),
    )
    world.user(bob)["customFields"] = {"team": "red", "salary": "lots"}
    seen = (
        await world.call("GET", "users.info", auth=alice.auth, params={"userId": bob.user_id})
    ).body["user"]
    assert seen["customFields"] == {"team": "red"}


async def test_info_errors(world: World) -> None:
    """users.info: no query → 'Invalid search query.'; unknown → 'User not found.'."""
    alice = world.add_user("alice")
    assert (await world.call("GET", "users.info", auth=alice.auth)).body == {
        "success": False,
        "error": "Invalid search query.",
    }
    missing = await world.call("GET", "users.info", auth=alice.auth, params={"username": "zz"})
    assert missing.body == {"success": False, "error": "User not found."}


async def set_status(world: World, account: Account, body: Any) -> Any:
    return await world.call("POST", "users.setStatus", auth=account.auth, json=body)


async def test_set_status_sets_text_and_status(world: World) -> None:
    """§6 users.setStatus: message → statusText; status → status and statusDefault."""
    alice = world.add_user("alice")
    reply = await set_status(world, alice, {"status": "busy", "message": " In a meeting "})
    assert reply.body == {"success": True}
    user = world.user(alice)
    assert (user["status"], user["statusDefault"], user["statusText"]) == (
        "busy",
        "busy",
        "In a meeting",
    )


async def test_set_status_errors(world: World) -> None:
    """§6: invalid status, offline without invisible option, message change disabled, Match."""
    alice = world.add_user("alice")
    invalid = await set_status(world, alice, {"status": "sleepy"})
    assert invalid.body["errorType"] == "error-invalid-status"
    assert invalid.body["error"] == (
        "Valid status types include online, away, offline, and busy. [error-invalid-status]"
    )
    world.set("Accounts_AllowInvisibleStatusOption", False)
    offline = await set_status(world, alice, {"status": "offline"})
    assert offline.body["errorType"] == "error-status-not-allowed"
    malformed = await set_status(world, alice, {"status": 5})
    assert malformed.status == 400 and "errorType" not in malformed.body
    assert malformed.body["error"].startswith("Match error")
    world.set("Accounts_AllowUserStatusMessageChange", False)
    disabled = await set_status(world, alice, {"message": "x"})
    assert disabled.body["error"] == "Change status is not allowed [error-not-allowed]"


async def test_set_status_of_another_user_needs_edit_other_user_info(world: World) -> None:
    """§6: targeting another user without edit-other-user-info → 403; an admin may."""
    alice = world.add_user("alice")
    bob = world.add_user("bob")
    refused = await set_status(world, alice, {"userId": bob.user_id, "message": "hacked"})
    assert refused.status == 403
    assert refused.body == {"success": False, "error": "unauthorized"}
    ok = await set_status(world, world.admin, {"username": "bob", "message": "by admin"})
    assert ok.status == 200 and world.user(bob)["statusText"] == "by admin"

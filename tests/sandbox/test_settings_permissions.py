"""settings/:_id, settings.public, permissions.update and permissions.listAll."""

from __future__ import annotations

from sandbox.digests import sha256_hex
from tests.conftest import ADMIN
from tests.sandbox.conftest import World

FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}


async def test_get_setting_needs_view_privileged_setting(world: World) -> None:
    """settings/:_id GET: 403 for a normal user; {_id, value} for an admin."""
    alice = world.add_user("alice")
    refused = await world.call("GET", "settings/Accounts_AllowEmailChange", auth=alice.auth)
    assert refused.status == 403 and refused.body == FORBIDDEN
    ok = await world.call("GET", "settings/Accounts_AllowEmailChange", auth=world.admin.auth)
    assert ok.body == {"_id": "Accounts_AllowEmailChange", "value": True, "success": True}


async def test_defaults_of_the_settings_the_bot_reads(world: World) -> None:
    """Rocket.Chat's defaults: profile edits allowed, 2FA on, policy off, limiter 10/60 s."""
    expected = {
        "Accounts_AllowUsernameChange": True,
        "Accounts_AllowRealNameChange": True,
        "Accounts_AllowUserStatusMessageChange": True,
        "Accounts_AllowPasswordChange": True,
        "Accounts_AllowUserProfileChange": True,
        "Accounts_TwoFactorAuthentication_Enabled": True,
        "Accounts_TwoFactorAuthentication_RememberFor": 1800,
        "Accounts_Password_Policy_Enabled": False,
        "Accounts_Password_Policy_MinLength": 7,
        "Accounts_CustomFields": "",
        "Message_AllowUnrecognizedSlashCommand": False,
        "API_Enable_Rate_Limiter": True,
        "API_Enable_Rate_Limiter_Limit_Calls_Default": 10,
        "API_Enable_Rate_Limiter_Limit_Time_Default": 60000,
    }
    for setting_id, value in expected.items():
        reply = await world.call("GET", f"settings/{setting_id}", auth=world.admin.auth)
        assert reply.body["value"] == value, setting_id


async def test_hidden_and_unknown_settings_fail_without_text(world: World) -> None:
    """settings/:_id: hidden (Accounts_SystemBlockedUsernameList) or unknown → {success:false}."""
    for setting_id in ("Accounts_SystemBlockedUsernameList", "No_Such_Setting"):
        reply = await world.call("GET", f"settings/{setting_id}", auth=world.admin.auth)
        assert reply.status == 400 and reply.body == {"success": False}


async def test_post_setting_changes_the_value(world: World) -> None:
    """settings/:_id POST {value} by an admin; a value of the wrong type fails."""
    reply = await world.call(
        "POST",
        "settings/Accounts_AllowUsernameChange",
        auth=world.admin.auth,
        json={"value": False},
    )
    assert reply.body == {"success": True}
    assert world.state.settings["Accounts_AllowUsernameChange"] is False
    wrong = await world.call(
        "POST",
        "settings/Accounts_AllowUsernameChange",
        auth=world.admin.auth,
        json={"value": "no"},
    )
    assert wrong.status == 400
    alice = world.add_user("alice")
    refused = await world.call(
        "POST", "settings/Accounts_AllowUsernameChange", auth=alice.auth, json={"value": True}
    )
    assert refused.status == 403


async def test_post_setting_needs_a_second_factor(world: World) -> None:
    """settings/:_id POST has twoFactorRequired: an established admin sends the fallback."""
    world.age_accounts()
    required = await world.call(
        "POST", "settings/Message_MaxAllowedSize", auth=world.admin.auth, json={"value": 10}
    )
    assert required.body["errorType"] == "totp-required"
    ok = await world.call(
        "POST",
        "settings/Message_MaxAllowedSize",
        auth=world.admin.auth,
        json={"value": 10},
        headers={"X-2FA-Code": sha256_hex(ADMIN["password"]), "X-2FA-Method": "password"},
    )
    assert ok.status == 200 and world.state.settings["Message_MaxAllowedSize"] == 10


async def test_settings_public_needs_no_auth_and_lists_public_settings_only(
    world: World,
) -> None:
    """settings.public: public settings with their values; private ones never appear."""
    reply = await world.call(
        "GET",
        "settings.public",
        params={
            "_id": "Accounts_AllowEmailChange,Accounts_CustomFields,"
            "Message_AllowUnrecognizedSlashCommand,API_Enable_Rate_Limiter"
        },
    )
    assert reply.status == 200
    values = {item["_id"]: item["value"] for item in reply.body["settings"]}
    assert values == {
        "Accounts_AllowEmailChange": True,
        "Accounts_CustomFields": "",
        "Message_AllowUnrecognizedSlashCommand": False,
    }
    assert reply.body["count"] == 3 and reply.body["total"] == 3 and reply.body["offset"] == 0
    everything = await world.call("GET", "settings.public", params={"count": "100"})
    ids = [item["_id"] for item in everything.body["settings"]]
    assert "Accounts_AllowUsernameChange" in ids or everything.body["total"] > 100
    assert "API_Enable_Rate_Limiter" not in ids
    assert "Accounts_SystemBlockedUsernameList" not in ids


async def test_permissions_update_changes_roles(world: World) -> None:
    """permissions.update (access-permissions): new role lists take effect at once."""
    alice = world.add_user("alice")
    reply = await world.call(
        "POST",
        "permissions.update",
        auth=world.admin.auth,
        json={"permissions": [{"_id": "create-personal-access-tokens", "roles": ["admin"]}]},
    )
    assert reply.status == 200
    changed = next(
        p for p in reply.body["permissions"] if p["_id"] == "create-personal-access-tokens"
    )
    assert changed["roles"] == ["admin"]
    refused = await world.call(
        "POST", "users.generatePersonalAccessToken", auth=alice.auth, json={"tokenName": "x"}
    )
    assert refused.body["errorType"] == "not-authorized"


async def test_permissions_update_errors(world: World) -> None:
    """permissions.update: non-admin 403, unknown permission/role, schema errors."""
    alice = world.add_user("alice")
    body = {"permissions": [{"_id": "create-d", "roles": ["user"]}]}
    refused = await world.call("POST", "permissions.update", auth=alice.auth, json=body)
    assert refused.status == 403 and refused.body == FORBIDDEN
    unknown = await world.call(
        "POST",
        "permissions.update",
        auth=world.admin.auth,
        json={"permissions": [{"_id": "no-such", "roles": ["user"]}]},
    )
    assert unknown.body == {
        "success": False,
        "error": "Invalid permission",
        "errorType": "error-invalid-permission",
    }
    role = await world.call(
        "POST",
        "permissions.update",
        auth=world.admin.auth,
        json={"permissions": [{"_id": "create-d", "roles": ["wizard"]}]},
    )
    assert role.body == {
        "success": False,
        "error": "Invalid role",
        "errorType": "error-invalid-role",
    }
    schema = await world.call(
        "POST",
        "permissions.update",
        auth=world.admin.auth,
        json={"permissions": [{"_id": "create-d"}]},
    )
    assert schema.body["error"] == "must have required property 'roles' [invalid-params]"
    duplicate = await world.call(
        "POST",
        "permissions.update",
        auth=world.admin.auth,
        json={"permissions": [{"_id": "create-d", "roles": ["user", "user"]}]},
    )
    assert duplicate.body["errorType"] == "invalid-params"


async def test_permissions_list_all_shape(world: World) -> None:
    """permissions.listAll: {update: [{_id, roles, _updatedAt}], remove: []}."""
    alice = world.add_user("alice")
    reply = await world.call("GET", "permissions.listAll", auth=alice.auth)
    first = reply.body["update"][0]
    assert set(first) == {"_id", "roles", "_updatedAt"}
    assert first["_updatedAt"].endswith("Z")

"""POST users.updateOwnBasicInfo, every rule in the reference's order (reference §4)."""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest

from sandbox import credentials
from sandbox.digests import sha256_hex
from tests.sandbox.conftest import Account, World

PASSWORD_REQUIRED = {"method": "password", "codeGenerated": False, "availableMethods": []}


async def update(
    world: World,
    account: Account,
    data: Any,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    body = {"data": data, **extra}
    return await world.call(
        "POST", "users.updateOwnBasicInfo", auth=account.auth, json=body, headers=headers
    )


def not_allowed(reason: str) -> dict[str, Any]:
    """A core-services MeteorError from validateUserEditing: REST error is the bare code."""
    return {
        "success": False,
        "error": "error-action-not-allowed",
        "errorType": "error-action-not-allowed",
        "details": {"method": "insertOrUpdateUser", "action": "Update_user"},
        "_reason": reason,
    }


def assert_error(reply: Any, error_type: str, error: str | None = None) -> None:
    assert reply.status == 400, reply.body
    assert reply.body["errorType"] == error_type, reply.body
    if error is not None:
        assert reply.body["error"] == error, reply.body


# --- step 1: auth, AJV ------------------------------------------------------------------


async def test_step1_requires_auth(world: World) -> None:
    """§4 step 1: 401 without credentials."""
    reply = await world.call("POST", "users.updateOwnBasicInfo", json={"data": {}})
    assert reply.status == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "must have required property 'data'"),
        ({"data": {}, "extra": 1}, "must NOT have additional properties"),
        ({"data": {"nick": "x"}}, "must NOT have additional properties"),
        ({"data": "text"}, "must be object"),
        ({"data": {"name": {"first": "A"}}}, "must be string"),
        ({"data": {}, "customFields": [1]}, "must be object"),
    ],
)
async def test_step1_ajv_errors_use_ajv_messages(world: World, body: dict, message: str) -> None:
    """§4 step 1: schema errors → 400 invalid-params with AJV's message."""
    alice = world.add_user("alice")
    reply = await world.call("POST", "users.updateOwnBasicInfo", auth=alice.auth, json=body)
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": f"{message} [invalid-params]",
        "errorType": "invalid-params",
    }


async def test_step1_ajv_coerces_numbers_and_booleans_to_strings(world: World) -> None:
    """§1/§4: coerceTypes — a number for a string field is saved as its string."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"nickname": 123, "bio": True})
    assert reply.status == 200, reply.body
    assert reply.body["user"]["nickname"] == "123"
    assert reply.body["user"]["bio"] == "true"


async def test_step1_ajv_runs_before_2fa(world: World) -> None:
    """§4: an unknown key fails validation before the 2FA check for an e-mail change."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"email": "new@example.com", "foo": "x"})
    assert reply.body["errorType"] == "invalid-params"


async def test_step1_null_values_are_allowed(world: World) -> None:
    """§4: every data field is string|null (nullable)."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"nickname": None, "statusType": None})
    assert reply.status == 200


# --- step 2: name characters --------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["<b>Al</b>", "Al/ice", "back\\slash", "%3Cscript", "bad %E0%A4%A"]
)
async def test_step2_name_with_invalid_characters_is_a_plain_failure(
    world: World, name: str
) -> None:
    """§4 step 2: < > \\ / raw or after decodeURI (or a malformed escape) → failure text."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"name": name})
    assert reply.status == 400
    assert reply.body == {"success": False, "error": "Name contains invalid characters"}


async def test_step2_reserved_escapes_stay_encoded(world: World) -> None:
    """§4 step 2: decodeURI keeps %2F encoded, so it is not a slash."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"name": "A%2FB"})
    assert reply.status == 200 and reply.body["user"]["name"] == "A%2FB"


async def test_step2_name_check_comes_before_2fa(world: World) -> None:
    """§4: the name check precedes the 2FA check of an e-mail change."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"name": "a/b", "email": "new@example.com"})
    assert reply.body == {"success": False, "error": "Name contains invalid characters"}


# --- step 5: 2FA --------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["email", "newPassword"])
async def test_step5_email_or_password_change_requires_current_password(
    world: World, field: str
) -> None:
    """§4 step 5: without currentPassword → totp-required (password method, no methods)."""
    alice = world.add_user("alice")
    value = "new@example.com" if field == "email" else "N3w-password!"
    reply = await update(world, alice, {field: value})
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": "TOTP Required [totp-required]",
        "errorType": "totp-required",
        "details": PASSWORD_REQUIRED,
    }


async def test_step5_wrong_current_password_is_totp_invalid(world: World) -> None:
    """§4 step 5: a wrong hash → totp-invalid."""
    alice = world.add_user("alice")
    reply = await update(
        world, alice, {"email": "new@example.com", "currentPassword": sha256_hex("wrong")}
    )
    assert_error(reply, "totp-invalid", "TOTP Invalid [totp-invalid]")
    assert reply.body["details"] == PASSWORD_REQUIRED


async def test_step5_2fa_comes_before_validate_user_editing(world: World) -> None:
    """§4: with e-mail change disabled, the missing code is reported first."""
    alice = world.add_user("alice")
    world.set("Accounts_AllowEmailChange", False)
    reply = await update(world, alice, {"email": "new@example.com"})
    assert reply.body["errorType"] == "totp-required"
    reply = await update(
        world, alice, {"email": "new@example.com", "currentPassword": sha256_hex("pass-word-1")}
    )
    expected = not_allowed("Edit user email is not allowed")
    expected.pop("_reason")
    assert reply.body == expected


async def test_step5_2fa_comes_before_profile_change_setting(world: World) -> None:
    """§4: 2FA (step 5) precedes Accounts_AllowUserProfileChange (step 6)."""
    alice = world.add_user("alice")
    world.set("Accounts_AllowUserProfileChange", False)
    reply = await update(world, alice, {"newPassword": "N3w-password!"})
    assert reply.body["errorType"] == "totp-required"


async def test_step5_not_bypassed_by_remember_me_or_bypass_pat(world: World) -> None:
    """§4 step 5: requireSecondFactor ignores remember-me (fresh user) and bypass PATs."""
    alice = world.add_user("alice")
    created = await world.call(
        "POST",
        "users.generatePersonalAccessToken",
        auth=alice.auth,
        json={"tokenName": "bot", "bypassTwoFactor": True},
    )
    by_pat = Account(alice.user_id, "alice", alice.password, created.body["token"])
    reply = await update(world, by_pat, {"email": "new@example.com"})
    assert reply.body["errorType"] == "totp-required"


async def test_step5_skipped_when_2fa_is_globally_off(world: World) -> None:
    """§4 step 5: Accounts_TwoFactorAuthentication_Enabled false → no code needed."""
    alice = world.add_user("alice")
    world.set("Accounts_TwoFactorAuthentication_Enabled", False)
    reply = await update(world, alice, {"email": "new@example.com"})
    assert reply.status == 200, reply.body


async def test_step5_current_password_is_ignored_without_email_or_password(world: World) -> None:
    """§4 step 5: a wrong currentPassword does not matter for other fields."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"nickname": "Al", "currentPassword": "garbage"})
    assert reply.status == 200


async def test_step5_headers_are_read_when_no_current_password(world: World) -> None:
    """§4 step 5: X-2FA-Code/X-2FA-Method headers serve when the body has no code."""
    alice = world.add_user("alice")
    headers = {"X-2FA-Code": sha256_hex("pass-word-1"), "X-2FA-Method": "password"}
    reply = await update(world, alice, {"email": "new@example.com"}, headers=headers)
    assert reply.status == 200, reply.body


async def test_step5_email_2fa_users_must_send_the_mailed_code(world: World) -> None:
    """§4 step 5: with e-mail 2FA on, currentPassword is checked as an e-mail code and fails;
    the mailed code in the headers passes."""
    erin = world.add_user("erin", verified=True)
    reply = await update(
        world, erin, {"email": "e2@example.com", "currentPassword": sha256_hex("pass-word-1")}
    )
    assert_error(reply, "totp-invalid")
    assert reply.body["details"]["method"] == "email"
    assert reply.body["details"]["codeGenerated"] is True
    headers = {"X-2FA-Code": world.last_code("erin@example.com"), "X-2FA-Method": "email"}
    ok = await update(world, erin, {"email": "e2@example.com"}, headers=headers)
    assert ok.status == 200, ok.body


async def test_step5_totp_users_must_send_a_totp_code(world: World) -> None:
    """§4 step 5: with TOTP on, currentPassword is checked as a TOTP code and fails; the
    headers carry the real code."""
    tom = world.add_user("tom")
    secret = pyotp.random_base32()
    world.user(tom)["services"]["totp"] = {"enabled": True, "secret": secret, "hashedBackup": []}
    reply = await update(
        world, tom, {"email": "t2@example.com", "currentPassword": sha256_hex("pass-word-1")}
    )
    assert_error(reply, "totp-invalid")
    assert reply.body["details"]["method"] == "totp"
    headers = {"X-2FA-Code": pyotp.TOTP(secret).at(world.state.clock()), "X-2FA-Method": "totp"}
    ok = await update(world, tom, {"email": "t2@example.com"}, headers=headers)
    assert ok.status == 200, ok.body


# --- step 6-7 -----------------------------------------------------------------------------


async def test_step6_profile_change_disabled(world: World) -> None:
    """§4 step 6: Accounts_AllowUserProfileChange false → error-not-allowed 'Not allowed'."""
    alice = world.add_user("alice")
    world.set("Accounts_AllowUserProfileChange", False)
    reply = await update(world, alice, {"nickname": "x"})
    assert reply.body == {
        "success": False,
        "error": "Not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
        "details": {"method": "saveUserProfile"},
    }


@pytest.mark.parametrize(
    ("setting", "data", "reason"),
    [
        ("Accounts_AllowUsernameChange", {"username": "alice2"}, "Edit username is not allowed"),
        (
            "Accounts_AllowUserStatusMessageChange",
            {"statusText": "hi"},
            "Edit user status is not allowed",
        ),
        ("Accounts_AllowRealNameChange", {"name": "Other"}, "Edit user real name is not allowed"),
    ],
)
async def test_step7_validate_user_editing_refuses_disabled_fields(
    world: World, setting: str, data: dict, reason: str
) -> None:
    """§4 step 7: editing a disabled field → error-action-not-allowed with the bare code."""
    alice = world.add_user("alice")
    world.set(setting, False)
    reply = await update(world, alice, data)
    assert reply.status == 400
    assert reply.body["error"] == "error-action-not-allowed"
    assert reply.body["errorType"] == "error-action-not-allowed"
    assert reply.body["details"] == {"method": "insertOrUpdateUser", "action": "Update_user"}
    ddp_reason = reason  # the reason only shows on DDP
    assert ddp_reason


async def test_step7_password_change_disabled(world: World) -> None:
    """§4 step 7: a truthy newPassword with AllowPasswordChange off is refused after 2FA."""
    alice = world.add_user("alice")
    world.set("Accounts_AllowPasswordChange", False)
    reply = await update(
        world, alice, {"newPassword": "Other-pass-2", "currentPassword": sha256_hex("pass-word-1")}
    )
    assert reply.body["errorType"] == "error-action-not-allowed"


async def test_step7_unchanged_values_are_not_edits(world: World) -> None:
    """§4 step 7: a field equal to the stored value is not an edit."""
    alice = world.add_user("alice", name="Alice")
    world.set("Accounts_AllowUsernameChange", False)
    world.set("Accounts_AllowRealNameChange", False)
    reply = await update(world, alice, {"username": "alice", "name": "Alice", "nickname": "A"})
    assert reply.status == 200, reply.body


async def test_step7_applies_to_admins_editing_themselves(world: World) -> None:
    """§4 step 7: edit-other-user-info does not lift the rule for oneself."""
    world.set("Accounts_AllowRealNameChange", False)
    reply = await update(world, world.admin, {"name": "Boss"})
    assert reply.body["errorType"] == "error-action-not-allowed"


# --- step 8: identity ---------------------------------------------------------------------


@pytest.mark.parametrize("username", ["system", "bad name!", "BOB", "   "])
async def test_step8_unusable_usernames_cannot_save_identity(world: World, username: str) -> None:
    """§4 step 8: reserved, invalid or taken (any case) usernames → could-not-save-identity."""
    alice = world.add_user("alice")
    world.add_user("bob")
    reply = await update(world, alice, {"username": username})
    if username.strip():
        assert reply.body == {
            "success": False,
            "error": "Could not save user identity [error-could-not-save-identity]",
            "errorType": "error-could-not-save-identity",
            "details": {"method": "saveUserProfile"},
        }
    else:
        assert_error(reply, "error-could-not-save-identity")


async def test_step8_whitespace_name_with_name_required(world: World) -> None:
    """§4 step 8: a name trimming to "" fails while Accounts_RequireNameForSignUp is on."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"name": "   "})
    assert_error(reply, "error-could-not-save-identity")


async def test_step8_blocked_username_list(world: World) -> None:
    """§4 step 8: Accounts_BlockedUsernameList → error-blocked-username."""
    alice = world.add_user("alice")
    world.set("Accounts_BlockedUsernameList", "evil, worse")
    reply = await update(world, alice, {"username": "Worse"})
    assert_error(
        reply,
        "error-blocked-username",
        "Worse is blocked and can't be used! [error-blocked-username]",
    )


async def test_step8_username_and_name_are_trimmed_and_saved(world: World) -> None:
    """§4 step 8: values are trimmed; the same username succeeds."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"username": "  alicia ", "name": " Alicia A. "})
    assert reply.status == 200, reply.body
    assert reply.body["user"]["username"] == "alicia"
    assert reply.body["user"]["name"] == "Alicia A."
    assert (await update(world, alice, {"username": "alicia"})).status == 200


async def test_step8_null_name_becomes_the_string_null(world: World) -> None:
    """§4 step 8: saveUserIdentity uses String(value): null with a username → name "null"."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"username": "alice3", "name": None})
    assert reply.status == 200
    assert reply.body["user"]["name"] == "null"


# --- step 9: status -----------------------------------------------------------------------


async def test_step9_status_text_is_trimmed_and_cut_to_120(world: World) -> None:
    """§4 step 9: statusText trimmed and cut to 120 characters; "" clears it."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"statusText": "  " + "x" * 130})
    assert reply.body["user"]["statusText"] == "x" * 120
    cleared = await update(world, alice, {"statusText": ""})
    assert cleared.body["user"]["statusText"] == ""


async def test_step9_status_text_is_rate_limited_for_non_admins(world: World) -> None:
    """§4 step 9: more than 5 status texts per 60 s → 429; admins are not limited."""
    alice = world.add_user("alice", roles=["user", "bot"])  # bot: no REST limiter in the way
    for index in range(5):
        assert (await update(world, alice, {"statusText": f"s{index}"})).status == 200
    reply = await update(world, alice, {"statusText": "s6"})
    assert reply.status == 429
    assert reply.body["success"] is False
    assert reply.body["error"].startswith("Error, too many requests. Please slow down.")
    assert reply.body["error"].endswith("[error-too-many-requests]")
    world.advance(61)
    assert (await update(world, alice, {"statusText": "later"})).status == 200
    for index in range(7):
        assert (await update(world, world.admin, {"statusText": f"a{index}"})).status == 200


async def test_step9_unchanged_status_text_with_changes_disabled_is_not_allowed(
    world: World,
) -> None:
    """§4 step 9: passing validateUserEditing (same text) still hits setUserStatus's check."""
    alice = world.add_user("alice")
    world.user(alice)["statusText"] = "same"
    world.set("Accounts_AllowUserStatusMessageChange", False)
    reply = await update(world, alice, {"statusText": "same"})
    assert reply.body == {
        "success": False,
        "error": "Not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
        "details": {"method": "setUserStatus"},
    }


async def test_step9_status_type(world: World) -> None:
    """§4 step 9: statusType sets the chosen status; offline needs the invisible option."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"statusType": "busy"})
    assert reply.body["user"]["statusDefault"] == "busy"
    world.set("Accounts_AllowInvisibleStatusOption", False)
    refused = await update(world, alice, {"statusType": "offline"})
    assert refused.body == {
        "success": False,
        "error": "Invisible status is disabled [error-status-not-allowed]",
        "errorType": "error-status-not-allowed",
        "details": {"method": "setUserStatus"},
    }


# --- step 10: bio, nickname ---------------------------------------------------------------


async def test_step10_bio_limits_and_clearing(world: World) -> None:
    """§4 step 10: bio over 260 → error-bio-size-exceeded; "" clears; trimmed."""
    alice = world.add_user("alice")
    too_long = await update(world, alice, {"bio": "b" * 261})
    assert too_long.body["error"] == "Bio size exceeds 260 characters [error-bio-size-exceeded]"
    saved = await update(world, alice, {"bio": "  hello  "})
    assert saved.body["user"]["bio"] == "hello"
    cleared = await update(world, alice, {"bio": ""})
    assert cleared.body["user"]["bio"] == ""


async def test_step10_null_bio_is_an_invalid_field(world: World) -> None:
    """§4 step 10: bio !== undefined but not a string → error-invalid-field."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"bio": None})
    assert reply.body["errorType"] == "error-invalid-field"
    assert reply.body["error"] == "bio [error-invalid-field]"


async def test_step10_nickname_limit(world: World) -> None:
    """§4 step 10: nickname over 120 → error-nickname-size-exceeded; trimmed otherwise."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {"nickname": "n" * 121})
    assert_error(
        reply,
        "error-nickname-size-exceeded",
        "Nickname size exceeds 120 characters [error-nickname-size-exceeded]",
    )
    assert (await update(world, alice, {"nickname": " Al "})).body["user"]["nickname"] == "Al"


# --- step 11: e-mail ----------------------------------------------------------------------


def with_password(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "currentPassword": sha256_hex("pass-word-1")}


async def test_step11_email_change_is_unverified_and_confirmed_by_mail(world: World) -> None:
    """§4 step 11/14: the new address replaces emails[0], unverified; mails go out."""
    alice = world.add_user("alice", verified=True)
    world.user(alice)["services"]["email2fa"]["enabled"] = False  # password fallback applies
    reply = await update(world, alice, with_password({"email": "alice.new@example.com"}))
    assert reply.status == 200, reply.body
    assert reply.body["user"]["emails"] == [
        {"address": "alice.new@example.com", "verified": False}
    ]
    assert world.emails_to("alice.new@example.com")
    assert world.emails_to("alice@example.com")  # the change notice


@pytest.mark.parametrize(
    ("email", "error_type", "message"),
    [
        (
            "not-an-email",
            "error-invalid-email",
            "Invalid email not-an-email [error-invalid-email]",
        ),
        (
            "bob@example.com",
            "error-field-unavailable",
            "bob@example.com is already in use :( [error-field-unavailable]",
        ),
    ],
)
async def test_step11_email_errors(
    world: World, email: str, error_type: str, message: str
) -> None:
    """§4 step 11: bad format and taken addresses."""
    alice = world.add_user("alice")
    world.add_user("bob")
    reply = await update(world, alice, with_password({"email": email}))
    assert_error(reply, error_type, message)


async def test_step11_same_email_is_a_no_op_and_changes_are_limited(world: World) -> None:
    """§4 step 11: same address → no-op; a second change within 60 s → 429."""
    alice = world.add_user("alice", verified=True)
    world.user(alice)["services"]["email2fa"]["enabled"] = False  # password fallback applies
    same = await update(world, alice, with_password({"email": "alice@example.com"}))
    assert same.status == 200
    assert same.body["user"]["emails"][0]["verified"] is True
    first = await update(world, alice, with_password({"email": "a1@example.com"}))
    assert first.status == 200
    second = await update(world, alice, with_password({"email": "a2@example.com"}))
    assert second.status == 429


async def test_step11_blocked_domain(world: World) -> None:
    """§4 step 11: blocked domains → error-email-domain-blacklisted."""
    alice = world.add_user("alice")
    world.set("Accounts_BlockedDomainsList", "evil.com")
    reply = await update(world, alice, with_password({"email": "a@evil.com"}))
    assert_error(reply, "error-email-domain-blacklisted")


# --- step 12: password --------------------------------------------------------------------


async def test_step12_same_password_is_refused(world: World) -> None:
    """§4 step 12: newPassword equal to the current one → error-password-same-as-current."""
    alice = world.add_user("alice")
    reply = await update(world, alice, with_password({"newPassword": "pass-word-1"}))
    assert_error(reply, "error-password-same-as-current")


async def test_step12_policy_errors_list_every_broken_rule(world: World) -> None:
    """§4 step 12: with the policy on, details lists each broken rule."""
    alice = world.add_user("alice")
    world.set("Accounts_Password_Policy_Enabled", True)
    reply = await update(world, alice, with_password({"newPassword": "aaaa"}))
    assert reply.status == 400
    assert reply.body["errorType"] == "error-password-policy-not-met"
    assert (
        reply.body["error"] == "The password provided does not meet the server's password policy."
    )
    errors = [item["error"] for item in reply.body["details"]]
    assert errors == [
        "error-password-policy-not-met-minLength",
        "error-password-policy-not-met-repeatingCharacters",
        "error-password-policy-not-met-oneUppercase",
        "error-password-policy-not-met-oneNumber",
        "error-password-policy-not-met-oneSpecial",
    ]


async def test_step12_password_history(world: World) -> None:
    """§4 step 12: with history on, a previous password → error-password-in-history."""
    alice = world.add_user("alice")
    world.set("Accounts_Password_History_Enabled", True)
    first = await update(world, alice, with_password({"newPassword": "Second-pass-2"}))
    assert first.status == 200
    back = await update(
        world,
        alice,
        {"newPassword": "pass-word-1", "currentPassword": sha256_hex("Second-pass-2")},
    )
    assert_error(back, "error-password-in-history")


async def test_step12_new_password_keeps_this_session_and_pats_only(world: World) -> None:
    """§4 step 12: the password changes; other login tokens go, the calling token and PATs stay."""
    alice = world.add_user("alice")
    other, _ = credentials.issue_login_token(world.state, world.user(alice))
    created = await world.call(
        "POST", "users.generatePersonalAccessToken", auth=alice.auth, json={"tokenName": "p"}
    )
    reply = await update(world, alice, with_password({"newPassword": "Brand-new-2"}))
    assert reply.status == 200, reply.body
    assert (await world.call("GET", "me", auth=alice.auth)).status == 200
    assert (await world.call("GET", "me", auth=(alice.user_id, other))).status == 401
    assert (
        await world.call("GET", "me", auth=(alice.user_id, created.body["token"]))
    ).status == 200
    login = await world.call("POST", "login", json={"user": "alice", "password": "Brand-new-2"})
    assert login.status == 200


# --- step 13-14 ---------------------------------------------------------------------------


async def test_step13_custom_fields_are_ignored_until_configured(world: World) -> None:
    """§4 step 13: without Accounts_CustomFields nothing is saved."""
    alice = world.add_user("alice")
    reply = await update(world, alice, {}, customFields={"twitter": "@a"})
    assert reply.status == 200 and "customFields" not in reply.body["user"]


async def test_step13_custom_fields_are_validated_and_saved(world: World) -> None:
    """§4 step 13: configured fields are validated (required, max length) and saved."""
    alice = world.add_user("alice")
    world.set(
        "Accounts_CustomFields",
        json.dumps({"team": {"type": "text", "required": True, "maxLength": 5}}),
    )
    missing = await update(world, alice, {}, customFields={"other": "x"})
    assert_error(
        missing,
        "error-user-registration-custom-field",
        "Field team is required [error-user-registration-custom-field]",
    )
    long = await update(world, alice, {}, customFields={"team": "abcdefg"})
    assert_error(long, "error-user-registration-custom-field")
    ok = await update(world, alice, {}, customFields={"team": "red"})
    assert ok.body["user"]["customFields"] == {"team": "red"}


async def test_step14_response_is_the_user_document_with_services(world: World) -> None:
    """§4 step 14: {user, success}; services (bcrypt, tokens) included; no e2e."""
    alice = world.add_user("alice")
    world.user(alice)["e2e"] = {"public_key": "k"}
    reply = await update(world, alice, {"nickname": "Al"})
    user = reply.body["user"]
    assert reply.body["success"] is True
    assert user["_id"] == alice.user_id and user["nickname"] == "Al"
    assert user["services"]["password"]["bcrypt"].startswith("$2")
    assert user["services"]["resume"]["loginTokens"]
    assert "e2e" not in user
    assert user["settings"]["profile"] == {}

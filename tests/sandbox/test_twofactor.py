"""Two-factor authentication, checkCodeForUser step by step (reference §3).

Protected calls used: `users.generatePersonalAccessToken` (default options) and
`users.2fa.disableEmail` (disableRememberMe), as in Rocket.Chat.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp

from sandbox.digests import sha256_hex
from tests.sandbox.conftest import Account, DdpClient, World

PASSWORD_REQUIRED = {"method": "password", "codeGenerated": False, "availableMethods": []}


async def pat(world: World, account: Account, name: str = "t", **headers: str) -> Any:
    """Call the protected route users.generatePersonalAccessToken."""
    return await world.call(
        "POST",
        "users.generatePersonalAccessToken",
        auth=account.auth,
        json={"tokenName": name},
        headers=headers,
    )


def password_headers(password: str, method: str = "password") -> dict[str, str]:
    return {"X-2FA-Code": sha256_hex(password), "X-2FA-Method": method}


def enable_totp(world: World, account: Account, backup: list[str] | None = None) -> str:
    secret = pyotp.random_base32()
    world.user(account)["services"]["totp"] = {
        "enabled": True,
        "secret": secret,
        "hashedBackup": [sha256_hex(c) for c in backup or []],
    }
    return secret


async def test_step2_globally_disabled_2fa_passes_everything(world: World) -> None:
    """§3 step 2: Accounts_TwoFactorAuthentication_Enabled false → no check."""
    alice = world.add_user("alice")
    world.age_accounts()
    world.set("Accounts_TwoFactorAuthentication_Enabled", False)
    assert (await pat(world, alice)).status == 200


async def test_step5_new_users_are_remembered_right_after_registration(world: World) -> None:
    """§3 step 5: a user created less than RememberFor (30 min) ago passes."""
    alice = world.add_user("alice")
    assert (await pat(world, alice)).status == 200


async def test_step6_8_no_method_enabled_requires_the_password_fallback(world: World) -> None:
    """§3 steps 6-8: no totp/email → password fallback; no code → 400 totp-required."""
    alice = world.add_user("alice")
    world.age_accounts()
    reply = await pat(world, alice)
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": "TOTP Required [totp-required]",
        "errorType": "totp-required",
        "details": PASSWORD_REQUIRED,
    }


async def test_step9_password_fallback_accepts_sha256_hex_in_any_case(world: World) -> None:
    """§3 step 9: the code is the SHA-256 hex of the current password, case-insensitive."""
    alice = world.add_user("alice")
    world.age_accounts()
    headers = {"X-2FA-Code": sha256_hex("pass-word-1").upper(), "X-2FA-Method": "password"}
    assert (await pat(world, alice, **headers)).status == 200


async def test_step10_wrong_code_is_totp_invalid_with_available_methods(world: World) -> None:
    """§3 step 10: a wrong password hash → totp-invalid, details incl. availableMethods."""
    alice = world.add_user("alice")
    world.age_accounts()
    reply = await pat(world, alice, **password_headers("nope"))
    assert reply.status == 400
    assert reply.body["errorType"] == "totp-invalid"
    assert reply.body["error"] == "TOTP Invalid [totp-invalid]"
    assert reply.body["details"] == PASSWORD_REQUIRED


async def test_step10_password_attempts_are_unlimited(world: World) -> None:
    """§3 step 10: totp/password never reach totp-max-attempts."""
    alice = world.add_user("alice")
    world.age_accounts()
    world.set("API_Enable_Rate_Limiter", False)
    for _ in range(7):
        reply = await pat(world, alice, **password_headers("nope"))
        assert reply.body["errorType"] == "totp-invalid"


async def test_step4_headers_need_both_code_and_method_for_the_fallback(world: World) -> None:
    """§3 step 4/6: a code header alone still selects the first method (password here)."""
    alice = world.add_user("alice")
    world.age_accounts()
    only_code = await pat(world, alice, **{"X-2FA-Code": sha256_hex("pass-word-1")})
    assert only_code.status == 200


async def test_step11_success_is_remembered_for_this_user_agent_and_ip(world: World) -> None:
    """§3 steps 5 and 11: after a valid code the token is trusted 30 min for the same UA+IP."""
    alice = world.add_user("alice")
    world.age_accounts()
    assert (await pat(world, alice, "a", **password_headers("pass-word-1"))).status == 200
    entry = world.user(alice)["services"]["resume"]["loginTokens"][0]
    assert len(entry["twoFactorAuthorizedHash"]) == 32
    assert (await pat(world, alice, "b")).status == 200
    other_agent = await pat(world, alice, "c", **{"User-Agent": "something else"})
    assert other_agent.body["errorType"] == "totp-required"
    world.advance(31 * 60)
    assert (await pat(world, alice, "d")).body["errorType"] == "totp-required"


async def test_disable_remember_me_routes_ask_again(world: World) -> None:
    """§3 step 5: users.2fa.disableEmail (disableRememberMe) ignores remembered 2FA."""
    alice = world.add_user("alice")
    world.age_accounts()
    assert (await pat(world, alice, "a", **password_headers("pass-word-1"))).status == 200
    reply = await world.call("POST", "users.2fa.disableEmail", auth=alice.auth)
    assert reply.body["errorType"] == "totp-required"
    ok = await world.call(
        "POST",
        "users.2fa.disableEmail",
        auth=alice.auth,
        headers=password_headers("pass-word-1"),
    )
    assert ok.status == 200
    assert world.user(alice)["services"]["email2fa"]["enabled"] is False


async def test_step6_no_fallback_when_enforce_password_fallback_is_off(world: World) -> None:
    """§3 step 6: without a method and without the fallback setting, the call passes."""
    alice = world.add_user("alice")
    world.age_accounts()
    world.set("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback", False)
    assert (await pat(world, alice)).status == 200


async def test_step7_email_code_is_generated_mailed_and_reused(world: World) -> None:
    """§3 step 7: e-mail method → a 6-digit code is mailed (codeGenerated true); asking again
    while it is fresh reuses it (codeGenerated false, codeExpires)."""
    erin = world.add_user("erin", verified=True)
    world.age_accounts()
    first = await pat(world, erin)
    assert first.body["details"] == {
        "method": "email",
        "codeGenerated": True,
        "emailOrUsername": "erin",
        "availableMethods": ["email"],
    }
    mails = world.emails_to("erin@example.com")
    assert len(mails) == 1 and mails[0]["subject"] == "Authentication code"
    code = world.last_code("erin@example.com")
    assert len(code) == 7 and code[3] == "-"
    second = await pat(world, erin)
    assert second.body["details"]["codeGenerated"] is False
    assert second.body["details"]["codeExpires"].endswith("Z")
    assert len(world.emails_to("erin@example.com")) == 1
    stored = world.user(erin)["services"]["emailCode"]
    assert stored["code"].startswith("$2") and code.replace("-", "") not in str(stored)


async def test_step9_email_code_is_single_use(world: World) -> None:
    """§3 step 9: non-digits are stripped; success removes the code."""
    erin = world.add_user("erin", verified=True)
    world.age_accounts()
    await pat(world, erin)
    code = world.last_code("erin@example.com")
    ok = await pat(world, erin, "a", **{"X-2FA-Code": code, "X-2FA-Method": "email"})
    assert ok.status == 200
    assert "emailCode" not in world.user(erin)["services"]
    again = await world.call(
        "POST",
        "users.2fa.disableEmail",
        auth=erin.auth,
        headers={"X-2FA-Code": code, "X-2FA-Method": "email"},
    )
    assert again.body["errorType"] == "totp-invalid"
    assert again.body["details"]["codeGenerated"] is True  # a new code went out


async def test_step7_code_close_to_expiry_is_replaced(world: World) -> None:
    """§3 step 7: a code expiring within 5 minutes is replaced by a new one."""
    erin = world.add_user("erin", verified=True)
    world.age_accounts()
    await pat(world, erin)
    world.advance(3600 - 4 * 60)
    reply = await pat(world, erin)
    assert reply.body["details"]["codeGenerated"] is True
    assert len(world.emails_to("erin@example.com")) == 2


async def test_step9_expired_email_code_fails(world: World) -> None:
    """§3 step 9: an expired code does not verify."""
    erin = world.add_user("erin", verified=True)
    world.age_accounts()
    await pat(world, erin)
    code = world.last_code("erin@example.com")
    world.user(erin)["services"]["emailCode"]["expire"] = world.state.clock() + timedelta(
        minutes=10
    )
    world.advance(11 * 60)
    reply = await pat(world, erin, **{"X-2FA-Code": code, "X-2FA-Method": "email"})
    assert reply.body["errorType"] == "totp-invalid"


async def test_step10_email_attempts_end_in_totp_max_attempts(world: World) -> None:
    """§3 step 10: the 5th wrong e-mail code → totp-max-attempts; then a new code is sent."""
    erin = world.add_user("erin", verified=True)
    world.age_accounts()
    world.set("API_Enable_Rate_Limiter", False)
    await pat(world, erin)
    wrong = {"X-2FA-Code": "000000", "X-2FA-Method": "email"}
    if world.last_code("erin@example.com").replace("-", "") == "000000":
        wrong["X-2FA-Code"] = "111111"
    errors = [(await pat(world, erin, **wrong)).body for _ in range(5)]
    assert [e["errorType"] for e in errors] == ["totp-invalid"] * 4 + ["totp-max-attempts"]
    assert errors[-1]["error"] == "TOTP Maximun Failed Attempts Reached [totp-max-attempts]"
    after = await pat(world, erin, **wrong)
    assert after.body["errorType"] == "totp-invalid"
    assert after.body["details"]["codeGenerated"] is True


async def test_totp_is_first_and_password_method_is_not_selectable(world: World) -> None:
    """§3 step 6: with TOTP enabled, 'password' is not selectable: the hash is checked as a
    TOTP code and fails."""
    tom = world.add_user("tom", verified=True)
    world.age_accounts()
    secret = enable_totp(world, tom)
    required = await pat(world, tom)
    assert required.body["details"] == {
        "method": "totp",
        "codeGenerated": False,
        "availableMethods": ["totp", "email"],
    }
    as_password = await pat(world, tom, **password_headers("pass-word-1"))
    assert as_password.body["errorType"] == "totp-invalid"
    assert as_password.body["details"]["method"] == "totp"
    code = pyotp.TOTP(secret).at(world.state.clock())
    ok = await pat(world, tom, "a", **{"X-2FA-Code": code, "X-2FA-Method": "totp"})
    assert ok.status == 200


async def test_totp_window_is_plus_minus_max_delta_and_codes_may_repeat(world: World) -> None:
    """§3 step 9: ±1 step (MaxDelta) is accepted, 2 steps is not; a used code still works
    (Rocket.Chat keeps no record of used TOTP codes)."""
    tom = world.add_user("tom")
    world.age_accounts()
    secret = enable_totp(world, tom)
    totp = pyotp.TOTP(secret)
    now = world.state.clock()
    previous = totp.at(now - timedelta(seconds=30))
    too_old = totp.at(now - timedelta(seconds=60))
    if too_old not in (previous, totp.at(now), totp.at(now + timedelta(seconds=30))):
        headers = {"X-2FA-Code": too_old, "X-2FA-Method": "totp", "User-Agent": "x"}
        assert (await pat(world, tom, "x", **headers)).body["errorType"] == "totp-invalid"
    for name in ("a", "b"):
        headers = {"X-2FA-Code": previous, "X-2FA-Method": "totp", "User-Agent": name}
        assert (await pat(world, tom, name, **headers)).status == 200


async def test_backup_codes_work_once(world: World) -> None:
    """§3 step 9: an 8-character code is a single-use backup code."""
    tom = world.add_user("tom")
    world.age_accounts()
    enable_totp(world, tom, backup=["ABCDEFGH", "JKLMNPQR"])
    headers = {"X-2FA-Code": "ABCDEFGH", "X-2FA-Method": "totp"}
    assert (
        await world.call("POST", "users.2fa.disableEmail", auth=tom.auth, headers=headers)
    ).status == 200
    again = await world.call("POST", "users.2fa.disableEmail", auth=tom.auth, headers=headers)
    assert again.body["errorType"] == "totp-invalid"
    assert len(world.user(tom)["services"]["totp"]["hashedBackup"]) == 1


async def test_bypass_pat_skips_2fa_on_ordinary_routes(world: World) -> None:
    """§3: a PAT with bypassTwoFactor:true passes checks without requireSecondFactor."""
    alice = world.add_user("alice")
    created = await world.call(
        "POST",
        "users.generatePersonalAccessToken",
        auth=alice.auth,
        json={"tokenName": "bot", "bypassTwoFactor": True},
    )
    plain = await world.call(
        "POST", "users.generatePersonalAccessToken", auth=alice.auth, json={"tokenName": "plain"}
    )
    world.age_accounts()
    by_bypass = (alice.user_id, created.body["token"])
    assert (
        await world.call(
            "POST", "users.generatePersonalAccessToken", auth=by_bypass, json={"tokenName": "more"}
        )
    ).status == 200
    by_plain = (alice.user_id, plain.body["token"])
    refused = await world.call(
        "POST", "users.generatePersonalAccessToken", auth=by_plain, json={"tokenName": "x"}
    )
    assert refused.body["errorType"] == "totp-required"


async def test_ddp_method_takes_the_code_from_the_last_param(world: World) -> None:
    """§3: a DDP method wrapped by twoFactorRequired reads {twoFactorCode, twoFactorMethod}."""
    alice = world.add_user("alice")
    world.age_accounts()
    async with DdpClient.connect(world.http, world.url) as ddp:
        await ddp.login(alice.token)
        frame = await ddp.method("personalAccessTokens:generateToken", {"tokenName": "d"})
        assert frame["error"]["error"] == "totp-required"
        assert frame["error"]["details"] == PASSWORD_REQUIRED
        assert frame["error"]["message"] == "TOTP Required [totp-required]"
        assert frame["error"]["errorType"] == "Meteor.Error"
        frame = await ddp.method(
            "personalAccessTokens:generateToken",
            {"tokenName": "d"},
            {"twoFactorCode": sha256_hex("pass-word-1"), "twoFactorMethod": "password"},
        )
        assert isinstance(frame["result"], str) and len(frame["result"]) == 43


async def test_ddp_2fa_method_without_login_is_invalid_user(world: World) -> None:
    """§3: twoFactorRequired without a user → error-invalid-user."""
    async with DdpClient.connect(world.http, world.url) as ddp:
        frame = await ddp.method("personalAccessTokens:generateToken", {"tokenName": "d"})
        assert frame["error"]["error"] == "error-invalid-user"


async def test_totp_enrolment_over_ddp(world: World) -> None:
    """§3: 2fa:enable → {secret, url}; 2fa:validateTempToken(code) → 12 backup codes; TOTP is
    then required; 2fa:disable(code) turns it off (false for a wrong code)."""
    tom = world.add_user("tom", verified=True)
    async with DdpClient.connect(world.http, world.url) as ddp:
        await ddp.login(tom.token)
        enabled = (await ddp.method("2fa:enable"))["result"]
        assert enabled["url"] == f"otpauth://totp/Rocket.Chat%3Atom?secret={enabled['secret']}"
        wrong = await ddp.method("2fa:validateTempToken", "000000")
        if "error" in wrong:
            assert wrong["error"]["error"] == "invalid-totp"
        code = pyotp.TOTP(enabled["secret"]).at(world.state.clock())
        codes = (await ddp.method("2fa:validateTempToken", code))["result"]["codes"]
        assert len(codes) == 12 and all(len(c) == 8 for c in codes)
        remaining = await ddp.method("2fa:checkCodesRemaining")
        assert remaining["result"] == {"remaining": 12}
        world.age_accounts()
        required = await pat(world, tom)
        assert required.body["details"]["method"] == "totp"
        assert required.body["details"]["availableMethods"] == ["totp", "email"]
        assert (await ddp.method("2fa:disable", "12345"))["result"] is False
        code = pyotp.TOTP(enabled["secret"]).at(world.state.clock())
        assert (await ddp.method("2fa:disable", code))["result"] is True
    assert world.user(tom)["services"]["totp"] == {"enabled": False}


async def test_totp_enrolment_needs_verified_emails(world: World) -> None:
    """§3: 2fa:enable refuses a user who has an unverified e-mail."""
    tom = world.add_user("tom", verified=False)
    async with DdpClient.connect(world.http, world.url) as ddp:
        await ddp.login(tom.token)
        frame = await ddp.method("2fa:enable")
        assert frame["error"]["error"] == "error-invalid-user"
        assert frame["error"]["reason"] == "You need to verify your emails before setting up 2FA"


async def test_send_email_code_always_succeeds(world: World) -> None:
    """§3: users.2fa.sendEmailCode needs no auth, answers success even for unknown users."""
    erin = world.add_user("erin", verified=True)
    assert (
        await world.call("POST", "users.2fa.sendEmailCode", json={"emailOrUsername": "ghost"})
    ).body == {"success": True}
    ok = await world.call("POST", "users.2fa.sendEmailCode", json={"emailOrUsername": "erin"})
    assert ok.body == {"success": True}
    assert world.emails_to("erin@example.com")
    by_mail = await world.call(
        "POST", "users.2fa.sendEmailCode", json={"emailOrUsername": "ERIN@example.com"}
    )
    assert by_mail.status == 200 and len(world.emails_to("erin@example.com")) == 2
    missing = await world.call("POST", "users.2fa.sendEmailCode", json={})
    assert missing.status == 400
    assert missing.body["errorType"] == "error-parameter-required"
    assert erin.username == "erin"


async def test_enable_email_needs_verified_emails_and_logs_out_other_sessions(
    world: World,
) -> None:
    """§3: users.2fa.enableEmail → error-invalid-user with an unverified e-mail; otherwise
    e-mail 2FA on and other (non-PAT) login tokens removed."""
    bob = world.add_user("bob")
    refused = await world.call("POST", "users.2fa.enableEmail", auth=bob.auth)
    assert refused.status == 400
    assert refused.body["errorType"] == "error-invalid-user"
    assert refused.body["error"] == "error-invalid-user"
    erin = world.add_user("erin", verified=True)
    second = await world.call("POST", "login", json={"resume": erin.token})
    assert second.status == 200
    from sandbox import credentials

    other, _ = credentials.issue_login_token(world.state, world.user(erin))
    assert (await world.call("POST", "users.2fa.enableEmail", auth=erin.auth)).status == 200
    assert (await world.call("GET", "me", auth=(erin.user_id, other))).status == 401
    assert (await world.call("GET", "me", auth=erin.auth)).status == 200

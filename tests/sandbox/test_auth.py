"""REST conventions, login, logout and `me` (reference §1, §2, §6)."""

from __future__ import annotations

import pyotp
import pytest

from sandbox.digests import sha256_hex
from sandbox.state import from_ms
from tests.sandbox.conftest import DdpClient, World

NOT_LOGGED_IN = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}
UNAUTHORIZED = {
    "success": False,
    "error": "Unauthorized",
    "status": "error",
    "message": "Unauthorized",
}


async def test_missing_or_wrong_auth_headers_get_401_with_status_and_message(world: World) -> None:
    """§1: an authRequired route without valid X-User-Id/X-Auth-Token answers 401."""
    alice = world.add_user("alice")
    assert (await world.call("GET", "me")).body == NOT_LOGGED_IN
    wrong = await world.call("GET", "me", auth=(alice.user_id, "not-the-token"))
    assert wrong.status == 401 and wrong.body == NOT_LOGGED_IN
    other_id = await world.call("GET", "me", auth=(world.admin.user_id, alice.token))
    assert other_id.status == 401


@pytest.mark.parametrize(
    "body",
    [
        {"user": "alice", "password": "pass-word-1"},
        {"user": "alice@example.com", "password": "pass-word-1"},
        {"username": "alice", "password": "pass-word-1"},
        {"email": "ALICE@example.com", "password": "pass-word-1"},
        {
            "user": {"username": "alice"},
            "password": {"digest": sha256_hex("pass-word-1"), "algorithm": "sha-256"},
        },
    ],
)
async def test_login_forms_succeed_with_rocket_chat_shape(world: World, body: dict) -> None:
    """§2: username/email/user + password, or a SHA-256 digest, log in."""
    alice = world.add_user("alice")
    reply = await world.call("POST", "login", json=body)
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "success" and reply.body["success"] is True
    data = reply.body["data"]
    assert data["userId"] == alice.user_id
    assert len(data["authToken"]) == 43
    assert data["me"]["username"] == "alice"
    assert (await world.call("GET", "me", auth=(alice.user_id, data["authToken"]))).status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"user": "alice", "password": "wrong"},
        {"user": "nobody", "password": "pass-word-1"},
    ],
)
async def test_bad_credentials_answer_401_unauthorized(world: World, body: dict) -> None:
    """§2: a wrong password and an unknown user look the same ('User not found' → Unauthorized)."""
    world.add_user("alice")
    reply = await world.call("POST", "login", json=body)
    assert reply.status == 401
    assert reply.body == UNAUTHORIZED


async def test_resume_login_with_a_token_and_unknown_token(world: World) -> None:
    """§2: {resume} logs in with a login token; an unknown one is 403 'logged out'."""
    alice = world.add_user("alice")
    ok = await world.call("POST", "login", json={"resume": alice.token})
    assert ok.status == 200 and ok.body["data"]["userId"] == alice.user_id
    assert ok.body["data"]["authToken"] == alice.token
    bad = await world.call("POST", "login", json={"resume": "nope"})
    assert bad.status == 401
    assert bad.body == {
        "success": False,
        "error": 403,
        "status": "error",
        "message": "You've been logged out by the server. Please log in again.",
    }


async def test_login_with_unknown_options_is_rejected(world: World) -> None:
    """§2: options no handler recognises → 401 with error 400."""
    reply = await world.call("POST", "login", json={"foo": "bar"})
    assert reply.status == 401
    assert reply.body["error"] == 400
    assert reply.body["message"] == "Unrecognized options for login request"


async def test_login_body_with_extra_keys_fails_the_password_check(world: World) -> None:
    """§2: a body that is not the compatibility form goes to `login` as is (Match → 500)."""
    world.add_user("alice")
    reply = await world.call(
        "POST", "login", json={"user": "alice", "password": "pass-word-1", "extra": 1}
    )
    assert reply.status == 500
    assert reply.body == {"success": False, "error": "Internal server error"}


async def test_deactivated_user_cannot_log_in(world: World) -> None:
    """§2: validateLoginAttempt refuses inactive users."""
    alice = world.add_user("alice")
    world.user(alice)["active"] = False
    reply = await world.call("POST", "login", json={"user": "alice", "password": "pass-word-1"})
    assert reply.status == 401
    assert reply.body["error"] == "error-user-is-not-activated"
    assert reply.body["message"] == "User is not activated"


async def test_login_requires_email_code_when_email_2fa_is_on(world: World) -> None:
    """§2/§3: a password login with e-mail 2FA gets totp-required, then logs in with the code."""
    world.add_user("erin", email="erin@example.com", verified=True)
    first = await world.call("POST", "login", json={"user": "erin", "password": "pass-word-1"})
    assert first.status == 401
    assert first.body["error"] == "totp-required"
    assert first.body["message"] == "TOTP Required"
    assert first.body["details"] == {
        "method": "email",
        "codeGenerated": True,
        "emailOrUsername": "erin",
        "availableMethods": ["email"],
    }
    code = world.last_code("erin@example.com")
    ok = await world.call(
        "POST", "login", json={"user": "erin", "password": "pass-word-1", "code": code}
    )
    assert ok.status == 200, ok.body


async def test_login_ignores_password_fallback(world: World) -> None:
    """§2: login-time 2FA disables the password fallback (no 2FA for plain users)."""
    world.add_user("alice")
    world.age_accounts()
    reply = await world.call("POST", "login", json={"user": "alice", "password": "pass-word-1"})
    assert reply.status == 200


async def test_login_with_totp_takes_the_code_from_the_header(world: World) -> None:
    """§2: the 2FA code may come from the x-2fa-code header; TOTP goes before e-mail."""
    tom = world.add_user("tom", email="tom@example.com", verified=True)
    secret = pyotp.random_base32()
    world.user(tom)["services"]["totp"] = {"enabled": True, "secret": secret, "hashedBackup": []}
    first = await world.call("POST", "login", json={"user": "tom", "password": "pass-word-1"})
    assert first.body["details"] == {
        "method": "totp",
        "codeGenerated": False,
        "availableMethods": ["totp", "email"],
    }
    code = pyotp.TOTP(secret).at(world.state.clock())
    ok = await world.call(
        "POST",
        "login",
        json={"user": "tom", "password": "pass-word-1"},
        headers={"X-2FA-Code": code},
    )
    assert ok.status == 200, ok.body


async def test_resume_and_pat_logins_skip_2fa(world: World) -> None:
    """§2: 2FA is skipped for resume logins (login tokens and PATs)."""
    erin = world.add_user("erin", email="erin@example.com", verified=True)
    reply = await world.call("POST", "login", json={"resume": erin.token})
    assert reply.status == 200


async def test_logout_removes_the_token_used(world: World) -> None:
    """§2: POST logout drops this login token only; GET logout works too."""
    alice = world.add_user("alice")
    second = await world.call("POST", "login", json={"user": "alice", "password": "pass-word-1"})
    other_token = second.body["data"]["authToken"]
    out = await world.call("POST", "logout", auth=alice.auth)
    assert out.status == 200
    assert out.body == {
        "status": "success",
        "data": {"message": "You've been logged out!"},
        "success": True,
    }
    assert (await world.call("GET", "me", auth=alice.auth)).status == 401
    assert (await world.call("GET", "logout", auth=(alice.user_id, other_token))).status == 200
    assert (await world.call("GET", "me", auth=(alice.user_id, other_token))).status == 401


async def test_me_has_get_user_info_shape(world: World) -> None:
    """§6: `me` = user fields + email (verified only) + preferences + avatarUrl + reduced
    services (no hashes, no tokens)."""
    alice = world.add_user("alice", email="alice@example.com", verified=True)
    reply = await world.call("GET", "me", auth=alice.auth)
    me = reply.body
    assert me["success"] is True
    assert me["_id"] == alice.user_id and me["username"] == "alice"
    assert me["email"] == "alice@example.com"
    assert me["avatarUrl"].endswith("/avatar/alice")
    assert me["isOAuthUser"] is False
    assert me["services"] == {"email2fa": {"enabled": True}, "password": {"exists": True}}
    assert me["settings"]["profile"] == {}
    assert me["settings"]["preferences"]["useEmojis"] is True
    assert "resume" not in str(me) and "bcrypt" not in str(me)
    unverified = world.add_user("bob")
    assert "email" not in (await world.call("GET", "me", auth=unverified.auth)).body


async def test_ddp_login_by_resume_and_digest(world: World) -> None:
    """§2: DDP login with {resume} and with {user, password:{digest, algorithm}}."""
    alice = world.add_user("alice")
    async with DdpClient.connect(world.http, world.url) as ddp:
        frame = await ddp.method("login", {"resume": alice.token})
        result = frame["result"]
        assert result["id"] == alice.user_id and result["token"] == alice.token
        assert result["type"] == "resume"
        assert from_ms(result["tokenExpires"]["$date"]) > world.state.clock()
    async with DdpClient.connect(world.http, world.url) as ddp:
        frame = await ddp.method(
            "login",
            {
                "user": {"username": "alice"},
                "password": {"digest": sha256_hex("pass-word-1"), "algorithm": "sha-256"},
            },
        )
        assert frame["result"]["type"] == "password"
        assert frame["result"]["token"] != alice.token


async def test_ddp_login_errors_are_meteor_errors(world: World) -> None:
    """§2: unknown resume token → 403 'logged out'; wrong digest → 403 'User not found'."""
    world.add_user("alice")
    async with DdpClient.connect(world.http, world.url) as ddp:
        frame = await ddp.method("login", {"resume": "nope"})
        assert frame["error"]["error"] == 403
        assert (
            frame["error"]["reason"]
            == "You've been logged out by the server. Please log in again."
        )
        frame = await ddp.method(
            "login",
            {
                "user": {"username": "alice"},
                "password": {"digest": sha256_hex("bad"), "algorithm": "sha-256"},
            },
        )
        assert frame["error"]["error"] == 403 and frame["error"]["reason"] == "User not found"
        frame = await ddp.method(
            "login",
            {"user": {"username": "alice"}, "password": {"digest": "x", "algorithm": "sha-256"}},
        )
        assert frame["error"]["error"] == 400 and frame["error"]["reason"] == "Match failed"


async def test_ddp_totp_login_requires_a_code(world: World) -> None:
    """§2: DDP {totp:{login, code}} completes a 2FA login; without it totp-required."""
    world.add_user("erin", email="erin@example.com", verified=True)
    credentials = {
        "user": {"username": "erin"},
        "password": {"digest": sha256_hex("pass-word-1"), "algorithm": "sha-256"},
    }
    async with DdpClient.connect(world.http, world.url) as ddp:
        frame = await ddp.method("login", credentials)
        assert frame["error"]["error"] == "totp-required"
        assert frame["error"]["details"]["method"] == "email"
        code = world.last_code("erin@example.com")
        frame = await ddp.method("login", {"totp": {"login": credentials, "code": code}})
        assert frame["result"]["type"] == "password"


async def test_ddp_logout_destroys_the_connection_token(world: World) -> None:
    """§2: DDP logout removes the token the connection logged in with."""
    alice = world.add_user("alice")
    async with DdpClient.connect(world.http, world.url) as ddp:
        await ddp.login(alice.token)
        frame = await ddp.method("logout")
        assert "error" not in frame
    assert (await world.call("GET", "me", auth=alice.auth)).status == 401


async def test_api_info_and_v1_info(world: World) -> None:
    """/api/info (no auth) gives major.minor and minimum client versions; v1 info the version."""
    info = await world.call("GET", "info")
    assert info.body["success"] is True and "version" in info.body["info"]
    async with world.http.get(f"{world.url}/api/info") as response:
        body = await response.json()
    assert body["version"].count(".") == 1
    assert set(body["minimumClientVersions"]) == {"desktop", "mobile"}


async def test_ten_failed_logins_block_the_user_for_five_minutes(world: World) -> None:
    """§2 (Block_Multiple_Failed_Logins): after 10 failures even the right password is
    refused until 5 minutes after the last failure; a success resets the count."""
    world.add_user("alice")
    world.set("API_Enable_Rate_Limiter", False)
    for _ in range(10):
        reply = await world.call("POST", "login", json={"user": "alice", "password": "bad"})
        assert reply.body["error"] == "Unauthorized"
    blocked = await world.call("POST", "login", json={"user": "alice", "password": "pass-word-1"})
    assert blocked.status == 401
    assert blocked.body == {
        "success": False,
        "error": "error-login-blocked-for-user",
        "status": "error",
        "details": {"function": "Accounts.validateLoginAttempt"},
        "message": "Login has been temporarily blocked For User",
    }
    world.advance(5 * 60 + 1)
    ok = await world.call("POST", "login", json={"user": "alice", "password": "pass-word-1"})
    assert ok.status == 200
    again = await world.call("POST", "login", json={"user": "alice", "password": "bad"})
    assert again.body["error"] == "Unauthorized"


async def test_fifty_failed_logins_block_the_ip(world: World) -> None:
    """§2 (Block_Multiple_Failed_Logins_By_Ip): 50 failures from one IP block that IP."""
    world.add_user("alice")
    world.set("API_Enable_Rate_Limiter", False)
    for index in range(50):
        await world.call("POST", "login", json={"user": f"ghost{index}", "password": "x"})
    blocked = await world.call("POST", "login", json={"user": "alice", "password": "pass-word-1"})
    assert blocked.body["error"] == "error-login-blocked-for-ip"
    elsewhere = await world.call(
        "POST",
        "login",
        json={"user": "alice", "password": "pass-word-1"},
        headers={"X-Real-IP": "10.1.2.3"},
    )
    assert elsewhere.status == 200

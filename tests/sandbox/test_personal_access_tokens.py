"""Personal access tokens (reference §5)."""

from __future__ import annotations

from typing import Any

from sandbox.digests import sha256_hex
from tests.sandbox.conftest import Account, World


async def generate(world: World, account: Account, name: Any = "ci", **body: Any) -> Any:
    return await world.call(
        "POST",
        "users.generatePersonalAccessToken",
        auth=account.auth,
        json={"tokenName": name, **body},
    )


async def test_generated_pat_authenticates_like_a_login_token(world: World) -> None:
    """§5/§1: {token} back; X-User-Id + the PAT authenticate; stored hashed without `when`."""
    alice = world.add_user("alice")
    reply = await generate(world, alice)
    assert reply.status == 200 and set(reply.body) == {"token", "success"}
    token = reply.body["token"]
    assert len(token) == 43
    me = await world.call("GET", "me", auth=(alice.user_id, token))
    assert me.status == 200 and me.body["_id"] == alice.user_id
    entry = next(
        e
        for e in world.user(alice)["services"]["resume"]["loginTokens"]
        if e.get("type") == "personalAccessToken"
    )
    assert "when" not in entry and entry["lastTokenPart"] == token[-6:] and entry["name"] == "ci"
    assert token not in str(world.state.users)


async def test_pats_never_expire(world: World) -> None:
    """§2: a PAT has no `when`, so it outlives Accounts_LoginExpiration."""
    alice = world.add_user("alice")
    token = (await generate(world, alice)).body["token"]
    world.advance(200 * 24 * 3600)
    assert (await world.call("POST", "login", json={"resume": token})).status == 200
    assert (await world.call("POST", "login", json={"resume": alice.token})).status == 401


async def test_missing_token_name(world: World) -> None:
    """§5: no tokenName → 400 "The 'tokenName' param is required" (no errorType)."""
    alice = world.add_user("alice")
    reply = await world.call("POST", "users.generatePersonalAccessToken", auth=alice.auth, json={})
    assert reply.status == 400
    assert reply.body == {"success": False, "error": "The 'tokenName' param is required"}


async def test_duplicate_name_is_refused(world: World) -> None:
    """§5: a second token with the same name → error-token-already-exists."""
    alice = world.add_user("alice")
    await generate(world, alice)
    reply = await generate(world, alice)
    assert reply.status == 400
    assert reply.body["errorType"] == "error-token-already-exists"
    assert (
        reply.body["error"] == "A token with this name already exists [error-token-already-exists]"
    )


async def test_list_shows_name_date_last_part_and_bypass(world: World) -> None:
    """§5: getPersonalAccessTokens → [{name, createdAt (ISO), lastTokenPart, bypassTwoFactor}]."""
    alice = world.add_user("alice")
    token = (await generate(world, alice, "a", bypassTwoFactor=True)).body["token"]
    await generate(world, alice, "b")
    reply = await world.call("GET", "users.getPersonalAccessTokens", auth=alice.auth)
    tokens = reply.body["tokens"]
    assert [t["name"] for t in tokens] == ["a", "b"]
    assert tokens[0]["lastTokenPart"] == token[-6:]
    assert tokens[0]["bypassTwoFactor"] is True and tokens[1]["bypassTwoFactor"] is False
    assert tokens[0]["createdAt"].endswith("Z") and "T" in tokens[0]["createdAt"]


async def test_regenerate_replaces_the_secret_and_keeps_bypass(world: World) -> None:
    """§5: regenerate → new token, old one dead, bypass flag kept."""
    alice = world.add_user("alice")
    old = (await generate(world, alice, "a", bypassTwoFactor=True)).body["token"]
    reply = await world.call(
        "POST", "users.regeneratePersonalAccessToken", auth=alice.auth, json={"tokenName": "a"}
    )
    new = reply.body["token"]
    assert new != old
    assert (await world.call("GET", "me", auth=(alice.user_id, old))).status == 401
    assert (await world.call("GET", "me", auth=(alice.user_id, new))).status == 200
    listed = await world.call("GET", "users.getPersonalAccessTokens", auth=alice.auth)
    assert listed.body["tokens"][0]["bypassTwoFactor"] is True


async def test_unknown_token_names(world: World) -> None:
    """§5: regenerate/remove of an unknown name → error-token-does-not-exists."""
    alice = world.add_user("alice")
    for endpoint in ("users.regeneratePersonalAccessToken", "users.removePersonalAccessToken"):
        reply = await world.call("POST", endpoint, auth=alice.auth, json={"tokenName": "zz"})
        assert reply.status == 400
        assert reply.body["error"] == "Token does not exist [error-token-does-not-exists]"
        assert reply.body["errorType"] == "error-token-does-not-exists"


async def test_remove_revokes_the_token(world: World) -> None:
    """§5: remove → {success:true}; the PAT no longer authenticates."""
    alice = world.add_user("alice")
    token = (await generate(world, alice)).body["token"]
    reply = await world.call(
        "POST", "users.removePersonalAccessToken", auth=alice.auth, json={"tokenName": "ci"}
    )
    assert reply.body == {"success": True}
    assert (await world.call("GET", "me", auth=(alice.user_id, token))).status == 401


async def test_without_permission(world: World) -> None:
    """§5: no create-personal-access-tokens → generate 400 not-authorized; list 403."""
    alice = world.add_user("alice")
    world.state.permissions["create-personal-access-tokens"] = ["admin"]
    reply = await generate(world, alice)
    assert reply.status == 400
    assert reply.body["error"] == "Not Authorized [not-authorized]"
    assert reply.body["errorType"] == "not-authorized"
    listed = await world.call("GET", "users.getPersonalAccessTokens", auth=alice.auth)
    assert listed.status == 403
    assert listed.body == {
        "success": False,
        "error": "User does not have the permissions required for this action [error-unauthorized]",
    }


async def test_generate_needs_2fa_for_established_users(world: World) -> None:
    """§5: twoFactorRequired (default options): password fallback via X-2FA headers."""
    alice = world.add_user("alice")
    world.age_accounts()
    required = await generate(world, alice)
    assert required.body["errorType"] == "totp-required"
    ok = await world.call(
        "POST",
        "users.generatePersonalAccessToken",
        auth=alice.auth,
        json={"tokenName": "ci"},
        headers={"X-2FA-Code": sha256_hex("pass-word-1"), "X-2FA-Method": "password"},
    )
    assert ok.status == 200
    removal = await world.call(
        "POST",
        "users.removePersonalAccessToken",
        auth=alice.auth,
        json={"tokenName": "ci"},
        headers={"User-Agent": "another client"},
    )
    assert removal.body["errorType"] == "totp-required"

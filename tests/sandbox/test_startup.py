"""Start-up, persistence and the container-like environment (reference §11)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from sandbox.digests import sha256_hex
from tests.conftest import ADMIN
from tests.rest_helpers import call, login
from tests.sandbox.conftest import FAST_ENV, World, WorldFactory


async def test_cli_prints_exactly_one_listening_line_and_serves(
    http: aiohttp.ClientSession,
) -> None:
    """§11: `python -m sandbox --port 0` prints one line with the real port, then serves."""
    env = {**os.environ, **FAST_ENV}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        url = line.split()[-1]
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        async with http.get(f"{url}/api/info") as response:
            assert response.status == 200
            assert (await response.json())["success"] is True
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    assert process.stdout is not None
    assert await process.stdout.read() == b""


@pytest.mark.parametrize("suffix", [".json", ".db"])
async def test_restart_with_data_file_keeps_users_tokens_pats_and_settings(
    tmp_path: Path, world_factory: WorldFactory, http: aiohttp.ClientSession, suffix: str
) -> None:
    """§11: with --data, a restart keeps users, login tokens, PATs and settings."""
    data = tmp_path / f"world{suffix}"
    async with world_factory(data_file=data) as world:
        created = await world.call(
            "POST",
            "users.create",
            auth=world.admin.auth,
            json={
                "username": "keeper",
                "email": "keeper@example.com",
                "password": "pw-keeper",
                "name": "Keeper",
            },
        )
        assert created.status == 200, created.body
        user_id, token = await login(http, world.url, "keeper", "pw-keeper")
        pat = await world.call(
            "POST",
            "users.generatePersonalAccessToken",
            auth=(user_id, token),
            json={"tokenName": "kept"},
        )
        assert pat.status == 200, pat.body
        changed = await world.call(
            "POST",
            "settings/Accounts_AllowEmailChange",
            auth=world.admin.auth,
            json={"value": False},
        )
        assert changed.status == 200, changed.body
    async with world_factory(data_file=data) as world:
        me = await world.call("GET", "me", auth=(user_id, token))
        assert me.status == 200 and me.body["username"] == "keeper"
        by_pat = await world.call("GET", "me", auth=(user_id, pat.body["token"]))
        assert by_pat.status == 200
        setting = await world.call(
            "GET", "settings/Accounts_AllowEmailChange", auth=world.admin.auth
        )
        assert setting.body["value"] is False
        assert (
            len([u for u in world.state.users.values() if u.get("username") == ADMIN["username"]])
            == 1
        )


async def test_admin_from_environment_can_log_in(world: World) -> None:
    """§11: ADMIN_USERNAME/ADMIN_PASS/ADMIN_EMAIL create an admin."""
    reply = await world.call(
        "POST", "login", json={"user": ADMIN["username"], "password": ADMIN["password"]}
    )
    assert reply.status == 200
    me = reply.body["data"]["me"]
    assert "admin" in me["roles"]
    assert me["emails"] == [{"address": ADMIN["email"], "verified": False}]


async def test_without_admin_variables_the_first_registered_user_becomes_admin(
    world_factory: WorldFactory,
) -> None:
    """§11: with no ADMIN_* variables the first user to register becomes admin."""
    async with world_factory(
        ADMIN_USERNAME="",
        ADMIN_PASS="",
        ADMIN_EMAIL="",
        OVERWRITE_SETTING_Rate_Limiter_Limit_RegisterUser="5",
    ) as world:
        assert not world.state.users
        for name in ("first", "second"):
            reply = await world.call(
                "POST",
                "users.register",
                json={
                    "username": name,
                    "email": f"{name}@example.com",
                    "pass": "pw-1234",
                    "name": name.title(),
                },
            )
            assert reply.status == 200, reply.body
        roles = {u["username"]: u["roles"] for u in world.state.users.values()}
        assert "admin" in roles["first"]
        assert roles["second"] == ["user"]


async def test_overwrite_setting_variables_are_converted_to_the_setting_type(
    world_factory: WorldFactory,
) -> None:
    """§11: OVERWRITE_SETTING_<id> sets booleans and ints typed, not as strings."""
    async with world_factory(
        OVERWRITE_SETTING_Accounts_AllowEmailChange="false",
        OVERWRITE_SETTING_Message_MaxAllowedSize="100",
        OVERWRITE_SETTING_API_Enable_Rate_Limiter="TRUE",
    ) as world:
        for setting_id, expected in (
            ("Accounts_AllowEmailChange", False),
            ("Message_MaxAllowedSize", 100),
            ("API_Enable_Rate_Limiter", True),
        ):
            reply = await world.call("GET", f"settings/{setting_id}", auth=world.admin.auth)
            assert reply.body == {"_id": setting_id, "value": expected, "success": True}


async def test_a_malformed_overwrite_value_is_ignored(world_factory: WorldFactory) -> None:
    """§11: a value that does not fit the setting's type leaves the default in place."""
    async with world_factory(OVERWRITE_SETTING_Message_MaxAllowedSize="lots") as world:
        assert world.state.settings["Message_MaxAllowedSize"] == 5000


async def test_general_exists_and_every_new_user_joins_it(world: World) -> None:
    """Issue/§11: the public channel `general` has the id GENERAL and new users join it."""
    room = world.state.rooms["GENERAL"]
    assert room["name"] == "general" and room["t"] == "c"
    created = await world.call(
        "POST",
        "users.create",
        auth=world.admin.auth,
        json={
            "username": "joiner",
            "email": "joiner@example.com",
            "password": "pw-joiner",
            "name": "Joiner",
        },
    )
    assert world.state.subscription("GENERAL", created.body["user"]["_id"]) is not None
    assert world.state.subscription("GENERAL", world.admin.user_id) is not None


async def test_default_roles_hold_rocket_chat_default_permissions(world: World) -> None:
    """Default permissions as upsertPermissions seeds them (e.g. PATs for admin and user)."""
    reply = await world.call("GET", "permissions.listAll", auth=world.admin.auth)
    roles = {entry["_id"]: entry["roles"] for entry in reply.body["update"]}
    assert roles["create-personal-access-tokens"] == ["admin", "user"]
    assert roles["api-bypass-rate-limit"] == ["admin", "bot", "app"]
    assert roles["edit-other-user-info"] == ["admin"]
    assert "user" in roles["create-d"]
    assert reply.body["remove"] == []


async def test_unknown_endpoint_gets_a_404_body(world: World) -> None:
    """§1: an unknown /api/v1 route answers 404 and the server keeps serving."""
    reply = await world.call("GET", "no.such.endpoint")
    assert reply.status == 404 and reply.body["success"] is False
    assert (await world.call("GET", "info")).status == 200


async def test_admin_password_fallback_hash_matches_sha256(world: World) -> None:
    """§11/§3: the admin's password is stored as Meteor does (bcrypt of SHA-256 hex)."""
    import bcrypt

    stored = world.state.users[world.admin.user_id]["services"]["password"]["bcrypt"]
    assert bcrypt.checkpw(sha256_hex(ADMIN["password"]).encode(), stored.encode())


async def test_call_helper_sees_json_errors_for_bad_json(world: World) -> None:
    """Bad input never crashes the server: malformed JSON gets a 400 and serving goes on."""
    reply = await call(
        world.http,
        world.url,
        "POST",
        "login",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 400 and reply.body["success"] is False
    assert (await world.call("GET", "info")).status == 200

"""Which Rocket.Chat the sandbox behaves as (--rc-version, SANDBOX_RC_VERSION, serve(rc_version))
and how it says so (`/api/info`), plus the sandbox-own clock (reference §11)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from sandbox.server import serve_state
from sandbox.versions import ServerVersion, UnsupportedVersion
from tests.rest_helpers import sandbox_call
from tests.sandbox.conftest import FAST_ENV, World

ROOT = Path(__file__).parents[2]


async def server_info(world: World, auth: tuple[str, str] | None = None) -> dict[str, object]:
    headers = {}
    if auth is not None:
        headers = {"X-User-Id": auth[0], "X-Auth-Token": auth[1]}
    async with world.http.get(f"{world.url}/api/info", headers=headers) as response:
        assert response.status == 200
        return dict(await response.json())


def test_versions_parse_compare_and_refuse_what_is_not_modelled() -> None:
    """7.4.x and 8.6.x are modelled; a patch is optional; anything else is refused by name."""
    assert ServerVersion.parse("8.6") == ServerVersion(8, 6, 0)
    assert ServerVersion.parse(" 7.4.2 ").at_least(7, 4, 1)
    assert not ServerVersion.parse("7.4.0").at_least(8, 6)
    assert ServerVersion.parse("8.6.1") > ServerVersion.parse("8.6.0")
    with pytest.raises(UnsupportedVersion, match=r"7\.4\.x and 8\.6\.x"):
        ServerVersion.parse("8.5.0")
    with pytest.raises(UnsupportedVersion, match="not a Rocket.Chat version"):
        ServerVersion.parse("latest")


async def test_api_info_shows_major_minor_to_anyone_and_everything_to_statistics_viewers(
    any_world: World,
) -> None:
    """getServerInfo (apps/meteor/app/api/server/lib/getServerInfo.ts, called by
    app/api/server/default/info.ts with getLoggedInUser): "major.minor" and the client
    minimums for anyone; with valid X-User-Id/X-Auth-Token and `view-statistics`, the full
    version and `info` (rocketchat.info as packages/rocketchat-version/plugin/
    compile-version.js builds it)."""
    full = str(any_world.state.version)
    short = full.rsplit(".", 1)[0]
    anonymous = await server_info(any_world)
    assert anonymous == {
        "version": short,
        "minimumClientVersions": {"desktop": "3.9.6", "mobile": "4.39.0"},
        "success": True,
    }
    alice = any_world.add_user("alice")
    assert await server_info(any_world, alice.auth) == anonymous  # no view-statistics
    assert await server_info(any_world, (alice.user_id, "wrong-token")) == anonymous
    admin = await server_info(any_world, any_world.admin.auth)
    assert list(admin) == ["version", "info", "minimumClientVersions", "success"]
    assert admin["version"] == full
    info = admin["info"]
    assert isinstance(info, dict) and info["version"] == full
    assert set(info) == {"version", "build", "marketplaceApiVersion", "commit"}
    assert set(info["build"]) == {
        "date",
        "nodeVersion",
        "arch",
        "platform",
        "osRelease",
        "totalMemory",
        "freeMemory",
        "cpus",
    }
    assert set(info["commit"]) == {"hash", "date", "author", "subject", "tag", "branch"}
    assert info["commit"]["tag"] == full


async def test_rc_version_argument_wins_over_the_environment(http: aiohttp.ClientSession) -> None:
    """serve(rc_version=...) beats SANDBOX_RC_VERSION, which beats the 7.4.0 default."""
    env = {**FAST_ENV, "SANDBOX_RC_VERSION": "7.4"}
    async with serve_state(environ=env, rc_version="8.6.1") as (url, state):
        assert str(state.version) == "8.6.1"
        async with http.get(f"{url}/api/info") as response:
            assert (await response.json())["version"] == "8.6"
    async with serve_state(environ=env) as (_url, state):
        assert str(state.version) == "7.4.0"
    async with serve_state(environ=FAST_ENV) as (_url, state):
        assert str(state.version) == "7.4.0"


async def test_cli_refuses_an_unmodelled_version() -> None:
    """`python -m sandbox --rc-version 9.1` stops with a usage error naming the lines it
    models, before it listens anywhere."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--rc-version",
        "9.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert out == b""
    assert b"Rocket.Chat 9.1.0 is not modelled; the sandbox behaves as 7.4.x and 8.6.x" in err


async def test_sandbox_clock_moves_forward_only(world: World) -> None:
    """§11 /sandbox/clock: GET shows the sandbox's now; POST {"advance": s} or {"to": ISO}
    moves it forward; going back or a malformed body is a 400 and changes nothing."""
    before = await sandbox_call(world.url, "GET", "/sandbox/clock")
    assert before["offset"] == 0 and before["version"] == "7.4.0"
    moved = await sandbox_call(world.url, "POST", "/sandbox/clock", {"advance": 3600})
    assert moved["offset"] == 3600
    assert world.state.clock() - datetime.now(UTC) > timedelta(minutes=59)
    target = datetime.now(UTC) + timedelta(days=2)
    jumped = await sandbox_call(
        world.url, "POST", "/sandbox/clock", {"to": target.isoformat().replace("+00:00", "Z")}
    )
    assert abs(datetime.fromisoformat(jumped["now"]) - target) < timedelta(seconds=5)
    for body in ({"advance": -1}, {"to": "2001-01-01T00:00:00Z"}, {"advance": "soon"}, {}):
        async with world.http.post(f"{world.url}/sandbox/clock", json=body) as response:
            assert response.status == 400
            assert (await response.json())["success"] is False
    after = await sandbox_call(world.url, "GET", "/sandbox/clock")
    assert after["offset"] == jumped["offset"]

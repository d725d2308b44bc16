"""`rcbot doctor` against the sandbox, with each setting and permission it checks flipped.

Settings are flipped with the sandbox's `OVERWRITE_SETTING_<id>` environment (as Rocket.Chat's
container does), permissions with `permissions.update` as the admin. Which settings the bot
account may read follows Rocket.Chat (apps/meteor/app/api/server/v1/settings.ts: `settings.public`
serves `public: true` settings to anyone, `settings/:_id` the others only with
`view-privileged-setting`; the rate limiter's are declared without `public` in
apps/meteor/server/settings/rate.ts).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.app.config import BotSettings
from bot.app.doctor import diagnose, exit_status, render
from bot.app.doctor_checks import Finding, Outcome, version_finding
from sandbox.people import Person, create_account
from tests.e2e.conftest import BOT_NAME, BOT_PASSWORD, open_workspace

SLASH = "Message_AllowUnrecognizedSlashCommand"


@dataclass
class Doctored:
    """A workspace, its admin, the bot's settings, and what the doctor found there."""

    url: str
    admin: Person
    settings: BotSettings
    findings: list[Finding]

    def about(self, subject: str) -> Finding:
        matches = [finding for finding in self.findings if finding.subject == subject]
        assert len(matches) == 1, (subject, render(self.findings))
        return matches[0]

    @property
    def report(self) -> str:
        return "\n".join(render(self.findings))


@asynccontextmanager
async def workspace(
    tmp_path: Path, environ: dict[str, str] | None = None, **settings: Any
) -> AsyncIterator[tuple[str, Person, BotSettings]]:
    async with AsyncExitStack() as stack:
        yield await open_workspace(stack, tmp_path, environ or {}, **settings)


async def doctor(
    tmp_path: Path, environ: dict[str, str] | None = None, **settings: Any
) -> Doctored:
    async with workspace(tmp_path, environ, **settings) as (url, admin, bot_settings):
        return Doctored(url, admin, bot_settings, await diagnose(bot_settings))


async def set_permission(admin: Person, permission: str, roles: list[str]) -> None:
    await admin.rest(
        "POST", "permissions.update", json={"permissions": [{"_id": permission, "roles": roles}]}
    )


def setting(setting_id: str, value: str) -> dict[str, str]:
    return {f"OVERWRITE_SETTING_{setting_id}": value}


async def test_a_workspace_set_up_as_the_readme_says_has_nothing_blocking(tmp_path: Path) -> None:
    found = await doctor(tmp_path)
    assert exit_status(found.findings) == 0, found.report
    assert found.about("server").outcome is Outcome.OK
    assert "Rocket.Chat 7.4" in found.about("server").detail
    assert found.about("login").outcome is Outcome.OK
    assert "roles: bot" in found.about("login").detail
    assert found.about(SLASH).outcome is Outcome.OK
    assert found.about("create-personal-access-tokens").outcome is Outcome.OK
    assert found.about("Accounts_CustomFields").detail == "/field offers location, team"
    assert found.about("rooms").outcome is Outcome.OK
    assert found.about("health port").outcome is Outcome.OK
    assert found.report.splitlines()[-1].endswith("nothing blocks the bot")


async def test_slash_commands_off_points_to_the_companion_app_then_the_setting(
    tmp_path: Path,
) -> None:
    found = await doctor(tmp_path, setting(SLASH, "false"))
    line = found.about(SLASH)
    assert line.outcome is Outcome.PROBLEM and not line.blocking
    app, where, meanwhile = line.fix
    assert "companion App from rocketchat-app/" in app and "Setting up Rocket.Chat" in app
    assert "Administration → Settings → Message" in where and SLASH in where
    assert "!bio" in meanwhile and "the ! prefix" in meanwhile and "DM" in meanwhile
    assert exit_status(found.findings) == 0


async def test_slash_commands_do_not_matter_without_the_slash_prefix(tmp_path: Path) -> None:
    found = await doctor(tmp_path, setting(SLASH, "false"), prefixes=["!"])
    assert found.about(SLASH).outcome is Outcome.OK
    assert "not needed" in found.about(SLASH).detail


async def test_the_rate_limiter_is_unchecked_with_the_bot_role_and_names_the_permission(
    tmp_path: Path,
) -> None:
    found = await doctor(tmp_path)
    line = found.about("REST rate limiter")
    assert line.outcome is Outcome.UNCHECKED
    assert "view-privileged-setting" in line.fix[0]
    assert "Administration → Settings → Rate Limiter → API Rate Limiter" in line.fix[1]
    assert "300 calls a minute" in line.fix[1]  # rate_limit_global 300 per 60 s


@pytest.mark.parametrize(
    ("environ", "outcome", "expected"),
    [
        ({}, Outcome.OK, "600 calls per 60 s"),  # the README's setup (WORKSPACE_ENV)
        (
            setting("API_Enable_Rate_Limiter_Limit_Calls_Default", "10"),
            Outcome.PROBLEM,
            "to at least 300 per 60000 ms",
        ),
        (
            {
                **setting("API_Enable_Rate_Limiter_Limit_Calls_Default", "10"),
                **setting("API_Enable_Rate_Limiter", "false"),
            },
            Outcome.OK,
            "off",
        ),
    ],
)
async def test_the_rate_limiter_is_weighed_against_the_configuration_when_readable(
    tmp_path: Path, environ: dict[str, str], outcome: Outcome, expected: str
) -> None:
    async with workspace(tmp_path, environ) as (_, admin, settings):
        await set_permission(admin, "view-privileged-setting", ["admin", "bot"])
        line = next(f for f in await diagnose(settings) if f.subject == "REST rate limiter")
    assert line.outcome is outcome, line
    assert expected in line.detail + " ".join(line.fix)
    assert not line.blocking


async def test_scheduled_rules_for_a_room_count_its_members_in_the_load(tmp_path: Path) -> None:
    rules = [
        {
            "name": "evening",
            "trigger": {"schedule": "0 18 * * *"},
            "users": {"usernames": [f"user{n}" for n in range(40)]},
            "change": {"status": "away"},
        }
    ]
    environ = setting("API_Enable_Rate_Limiter_Limit_Calls_Default", "30")
    async with workspace(tmp_path, environ, rules=rules, rate_limit_global=20) as (
        _,
        admin,
        settings,
    ):
        await set_permission(admin, "view-privileged-setting", ["admin", "bot"])
        line = next(f for f in await diagnose(settings) if f.subject == "REST rate limiter")
    assert line.outcome is Outcome.PROBLEM
    assert "40 people changed at once by scheduled rules" in line.detail
    assert "to at least 40 per 60000 ms" in line.fix[0]


async def test_users_without_the_token_permission_block_the_bot(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (_, admin, settings):
        await set_permission(admin, "create-personal-access-tokens", ["admin"])
        findings = await diagnose(settings)
    line = next(f for f in findings if f.subject == "create-personal-access-tokens")
    assert line.outcome is Outcome.PROBLEM and line.blocking
    assert "Administration → Permissions → create-personal-access-tokens" in line.fix[0]
    assert exit_status(findings) == 1


@pytest.mark.parametrize(
    ("value", "outcome", "expected"),
    [
        ("", Outcome.OK, "none defined: /field has nothing to offer"),
        ("{not json", Outcome.PROBLEM, "is not a JSON object of fields"),
    ],
)
async def test_custom_fields_say_what_field_offers(
    tmp_path: Path, value: str, outcome: Outcome, expected: str
) -> None:
    found = await doctor(tmp_path, setting("Accounts_CustomFields", value))
    line = found.about("Accounts_CustomFields")
    assert line.outcome is outcome and expected in line.detail
    assert "Accounts → Registration → Custom Fields" in line.detail + " ".join(line.fix)


@pytest.mark.parametrize(
    ("environ", "expected", "absent"),
    [
        ({}, ["authenticator app", "e-mails them", "current password"], []),
        (setting("Accounts_TwoFactorAuthentication_Enabled", "false"), ["off", "no code"], []),
        (
            {
                **setting("Accounts_TwoFactorAuthentication_By_Email_Enabled", "false"),
                **setting("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback", "false"),
            },
            ["authenticator app"],
            ["e-mails", "current password"],
        ),
    ],
)
async def test_the_two_factor_settings_describe_the_flows(
    tmp_path: Path, environ: dict[str, str], expected: list[str], absent: list[str]
) -> None:
    line = (await doctor(tmp_path, environ)).about("two-factor authentication")
    assert line.outcome is Outcome.OK
    assert all(text in line.detail for text in expected), line.detail
    assert not any(text in line.detail for text in absent), line.detail


@pytest.mark.parametrize(
    ("setting_id", "refused"),
    [
        ("Accounts_AllowUserProfileChange", "/bio, /nick, /name and /field"),
        ("Accounts_AllowRealNameChange", "/name"),
        ("Accounts_AllowUserStatusMessageChange", "status texts"),
        ("Accounts_AllowUsernameChange", "/username"),
        ("Accounts_AllowEmailChange", "/email"),
        ("Accounts_AllowPasswordChange", "/password"),
    ],
)
async def test_a_profile_change_turned_off_is_a_problem_that_does_not_block(
    tmp_path: Path, setting_id: str, refused: str
) -> None:
    found = await doctor(tmp_path, setting(setting_id, "false"))
    line = found.about(setting_id)
    assert line.outcome is Outcome.PROBLEM and not line.blocking
    assert refused in line.detail
    assert "Administration → Settings → Accounts" in line.fix[0] and setting_id in line.fix[0]
    others = [f for f in found.findings if f.subject.startswith("Accounts_Allow")]
    assert [f.subject for f in others if f.outcome is Outcome.PROBLEM] == [setting_id]
    assert exit_status(found.findings) == 0


def rule_in(*rooms: str, selector: str | None = None) -> dict[str, Any]:
    users: dict[str, Any] = {"room": selector} if selector else {"opted_in": True}
    return {
        "name": "lunch",
        "trigger": {"message": "^lunch$", "rooms": list(rooms)},
        "users": users,
        "change": {"status": "away"},
    }


async def test_rooms_of_the_rules_must_exist_with_the_bot_inside(tmp_path: Path) -> None:
    async with workspace(tmp_path, rules=[rule_in("general", "team", selector="#ops")]) as (
        _,
        admin,
        settings,
    ):
        await admin.rest("POST", "channels.create", json={"name": "team"})
        findings = await diagnose(settings)
        by_room = {f.subject: f for f in findings if f.subject.startswith("#")}
        assert by_room["#general"].outcome is Outcome.OK
        assert by_room["#team"].outcome is Outcome.PROBLEM and by_room["#team"].blocking
        assert "not a member" in by_room["#team"].detail
        assert f"/invite @{BOT_NAME} in #team" in by_room["#team"].fix[0]
        assert (
            by_room["#ops"].outcome is Outcome.PROBLEM and "no channel" in by_room["#ops"].detail
        )
        assert exit_status(findings) == 1

        await admin.rest(
            "POST", "channels.invite", json={"roomName": "team", "username": BOT_NAME}
        )
        await admin.rest("POST", "channels.create", json={"name": "ops", "members": [BOT_NAME]})
        findings = await diagnose(settings)
    assert all(f.outcome is Outcome.OK for f in findings if f.subject.startswith("#"))
    assert exit_status(findings) == 0


async def test_a_taken_health_port_blocks_the_bot(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        found = await doctor(tmp_path, health_port=port)
    line = found.about("health port")
    assert line.outcome is Outcome.PROBLEM and line.blocking
    assert "health_port (RCBOT_HEALTH_PORT)" in line.fix[0]
    free = await doctor(tmp_path, health_port=port)
    assert free.about("health port").outcome is Outcome.OK


async def test_an_unreachable_server_blocks_and_stops_the_workspace_checks(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with workspace(tmp_path) as (_, _admin, settings):
        unreachable = settings.model_copy(update={"server_url": f"http://127.0.0.1:{port}"})
        findings = await diagnose(unreachable)
    assert [f.subject for f in findings] == ["server", "health port"]
    assert findings[0].blocking and "cannot reach Rocket.Chat" in findings[0].detail
    assert exit_status(findings) == 1


async def test_a_refused_login_blocks_and_says_what_it_could_not_check(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (_, _admin, settings):
        wrong = settings.model_copy(update={"password": SecretStr("wrong")})
        findings = await diagnose(wrong)
    login = next(f for f in findings if f.subject == "login")
    assert login.outcome is Outcome.PROBLEM and login.blocking
    rest = next(f for f in findings if f.subject == "the rest")
    assert rest.outcome is Outcome.UNCHECKED
    # Public settings need no login, so they are still checked.
    assert any(f.subject == SLASH and f.outcome is Outcome.OK for f in findings)
    assert "wrong" not in "\n".join(render(findings))


async def test_a_bot_account_without_the_bot_role_is_told_how_to_add_it(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (_, admin, settings):
        await create_account(admin, "helper", "Helper-pass-1", roles=["user"])
        as_user = settings.model_copy(
            update={"username": "helper", "password": SecretStr("Helper-pass-1")}
        )
        findings = await diagnose(as_user)
    login = next(f for f in findings if f.subject == "login")
    assert login.outcome is Outcome.PROBLEM and not login.blocking
    assert "Administration → Users → helper → Edit → Roles: add bot" in login.fix


@pytest.mark.parametrize(
    ("answer", "outcome", "blocking"),
    [
        ({"version": "7.4"}, Outcome.OK, False),
        ({"info": {"version": "8.6.1"}}, Outcome.OK, False),
        ({"version": "6.13"}, Outcome.PROBLEM, False),
        ({"version": "9.0"}, Outcome.PROBLEM, False),
        ({"status": "ok"}, Outcome.PROBLEM, True),
    ],
)
def test_server_versions_7_and_8_are_supported(
    answer: dict[str, Any], outcome: Outcome, blocking: bool
) -> None:
    finding = version_finding("http://chat", answer)
    assert (finding.outcome, finding.blocking) == (outcome, blocking)


async def test_rcbot_doctor_prints_one_line_per_check_and_exits_by_what_blocks(
    tmp_path: Path,
) -> None:
    """The command as an admin runs it: RCBOT_* variables, its own process, its exit status."""
    async with workspace(tmp_path, setting(SLASH, "false")) as (url, admin, settings):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RCBOT_")}
        environ.update(
            RCBOT_SERVER_URL=url,
            RCBOT_USERNAME=BOT_NAME,
            RCBOT_PASSWORD=BOT_PASSWORD,
            RCBOT_SECRET_KEY=settings.secret_key.get_secret_value(),
        )

        async def run() -> tuple[int, str, str]:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "doctor", env=environ, cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 30)
            assert process.returncode is not None
            return process.returncode, out.decode(), err.decode()

        status, out, err = await run()
        assert status == 0, out + err
        lines = out.splitlines()
        assert lines[0] == f"rcbot doctor: {url}"
        assert any(line.startswith(f"✗ {SLASH}: off") for line in lines)
        assert any(line.startswith("✓ create-personal-access-tokens") for line in lines)
        assert any(line.startswith("? REST rate limiter") for line in lines)
        assert lines[-1].endswith("nothing blocks the bot")

        await set_permission(admin, "create-personal-access-tokens", ["admin"])
        status, out, err = await run()
    assert status == 1, out + err
    assert "✗ create-personal-access-tokens" in out and "[blocks the bot]" in out
    assert out.splitlines()[-1].endswith("1 problem blocks the bot")
    assert BOT_PASSWORD not in out + err


async def test_a_server_error_on_one_check_makes_it_unchecked_not_a_crash(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (url, _admin, settings):
        async with aiohttp.ClientSession() as http:
            fault = {"endpoint": "permissions.listAll", "status": 500, "count": 1}
            async with http.post(f"{url}/sandbox/faults", json=fault) as armed:
                assert armed.status == 200
        findings = await diagnose(settings)
    line = next(f for f in findings if f.subject == "create-personal-access-tokens")
    assert line.outcome is Outcome.UNCHECKED
    assert "Rocket.Chat answered with an error" in line.detail and "HTTP 500" in line.detail
    assert findings[-1].subject == "health port"  # the checks after it still ran


# -- Rocket.Chat 8: fixed per-route limits (PR #38354; apps/meteor/app/api/server/v1/users.ts
# declares rateLimiterOptions on users.updateOwnBasicInfo and users.setStatus) ------------------

RC86 = {"SANDBOX_RC_VERSION": "8.6.0"}
ROUTE_LIMITS = "Rocket.Chat 8 route limits"


async def test_on_rocket_chat_8_the_route_limits_are_a_problem_while_the_limiter_is_on(
    tmp_path: Path,
) -> None:
    found = await doctor(tmp_path, RC86)
    line = found.about(ROUTE_LIMITS)
    assert line.outcome is Outcome.PROBLEM and not line.blocking
    assert "is on by default (the doctor could not read it)" in line.detail
    assert "users.updateOwnBasicInfo 1 a minute, users.setStatus 5 a minute" in line.detail
    assert "API_Enable_Rate_Limiter = false" in line.fix[0]
    assert "api-bypass-rate-limit" in line.fix[1]


async def test_on_rocket_chat_8_the_limiter_off_or_a_bypass_for_people_is_fine(
    tmp_path: Path,
) -> None:
    async with workspace(
        tmp_path / "off", {**RC86, **setting("API_Enable_Rate_Limiter", "false")}
    ) as (
        _,
        admin,
        settings,
    ):
        await set_permission(admin, "view-privileged-setting", ["admin", "bot"])
        off = next(f for f in await diagnose(settings) if f.subject == ROUTE_LIMITS)
    assert off.outcome is Outcome.OK and "limiter is off" in off.detail
    async with workspace(tmp_path / "bypass", RC86) as (_, admin, settings):
        await set_permission(admin, "api-bypass-rate-limit", ["admin", "bot", "app", "user"])
        bypass = next(f for f in await diagnose(settings) if f.subject == ROUTE_LIMITS)
    assert (
        bypass.outcome is Outcome.OK and "role user holds api-bypass-rate-limit" in bypass.detail
    )


async def test_rocket_chat_7_has_no_route_limits_to_report(tmp_path: Path) -> None:
    found = await doctor(tmp_path)
    assert all(finding.subject != ROUTE_LIMITS for finding in found.findings)

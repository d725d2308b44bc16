"""`rcbot doctor -c bot.toml`: log in as the bot and check the workspace, one line per check.

    ✓ fine   ✗ a problem (with where to fix it in Rocket.Chat's administration, and the setting
    id)   ? could not be checked (with what would let the doctor check it)

Exit status: 0 when nothing blocks the bot (✗ lines that only take a feature away, and ? lines,
do not), 1 when something does (the server cannot be reached, the bot cannot log in, ordinary
users may not create tokens, a room of the rules is missing or without the bot, the health port
is taken), 2 for a configuration problem (as every rcbot command).

The doctor reads and never writes; it uses the bot's own REST client (bot.rocketchat.rest.RestClient).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from bot.app.config import BotSettings
from bot.app.doctor_checks import (
    PUBLIC_IDS,
    Finding,
    Outcome,
    Workspace,
    account_change_findings,
    custom_fields_finding,
    ok,
    problem,
    rate_limiter_finding,
    roles_finding,
    room_findings,
    route_limits_finding,
    server_version,
    slash_commands_finding,
    token_permission_finding,
    two_factor_finding,
    unchecked,
    version_finding,
)
from bot.app.healthcheck import health_url
from bot.core.errors import AuthError, ServerError, TwoFactorRequired
from bot.core.setting_names import describe_key
from bot.rocketchat.account import BotAccount, BotLogin
from bot.rocketchat.rest import RestClient

EXIT_OK: Final = 0
EXIT_BLOCKED: Final = 1


async def _server(workspace: Workspace) -> Finding:
    url = workspace.settings.server_url
    try:
        answer = await workspace.rest.request("GET", "/api/info")
    except ServerError as exc:
        return problem(
            "server",
            f"cannot reach Rocket.Chat at {url}: {exc}",
            f"check {describe_key('server_url')} and that this machine reaches it",
            blocking=True,
        )
    workspace.version = server_version(answer)
    return version_finding(url, answer)


async def _login(workspace: Workspace) -> Finding:
    settings = workspace.settings
    rest = workspace.rest
    try:
        credentials = await BotAccount(BotLogin.from_settings(settings), rest).credentials()
        workspace.me = await rest.me(credentials)
    except TwoFactorRequired:
        return problem(
            "login",
            f"{settings.username} must give a two-factor code to log in with a password",
            f"turn two-factor authentication off for the bot account, or log in with "
            f"{describe_key('user_id')} + {describe_key('auth_token')} (a personal access "
            "token of the bot needs no code)",
            blocking=True,
        )
    except AuthError as exc:
        return problem(
            "login",
            f"Rocket.Chat refused the bot's login ({exc.error_type or exc.status})",
            "check the bot account's credentials (username + password, or user_id + "
            "auth_token) and that the account is active (Administration → Users)",
            blocking=True,
        )
    except ServerError as exc:
        return problem("login", f"the login failed: {exc}", blocking=True)
    workspace.credentials = credentials
    return roles_finding(workspace)


def _port_owner_is_rcbot(host: str, port: int) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(health_url(host, port), timeout=2) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:  # 503 while it reconnects: still an rcbot
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            return False
    except (OSError, ValueError):
        return False
    return isinstance(body, dict) and "status" in body


async def health_port_finding(settings: BotSettings) -> Finding:
    """The health port must be free (or already served by a running rcbot)."""
    subject = "health port"
    port = settings.health_port
    if port is None:
        return ok(subject, f"not set ({describe_key('health_port')}): no /healthz or /metrics")
    host = settings.health_host
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    except OSError as exc:
        if await asyncio.to_thread(_port_owner_is_rcbot, host, port):
            return ok(subject, f"{host}:{port} is served by a running rcbot")
        return problem(
            subject,
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): rcbot run would stop",
            f"free the port, or choose another {describe_key('health_port')} / "
            f"{describe_key('health_host')}",
            blocking=True,
        )
    return ok(subject, f"{host}:{port} is free")


async def _guarded(subject: str, check: Awaitable[Finding | list[Finding]]) -> list[Finding]:
    """The check's findings, or one ? line when Rocket.Chat answers it with an error."""
    try:
        found = await check
    except ServerError as exc:
        return [unchecked(subject, f"Rocket.Chat answered with an error: {exc}")]
    return found if isinstance(found, list) else [found]


async def diagnose(settings: BotSettings) -> list[Finding]:
    """Every check, in the order of the report."""
    findings: list[Finding] = []
    async with RestClient(
        settings.server_url,
        timeout=settings.request_timeout,
        max_attempts=1,
        max_rate_limit_wait=settings.max_rate_limit_wait,
    ) as rest:
        workspace = Workspace(settings=settings, rest=rest)
        findings.append(await _server(workspace))
        if findings[-1].blocking:
            return [*findings, await health_port_finding(settings)]
        findings.append(await _login(workspace))
        try:
            workspace.public = await rest.public_settings(list(PUBLIC_IDS))
        except ServerError:
            workspace.public = {}  # each setting's line then says it could not be read
        findings.append(slash_commands_finding(workspace))
        if workspace.credentials is not None:
            findings += await _guarded("REST rate limiter", rate_limiter_finding(workspace))
            findings += await _guarded(
                "Rocket.Chat 8 route limits", route_limits_finding(workspace)
            )
            findings += await _guarded(
                "create-personal-access-tokens", token_permission_finding(workspace)
            )
        findings.append(custom_fields_finding(workspace))
        findings.append(two_factor_finding(workspace))
        findings.extend(account_change_findings(workspace))
        if workspace.credentials is not None:
            findings += await _guarded("rooms", room_findings(workspace))
        else:
            findings.append(
                unchecked(
                    "the rest",
                    "the rate limiter, create-personal-access-tokens and the rules' rooms need "
                    "the bot's login",
                    "fix the login above, then run rcbot doctor again",
                )
            )
    findings.append(await health_port_finding(settings))
    return findings


def render(findings: Iterable[Finding]) -> list[str]:
    """The report: one line per finding, its fixes indented below, and a summary line."""
    lines = []
    counts = dict.fromkeys(Outcome, 0)
    blocking = 0
    for finding in findings:
        counts[finding.outcome] += 1
        blocking += finding.blocking
        note = " [blocks the bot]" if finding.blocking else ""
        lines.append(f"{finding.outcome.value} {finding.subject}: {finding.detail}{note}")
        lines.extend(f"    → {fix}" for fix in finding.fix)
    verdict = (
        f"{blocking} problem{'s' if blocking != 1 else ''} block{'' if blocking != 1 else 's'} "
        "the bot"
        if blocking
        else "nothing blocks the bot"
    )
    lines.append(
        f"{counts[Outcome.OK]} ✓, {counts[Outcome.PROBLEM]} ✗, {counts[Outcome.UNCHECKED]} not "
        f"checked: {verdict}"
    )
    return lines


def exit_status(findings: Iterable[Finding]) -> int:
    """0 when nothing blocks the bot, else 1."""
    return EXIT_BLOCKED if any(finding.blocking for finding in findings) else EXIT_OK


def run_doctor(settings: BotSettings, out: Callable[[str], None] = print) -> int:
    """Run every check, print the report, return the exit status."""
    out(f"rcbot doctor: {settings.server_url}")
    findings = asyncio.run(diagnose(settings))
    for line in render(findings):
        out(line)
    return exit_status(findings)

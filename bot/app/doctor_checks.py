"""The checks of `rcbot doctor`: each looks at one thing the bot needs from the workspace and
returns `Finding`s (✓ fine, ✗ a problem, ? could not be checked, with where to fix it).

What the bot account can read (Rocket.Chat 7.x/8.x, apps/meteor/app/api/server/v1/settings.ts):
`settings.public` serves settings declared `public: true` to anyone; `settings/:_id` serves any
other setting only to holders of `view-privileged-setting` (admins by default), answering others
403. The settings the doctor reads are public (Message_AllowUnrecognizedSlashCommand in
server/settings/message.ts, the Accounts_* ones in server/settings/accounts.ts) except the REST
rate limiter's (server/settings/rate.ts declares them without `public`), so with the `bot` role
alone that one line says what it could not read and which permission would let it.
`permissions.listAll` and `subscriptions.get` need only a login.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

from bot.app.config import BotSettings
from bot.core.credentials import Credentials
from bot.core.errors import AuthError, ServerError
from bot.rocketchat.rest import RestClient

SUPPORTED_MAJORS: Final = (7, 8)
SETTINGS: Final = "Administration → Settings"
PERMISSIONS: Final = "Administration → Permissions"
SLASH_SETTING: Final = "Message_AllowUnrecognizedSlashCommand"
COMPANION_APP: Final = (
    'install the companion App from rocketchat-app/ (README, "Setting up Rocket.Chat"): it '
    "passes /bio and the bot's other commands on"
)
RATE_LIMITER: Final = (
    "API_Enable_Rate_Limiter",
    "API_Enable_Rate_Limiter_Limit_Calls_Default",
    "API_Enable_Rate_Limiter_Limit_Time_Default",
)
PAT_PERMISSION: Final = "create-personal-access-tokens"
BYPASS_PERMISSION: Final = "api-bypass-rate-limit"
# Rocket.Chat 8's fixed per-route limits (PR #38354, apps/meteor/app/api/server/v1/users.ts
# `rateLimiterOptions`): calls per minute per client address, whatever the default is set to.
ROUTE_LIMITS: Final[Mapping[str, int]] = {"users.updateOwnBasicInfo": 1, "users.setStatus": 5}
PRIVILEGED_READ: Final = "view-privileged-setting"
TWO_FACTOR: Final = (
    "Accounts_TwoFactorAuthentication_Enabled",
    "Accounts_TwoFactorAuthentication_By_TOTP_Enabled",
    "Accounts_TwoFactorAuthentication_By_Email_Enabled",
    "Accounts_TwoFactorAuthentication_Enforce_Password_Fallback",
)
# Setting id → (label in Administration → Settings → Accounts, what the bot cannot do without it).
ACCOUNT_CHANGES: Final[Mapping[str, tuple[str, str]]] = {
    "Accounts_AllowUserProfileChange": (
        "Allow User Profile Change",
        "/bio, /nick, /name and /field are refused",
    ),
    "Accounts_AllowRealNameChange": ("Allow Name Change", "/name is refused"),
    "Accounts_AllowUserStatusMessageChange": (
        "Allow User Status Message Change",
        "status texts (/status TEXT, rules with status_text) are refused",
    ),
    "Accounts_AllowUsernameChange": ("Allow Username Change", "/username is refused"),
    "Accounts_AllowEmailChange": ("Allow Email Change", "/email is refused"),
    "Accounts_AllowPasswordChange": ("Allow Password Change", "/password is refused"),
}
PUBLIC_IDS: Final = (SLASH_SETTING, "Accounts_CustomFields", *TWO_FACTOR, *ACCOUNT_CHANGES)
_VERSION = re.compile(r"^(\d+)\.(\d+)")


class Outcome(Enum):
    """How a check ended; the value is the mark printed in front of its line."""

    OK = "✓"
    PROBLEM = "✗"
    UNCHECKED = "?"


@dataclass(frozen=True)
class Finding:
    """One line of the report, and for ✗ and ? where to act (`fix`, one line each)."""

    outcome: Outcome
    subject: str
    detail: str
    fix: tuple[str, ...] = ()
    blocking: bool = False


def ok(subject: str, detail: str) -> Finding:
    """A ✓ line."""
    return Finding(Outcome.OK, subject, detail)


def problem(subject: str, detail: str, *fix: str, blocking: bool = False) -> Finding:
    """A ✗ line; `blocking` when the bot cannot work (or start) until it is fixed."""
    return Finding(Outcome.PROBLEM, subject, detail, tuple(fix), blocking)


def unchecked(subject: str, detail: str, *fix: str) -> Finding:
    """A ? line: what could not be checked and what would let the doctor check it."""
    return Finding(Outcome.UNCHECKED, subject, detail, tuple(fix))


class SettingUnreadable(Exception):
    """The bot account may not read a non-public setting (HTTP 401/403)."""


@dataclass
class Workspace:
    """What the checks share: the settings, the REST client, and the bot's login once made."""

    settings: BotSettings
    rest: RestClient
    credentials: Credentials | None = None
    version: tuple[int, int] | None = None  # major.minor, once /api/info answered
    me: dict[str, Any] = field(default_factory=dict)
    public: dict[str, Any] = field(default_factory=dict)

    @property
    def bot_name(self) -> str:
        """The bot's username as the server knows it (else as configured)."""
        return str(self.me.get("username") or self.settings.username or self.settings.user_id)

    async def as_bot(self, endpoint: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET `endpoint` with the bot's login."""
        return await self.rest.request(
            "GET", endpoint, credentials=self.credentials, params=params
        )

    async def private_setting(self, setting_id: str) -> Any:
        """The value of a non-public setting (`settings/:_id`); SettingUnreadable without
        view-privileged-setting."""
        try:
            answer = await self.as_bot(f"settings/{setting_id}")
        except AuthError:
            raise SettingUnreadable(setting_id) from None
        except ServerError as exc:
            if exc.status in (401, 403):
                raise SettingUnreadable(setting_id) from None
            raise
        return answer.get("value")


# -- the server and the bot's login -------------------------------------------------------------


def _version_text(answer: Mapping[str, Any]) -> str:
    info = answer.get("info")
    return str((info.get("version") if isinstance(info, dict) else answer.get("version")) or "")


def server_version(answer: Mapping[str, Any]) -> tuple[int, int] | None:
    """(major, minor) from GET /api/info's answer (`info.version` or `version`), if any."""
    found = _VERSION.match(_version_text(answer))
    return (int(found.group(1)), int(found.group(2))) if found else None


def version_finding(url: str, answer: Mapping[str, Any]) -> Finding:
    """GET /api/info: `version` ("7.4", getServerInfo without get-server-info) or `info.version`
    (the full one, for accounts that hold get-server-info)."""
    version = _version_text(answer)
    found = _VERSION.match(version)
    if found is None:
        return problem(
            "server",
            f"{url} answered /api/info without a Rocket.Chat version; is server_url the "
            "Rocket.Chat server?",
            "set server_url (RCBOT_SERVER_URL) to the address people open Rocket.Chat at",
            blocking=True,
        )
    major = int(found.group(1))
    supported = " and ".join(f"{m}.x" for m in SUPPORTED_MAJORS)
    if major in SUPPORTED_MAJORS:
        return ok("server", f"Rocket.Chat {version} at {url} (supported: {supported})")
    return problem(
        "server",
        f"Rocket.Chat {version} at {url} is not a version the bot supports ({supported}); "
        "it may work, untested",
        "upgrade Rocket.Chat to a supported version"
        if major < min(SUPPORTED_MAJORS)
        else "check for a newer rcbot",
    )


def roles_finding(workspace: Workspace) -> Finding:
    """The bot account should have the `bot` role (api-bypass-rate-limit, send-many-messages)."""
    roles = [str(role) for role in workspace.me.get("roles") or []]
    shown = ", ".join(roles) or "none"
    if "bot" in roles:
        return ok("login", f"logged in as {workspace.bot_name} (roles: {shown})")
    return problem(
        "login",
        f"logged in as {workspace.bot_name}, but without the bot role (roles: {shown}): "
        "Rocket.Chat then limits the bot's messages like a person's",
        f"Administration → Users → {workspace.bot_name} → Edit → Roles: add bot",
    )


# -- public settings ---------------------------------------------------------------------------


def _missing(setting_id: str) -> Finding:
    return unchecked(
        setting_id,
        "the server does not serve this setting through settings.public",
        "compare the setting in Administration → Settings by hand",
    )


def slash_commands_finding(workspace: Workspace) -> Finding:
    """Without Message_AllowUnrecognizedSlashCommand the web client never sends `/bio`."""
    prefixes = workspace.settings.prefixes
    if "/" not in prefixes:
        return ok(SLASH_SETTING, "not needed: the configured prefixes do not include /")
    if SLASH_SETTING not in workspace.public:
        return _missing(SLASH_SETTING)
    if workspace.public[SLASH_SETTING] is True:
        return ok(SLASH_SETTING, "on: /commands the client does not know reach the bot")
    others = [prefix for prefix in prefixes if prefix != "/"]
    meanwhile = (
        f"meanwhile {others[0]}bio … (the {others[0]} prefix) works in every room, and in the "
        "DM with the bot a command needs no prefix"
        if others
        else "meanwhile commands work in the DM with the bot, without a prefix"
    )
    return problem(
        SLASH_SETTING,
        "off: Rocket.Chat's web client never sends /bio or any /command it does not know, "
        "so the bot cannot see them",
        COMPANION_APP,
        f"or turn on {SETTINGS} → Message → Allow unrecognized slash commands ({SLASH_SETTING})",
        meanwhile,
    )


def custom_fields_finding(workspace: Workspace) -> Finding:
    """Accounts_CustomFields: the fields /field offers."""
    setting_id = "Accounts_CustomFields"
    where = f"{SETTINGS} → Accounts → Registration → Custom Fields ({setting_id})"
    if setting_id not in workspace.public:
        return _missing(setting_id)
    raw = workspace.public[setting_id]
    if not isinstance(raw, str) or not raw.strip():
        return ok(
            setting_id, f"none defined: /field has nothing to offer (define them at {where})"
        )
    try:
        fields = json.loads(raw)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        return problem(
            setting_id,
            "is not a JSON object of fields, so /field offers none",
            f"fix the JSON at {where}",
        )
    return ok(setting_id, f"/field offers {', '.join(sorted(fields)) or 'nothing'}")


def two_factor_finding(workspace: Workspace) -> Finding:
    """The 2FA settings decide what /email and /password ask for; none of them blocks the bot."""
    values = workspace.public
    subject = "two-factor authentication"
    if any(setting_id not in values for setting_id in TWO_FACTOR):
        return _missing(next(s for s in TWO_FACTOR if s not in values))
    enabled, totp, email, fallback = (values[setting_id] is True for setting_id in TWO_FACTOR)
    if not enabled:
        return ok(subject, f"off ({TWO_FACTOR[0]}): /email and /password ask for no code")
    asked = []
    if totp:
        asked.append("the code of their authenticator app")
    if email:
        asked.append("a code Rocket.Chat e-mails them (needs Rocket.Chat's SMTP set up)")
    if fallback:
        asked.append("else their current password (password fallback)")
    what = ", or ".join(asked) if asked else "nothing: every method is off"
    return ok(subject, f"on: /email and /password ask people for {what}")


def account_change_findings(workspace: Workspace) -> list[Finding]:
    """One line per Accounts_Allow*Change setting: off means some commands are refused."""
    findings = []
    for setting_id, (label, refused) in ACCOUNT_CHANGES.items():
        if setting_id not in workspace.public:
            findings.append(_missing(setting_id))
        elif workspace.public[setting_id] is True:
            findings.append(ok(setting_id, "on"))
        else:
            findings.append(
                problem(
                    setting_id,
                    f"off: {refused} (the bot says so to whoever asks)",
                    f"if people should have it: {SETTINGS} → Accounts → {label} ({setting_id})",
                )
            )
    return findings


# -- what needs the bot's login ----------------------------------------------------------------


async def token_permission_finding(workspace: Workspace) -> Finding:
    """Ordinary users (role `user`) need create-personal-access-tokens to delegate a token."""
    roles = await _roles_holding(workspace, PAT_PERMISSION)
    if roles is None:
        return unchecked(PAT_PERMISSION, "the server does not list this permission")
    if "user" in roles:
        return ok(PAT_PERMISSION, "ordinary users (role user) may create personal access tokens")
    return problem(
        PAT_PERMISSION,
        f"the user role lacks it (it has: {', '.join(roles) or 'no role'}), so ordinary users "
        "cannot create the token they give the bot",
        f"{PERMISSIONS} → {PAT_PERMISSION}: tick the user role",
        blocking=True,
    )


def _per_minute(calls: float, window_seconds: float) -> float:
    return calls * 60.0 / window_seconds if window_seconds > 0 else float("inf")


async def _room_size(workspace: Workspace, room: str) -> int | None:
    for endpoint in ("channels.members", "groups.members"):
        try:
            answer = await workspace.as_bot(endpoint, {"roomName": room, "count": 1})
        except ServerError:
            continue
        total = answer.get("total")
        return total if isinstance(total, int) else None
    return None


async def implied_load(workspace: Workspace) -> tuple[float, list[str]]:
    """The most REST calls a minute to one endpoint the configuration can make from the bot's
    address (infinite without a global command limit), and how that figure was reached."""
    settings = workspace.settings
    if not settings.rate_limit_global:
        return float("inf"), ["rate_limit_global is 0, so commands are not limited"]
    commands = _per_minute(settings.rate_limit_global, settings.rate_limit_window)
    reasons = [
        (
            f"up to {commands:g} commands a minute (rate_limit_global {settings.rate_limit_global} "
            f"per {settings.rate_limit_window:g} s)"
        )
    ]
    at_once = 0
    for rule in settings.rules:
        if rule.trigger.next_fire(datetime.now(UTC), UTC) is None:
            continue  # not on a clock: it acts for one sender at a time
        if rule.users.usernames is not None:
            at_once += len(rule.users.usernames)
        elif rule.users.room is not None:
            size = await _room_size(workspace, rule.users.room.removeprefix("#"))
            at_once += size or 0
    if at_once:
        reasons.append(f"{at_once} people changed at once by scheduled rules")
    return max(commands, float(at_once)), reasons


async def rate_limiter_finding(workspace: Workspace) -> Finding:
    """Rocket.Chat's REST limiter counts calls per client address and endpoint; every change the
    bot makes comes from its address."""
    subject = "REST rate limiter"
    need, reasons = await implied_load(workspace)
    why = "; ".join(reasons)
    wanted = (
        f"{need:g} calls a minute or more ({why})"
        if need != float("inf")
        else f"as many calls as people send commands ({why})"
    )
    where = f"{SETTINGS} → Rate Limiter → API Rate Limiter"
    try:
        enabled, calls, window_ms = [
            await workspace.private_setting(setting_id) for setting_id in RATE_LIMITER
        ]
    except SettingUnreadable:
        return unchecked(
            subject,
            f"the bot account may not read {', '.join(RATE_LIMITER)}: they are not public",
            f"to let the doctor read them, give the bot's role the {PRIVILEGED_READ} permission "
            f"({PERMISSIONS} → {PRIVILEGED_READ})",
            f"or check by hand at {where}: the bot needs {wanted}",
        )
    if enabled is not True:
        return ok(subject, "off: no REST rate limit")
    if not isinstance(calls, int | float) or not isinstance(window_ms, int | float):
        return unchecked(subject, "the limiter's settings have unexpected values", where)
    allowed = _per_minute(calls, window_ms / 1000.0)
    detail = f"{calls:g} calls per {window_ms / 1000:g} s per endpoint and address"
    if allowed >= need:
        return ok(subject, f"{detail}; the configuration needs at most {need:g} a minute ({why})")
    raise_to = (
        f"to at least {math.ceil(need * window_ms / 60000)} per {window_ms:g} ms"
        if need != float("inf")
        else "to what your busiest minute needs (or set rate_limit_global)"
    )
    return problem(
        subject,
        f"{detail}, but the bot may need {wanted}: commands will wait for the limiter and "
        "finish late",
        f"raise {where} → Default number of calls to the rate limiter "
        f"(API_Enable_Rate_Limiter_Limit_Calls_Default) {raise_to}, or exempt the bot's "
        "address at your proxy",
    )


async def _roles_holding(workspace: Workspace, permission: str) -> list[str] | None:
    answer = await workspace.as_bot("permissions.listAll")
    entries = [item for item in answer.get("update") or [] if isinstance(item, dict)]
    return next(
        (list(item.get("roles") or []) for item in entries if item.get("_id") == permission),
        None,
    )


async def route_limits_finding(workspace: Workspace) -> list[Finding]:
    """Rocket.Chat 8 limits users.updateOwnBasicInfo to one call a minute and users.setStatus
    to five, per client address, however the default limit is set: with the limiter on, every
    person's change shares the bot's address and those few calls, unless people's own role holds
    api-bypass-rate-limit (the calls are made with their tokens)."""
    if workspace.version is None or workspace.version[0] < 8:
        return []
    subject = "Rocket.Chat 8 route limits"
    limits = ", ".join(f"{route} {calls} a minute" for route, calls in ROUTE_LIMITS.items())
    if "user" in (await _roles_holding(workspace, BYPASS_PERMISSION) or []):
        return [
            ok(subject, f"people's role user holds {BYPASS_PERMISSION}: {limits} do not apply")
        ]
    try:
        enabled = await workspace.private_setting(RATE_LIMITER[0])
    except SettingUnreadable:
        enabled = None
    if enabled is False:
        return [ok(subject, f"the REST rate limiter is off: {limits} do not apply")]
    state = "is on" if enabled is True else "is on by default (the doctor could not read it)"
    return [
        problem(
            subject,
            f"the REST rate limiter {state}, and Rocket.Chat 8 allows {limits} per client "
            "address: every change the bot makes comes from its address, so the whole team "
            "shares those calls and most changes will wait or fail",
            f"turn the limiter off: {SETTINGS} → Rate Limiter → API Rate Limiter → Enable "
            "(API_Enable_Rate_Limiter = false)",
            f"or give the user role {BYPASS_PERMISSION} ({PERMISSIONS}): it lifts every REST "
            "limit for every user, so prefer it only where people are trusted",
        )
    ]


def rule_rooms(settings: BotSettings) -> dict[str, list[str]]:
    """Room name (without #) → the rules that name it (message triggers and room selectors)."""
    rooms: dict[str, list[str]] = {}
    for rule in settings.rules:
        names: Iterable[str] = (
            *rule.trigger.rooms,
            *([rule.users.room] if rule.users.room else []),
        )
        for name in names:
            rooms.setdefault(name.removeprefix("#"), []).append(rule.name)
    return rooms


async def room_findings(workspace: Workspace) -> list[Finding]:
    """Every room named in the rules exists and the bot is a member (else it sees nothing)."""
    rooms = rule_rooms(workspace.settings)
    if not rooms:
        return [ok("rooms", "the rules name no rooms")]
    answer = await workspace.as_bot("subscriptions.get")
    joined = {
        str(sub.get("name", "")).casefold()
        for sub in answer.get("update") or []
        if isinstance(sub, dict)
    }
    findings = []
    for room, rules in sorted(rooms.items()):
        subject = f"#{room}"
        named = f"named by rule {', '.join(dict.fromkeys(rules))}"
        if room.casefold() in joined:
            findings.append(ok(subject, f"exists and the bot is a member ({named})"))
            continue
        exists = await _room_size(workspace, room) is not None
        if exists:
            findings.append(
                problem(
                    subject,
                    f"exists, but the bot is not a member, so it sees nothing there ({named})",
                    f"invite it: /invite @{workspace.bot_name} in #{room}, or Administration → "
                    f"Rooms → {room} → Members",
                    blocking=True,
                )
            )
        else:
            findings.append(
                problem(
                    subject,
                    f"no channel of that name, and no private group of that name the bot is "
                    f"in ({named})",
                    f"create #{room} and invite @{workspace.bot_name}, or fix the rule's room "
                    "name",
                    blocking=True,
                )
            )
    return findings

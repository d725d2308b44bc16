"""`rcbot demo`: the sandbox, the bot and a scripted user, with the conversation printed.

Nothing to configure and no server needed: the sandbox runs in-process on a free loopback port,
the bot connects to it over real sockets exactly as it would to Rocket.Chat, and Alice delegates a
token and uses each command, then connects a calendar (served by the demo itself on 127.0.0.1)
with a meeting under way. Every step checks what it should have done; the exit status is 0
only when all of them did.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app.config import load_settings
from bot.app.runner import ProfileBot
from bot.core.crypto import generate_key
from sandbox import serve
from sandbox.people import Person, create_account

BOT = ("profilebot", "bot-demo-pass-1")
ADMIN = ("admin", "admin-demo-pass-1")
ALICE = ("alice", "Alice-demo-pass-1")
WORKSPACE = {
    "ADMIN_USERNAME": ADMIN[0],
    "ADMIN_PASS": ADMIN[1],
    "ADMIN_EMAIL": "admin@example.com",
    # What an admin sets for the bot (README: "Setting up Rocket.Chat").
    "OVERWRITE_SETTING_Message_AllowUnrecognizedSlashCommand": "true",
    # Rocket.Chat's REST limiter counts every call from one IP per endpoint (10 a minute by
    # default); the bot makes all its users' calls from one address, so its admin raises it.
    "OVERWRITE_SETTING_API_Enable_Rate_Limiter_Limit_Calls_Default": "600",
    "OVERWRITE_SETTING_Accounts_CustomFields": (
        '{"location": {"type": "text", "required": false, "maxLength": 50}}'
    ),
}
# Rocket.Chat 8 limits profile changes per address whatever the default says (README): off.
WORKSPACE_8X = {"OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false"}
DEFAULT_RC_VERSION = "7.4.0"
PROFILE_FIELDS = ("name", "username", "status", "statusText", "nickname", "bio", "customFields")


@dataclass
class Script:
    """Prints the conversation and keeps score of the checks."""

    out: Callable[[str], None] = print
    failures: list[str] = field(default_factory=list)

    def line(self, room: str, who: str, text: str) -> None:
        for number, part in enumerate(text.splitlines() or [""]):
            lead = f"{room:>10}  {who + ':':<12}" if number == 0 else " " * 24
            self.out(f"{lead}{part}")

    def check(self, what: str, ok: bool) -> None:
        self.out(f"{'':>10}  {'✔' if ok else '✘'} {what}")
        if not ok:
            self.failures.append(what)


def show_profile(script: Script, title: str, profile: dict[str, Any]) -> None:
    script.out(f"\n{title}:")
    for key in PROFILE_FIELDS:
        script.out(f"  {key:<12} {profile.get(key, '')!r}")


async def run_demo(
    out: Callable[[str], None] = print, *, rc_version: str = DEFAULT_RC_VERSION
) -> int:
    """Play the scripted conversation against a sandbox that behaves as Rocket.Chat
    `rc_version` (7.4.x or 8.6.x); 0 when every step did what it should."""
    script = Script(out)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="rcbot-demo-") as workdir:
        async with AsyncExitStack() as stack:
            environ = WORKSPACE if rc_version.startswith("7.") else {**WORKSPACE, **WORKSPACE_8X}
            url = await stack.enter_async_context(
                serve("127.0.0.1", 0, environ=environ, rc_version=rc_version)
            )
            script.out(f"sandbox running at {url} as Rocket.Chat {rc_version}")
            admin = await stack.enter_async_context(Person(url, *ADMIN))
            for (username, password), roles in ((BOT, ["bot"]), (ALICE, ["user"])):
                await create_account(admin, username, password, roles=roles)
            settings = load_settings(
                server_url=url,
                username=BOT[0],
                password=BOT[1],
                db=str(Path(workdir) / "bot.db"),
                secret_key=generate_key(),
                use_environment=False,
                # The demo's calendar is served on 127.0.0.1, which bots refuse by default.
                calendar={"allow_private_networks": True},
            )
            bot = await stack.enter_async_context(ProfileBot(settings))
            bot.start()
            alice = await stack.enter_async_context(Person(url, *ALICE))
            before = await alice.profile()
            show_profile(script, "Alice's profile before", before)
            script.out("\nThe conversation:")
            await play(script, alice)
            feed = await stack.enter_async_context(serve_calendar(datetime.now(UTC)))
            await play_calendar(script, alice, feed)
            after = await alice.profile()
            show_profile(script, "Alice's profile after", after)
    if script.failures:
        script.out(f"\n{len(script.failures)} step(s) failed: " + "; ".join(script.failures))
        return 1
    script.out("\nEvery step did what it should.")
    return 0


async def play(script: Script, alice: Person) -> None:
    """Alice's side of the conversation, each step checked against the server."""

    async def dm(text: str, shown: str | None = None) -> str:
        script.line("DM", "alice", shown or text)
        answer = str((await alice.ask(BOT[0], text))["msg"])
        script.line("DM", BOT[0], answer)
        return answer

    async def changed(field_name: str, expected: Any) -> None:
        value = (await alice.profile()).get(field_name)
        script.check(f"{field_name} is now {expected!r}", value == expected)

    answer = await dm("/status away")
    script.check("without a token the bot explains how to give one", "/token set" in answer)

    token = await alice.create_personal_access_token("profile-bot")
    dm_room = await alice.direct_room(BOT[0])
    answer = await dm(f"/token set {token}", shown="/token set <her personal access token>")
    script.check("the bot accepted the token", "stored" in answer.lower())
    script.check("the bot never repeats the token", token not in answer)
    await _message_deleted(script, alice, dm_room, token)

    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("/status away At lunch", lambda: changed("statusText", "At lunch")),
        ("/bio Curious about rabbit holes", lambda: changed("bio", "Curious about rabbit holes")),
        ("/nick Ali", lambda: changed("nickname", "Ali")),
        ('/name "Alice Liddell"', lambda: changed("name", "Alice Liddell")),
        (
            "/field location Wonderland",
            lambda: _custom_field(script, alice, "location", "Wonderland"),
        ),
        ("/nick clear", lambda: _cleared(script, alice, "nickname")),
    ]
    for text, check in steps:
        await dm(text)
        await check()

    answer = await dm("/bio " + "x" * 300)
    script.check("a bio over 260 characters is refused with the limit", "260" in answer)
    answer = await dm("/stauts busy")
    script.check("a typo gets a suggestion", "/status" in answer)

    await _room_command(script, alice, "!status busy Deep work")
    await changed("statusText", "Deep work")

    answer = await dm("/profile")
    script.check("/profile shows the status text", "Deep work" in answer)
    answer = await dm("/help")
    script.check(
        "/help lists the commands", all(name in answer for name in ("status", "bio", "nick"))
    )


@asynccontextmanager
async def serve_calendar(now: datetime) -> AsyncIterator[str]:
    """An ICS feed on 127.0.0.1 with a meeting under way (started 5 minutes ago, 30 long);
    its address, with a secret path as calendar services give."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=5)
    ics = DEMO_CALENDAR.format(
        start=f"{start:%Y%m%dT%H%M%SZ}", end=f"{start + timedelta(minutes=30):%Y%m%dT%H%M%SZ}"
    )

    async def calendar(request: web.Request) -> web.Response:
        return web.Response(text=ics, content_type="text/calendar")

    app = web.Application()
    app.router.add_get("/private-d3m0/basic.ics", calendar)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/private-d3m0/basic.ics"
    finally:
        await runner.cleanup()


async def play_calendar(script: Script, alice: Person, feed: str) -> None:
    """Alice connects her calendar during a meeting: her status follows it, then comes back."""
    before = (await alice.profile()).get("statusText")
    script.out("\nCalendar-driven status (a meeting is under way in Alice's calendar):")
    script.line("DM", "alice", "/calendar set <her calendar's secret ICS address>")
    answer = str((await alice.ask(BOT[0], f"/calendar set {feed}", timeout=20))["msg"])
    script.line("DM", BOT[0], answer)
    script.check("the answer says what the feed holds today", "1 meeting today" in answer)
    script.check("the bot never repeats the address", "d3m0" not in answer)
    profile = await alice.profile()
    text = str(profile.get("statusText") or "")
    script.check(
        f"status is now busy, {text!r}",
        profile.get("status") == "busy" and text.startswith("In a meeting until"),
    )
    script.line("DM", "alice", "/calendar off")
    script.line("DM", BOT[0], str((await alice.ask(BOT[0], "/calendar off"))["msg"]))
    after = (await alice.profile()).get("statusText")
    script.check(f"the status before the meeting is back ({after!r})", after == before)


DEMO_CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//rcbot demo//EN\r\nBEGIN:VEVENT\r\n"
    "UID:demo@rcbot.test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
    "SUMMARY:Planning\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def _message_deleted(script: Script, alice: Person, room_id: str, token: str) -> None:
    """The DM carrying the token is gone from the room's history."""
    history = await alice.rest("GET", "im.history", params={"roomId": room_id, "count": "50"})
    texts = [str(m.get("msg", "")) for m in history["messages"]]
    script.check("the message with the token was deleted", not any(token in t for t in texts))


async def _cleared(script: Script, alice: Person, field_name: str) -> None:
    value = (await alice.profile()).get(field_name)
    script.check(f"{field_name} is now empty", not value)


async def _custom_field(script: Script, alice: Person, name: str, value: str) -> None:
    fields = (await alice.profile()).get("customFields") or {}
    script.check(f"custom field {name} is now {value!r}", fields.get(name) == value)


async def _room_command(script: Script, alice: Person, text: str) -> None:
    """A command in #general gets a reaction there and the details in the DM."""
    dm_room = await alice.direct_room(BOT[0])
    mark = alice.heard_count
    script.line("#general", "alice", text)
    message_id = await alice.say("GENERAL", text)
    reacted = await alice.hear(
        lambda m: m["_id"] == message_id and bool(m.get("reactions")), after=mark
    )
    script.line("#general", BOT[0], f"(reacts {' '.join(reacted['reactions'])})")
    script.check("the room command got a check mark", ":white_check_mark:" in reacted["reactions"])
    answer = await alice.hear(
        lambda m: m["rid"] == dm_room and m["u"]["username"] == BOT[0], after=mark
    )
    script.line("DM", BOT[0], str(answer["msg"]))


def main() -> int:
    """Entry point for `python -m bot.app.demo`."""
    return asyncio.run(run_demo())


if __name__ == "__main__":
    sys.exit(main())

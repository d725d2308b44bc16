"""The bare-protocol baseline: the least a profile bot has to do, on rocketchat-async + aiohttp.

It hears the same DM messages as the bot (`__my_messages__`) and answers every command of the
benchmark's mixes with the same first words, doing only what a bot must do for it:

    /token set <t>     GET me with the token (is it the sender's?); the user document is kept
    /nick, /bio,       POST users.updateOwnBasicInfo with the sender's token, only the fields the
    /status            command sets; the user document the answer carries is kept, and what the
                       change replaced (for /undo). No read before a change: the kept document is
                       the starting point (a person without one is read once, with GET me)
    the same again     nothing: the kept document says it is so already
    /profile           GET me (the truth, not the kept document)
    /undo              POST users.updateOwnBasicInfo with the values the last change replaced
    /email <address>   nothing: it asks "Change your email address to …? (yes/no)"
    yes                POST users.updateOwnBasicInfo {email}: Rocket.Chat asks for a second factor
    the password       chat.delete of that message, then the update again with X-2fa-Code (the
                       password's SHA-256) and X-2fa-Method password

and one reply per message. No parser, plugins, storage, audit, checks or retries; one task per
message; everything in memory. It runs tuned as the bot is, so that only the bot's own work
differs: the same garbage-collection settings (bot.app.gc_tuning: raised thresholds, start-up
frozen), the same HTTP client settings as bot.rocketchat.rest.RestClient (no cookie jar, each
URL parsed once, each body serialised once, the same default headers and timeout) and the same
websocket as bot.rocketchat.transport (no permessage-deflate).

    BENCH_BASELINE_PASSWORD=... python -m bench.baseline --server-url URL --username NAME

It serves until SIGTERM or SIGINT. Any other message is answered with "ok" (a readiness probe).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
from rocketchat_async import RocketChat
from websockets.client import connect as open_websocket
from yarl import URL

from bot.app.gc_tuning import freeze_start_up, tune_for_serving

PRESENCES: Final = frozenset({"online", "away", "busy", "offline"})
FIELDS: Final = {"/nick": ("nickname", "Nickname"), "/bio": ("bio", "Bio")}
LABELS: Final = {"nickname": "nickname", "bio": "bio", "statusType": "presence"}
YES: Final = frozenset({"yes", "y"})
NOT_SET: Final = "(not set)"
HEADERS: Final = {"User-Agent": "rcbot-baseline (+aiohttp)", "Accept": "application/json"}

Reply = Awaitable[str]


def websocket_url(server_url: str) -> str:
    """`http://host:port` → `ws://host:port/websocket`."""
    return server_url.rstrip("/").replace("http", "ws", 1) + "/websocket"


def describe_status(presence: str, text: str) -> str:
    """`away: At lunch` or `away, with no status text.` (as the bot says it)."""
    return f"{presence}: {text}" if text else f"{presence}, with no status text."


def presence_of(user: dict[str, Any]) -> str:
    """The presence a person chose (`statusDefault`), else the one they have."""
    return str(user.get("statusDefault") or user.get("status") or "offline")


class Refused(Exception):
    """Rocket.Chat answered an error: `code` is its errorType (or error)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.code = code


class BareRest:
    """REST calls with a person's token, set up as the bot's RestClient is."""

    def __init__(self, server_url: str, http: aiohttp.ClientSession) -> None:
        self.base_url = server_url.rstrip("/")
        self._http = http
        self._urls: dict[str, URL] = {}

    def _url(self, endpoint: str) -> URL:
        parsed = self._urls.get(endpoint)
        if parsed is None:
            parsed = self._urls[endpoint] = URL(f"{self.base_url}/api/v1/{endpoint}")
        return parsed

    async def call(
        self,
        method: str,
        endpoint: str,
        auth: tuple[str, str],
        body: dict[str, Any] | None = None,
        second_factor: str | None = None,
    ) -> dict[str, Any]:
        """The answer's JSON body; Refused when Rocket.Chat says no."""
        headers = {"X-User-Id": auth[0], "X-Auth-Token": auth[1]}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if second_factor is not None:
            headers["X-2fa-Code"] = second_factor
            headers["X-2fa-Method"] = "password"
        async with self._http.request(
            method, self._url(endpoint), headers=headers, data=data
        ) as answer:
            answered: dict[str, Any] = json.loads(await answer.read())
        if answer.status != 200:
            raise Refused(answer.status, str(answered.get("errorType") or answered.get("error")))
        return answered


class UncompressedRocketChat(RocketChat):  # type: ignore[misc]
    """rocketchat-async with its socket opened without permessage-deflate, as the bot's."""

    async def _start(self, address: str, connected_fut: asyncio.Future[bool]) -> None:
        try:
            async with open_websocket(address, compression=None) as websocket:
                self.dispatch_task = self._dispatcher.run(websocket)
                connected_fut.set_result(True)
                await self.dispatch_task
        except Exception as exc:  # noqa: BLE001 - as rocketchat-async: run() sees the close
            if not connected_fut.done():
                connected_fut.set_exception(exc)


class BareBot:
    """One DDP connection; tokens, kept user documents, undo values and e-mail talks in dicts."""

    def __init__(self, server_url: str, http: aiohttp.ClientSession) -> None:
        self._rest = BareRest(server_url, http)
        self._client = UncompressedRocketChat()
        self._tokens: dict[str, str] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._undo: dict[str, tuple[str, dict[str, str]]] = {}
        self._talks: dict[str, tuple[str, str]] = {}  # user id → (step, new address)
        self._tasks: set[asyncio.Task[None]] = set()
        self._user_id = ""
        self._commands: dict[str, Callable[[str, str], Reply]] = {
            "/token": self._token,
            "/nick": self._field,
            "/bio": self._field,
            "/status": self._status,
            "/profile": self._profile,
            "/undo": self._take_back,
            "/email": self._email,
        }

    async def start(self, username: str, password: str) -> None:
        """Log in and subscribe to every message of the rooms the account is in."""
        await self._client.start(websocket_url(self._rest.base_url), username, password)
        self._user_id = str(self._client.user_id)
        await self._client.subscribe_to_channel_messages_raw("__my_messages__", self._on_message)

    async def run_forever(self) -> None:
        """Serve until the socket closes."""
        await self._client.run_forever()

    async def close(self) -> None:
        """Close the socket first: cancelling rocketchat-async's task waits out a close timeout."""
        websocket = getattr(self._client._dispatcher, "_websocket", None)
        if websocket is not None:
            await websocket.close()

    def _on_message(self, event: dict[str, Any]) -> None:
        sender = (event.get("u") or {}).get("_id")
        if sender == self._user_id or event.get("t") or "editedAt" in event:
            return
        if event.get("reactions") or event.get("replies"):
            return  # a re-sent frame of a message already answered
        task = asyncio.create_task(self._answer(event, str(sender)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, event: dict[str, Any], sender: str) -> None:
        text = str(event.get("msg") or "")
        room_id = str(event["rid"])
        try:
            if sender in self._talks:
                reply = await self._talk(sender, text, room_id, str(event["_id"]))
            else:
                word = text.partition(" ")[0]
                command = self._commands.get(word)
                reply = await command(sender, text) if command else "ok"
        except Refused as refused:
            reply = f"Rocket.Chat refused: {refused.code}"
        await self._client.send_message(reply, room_id)

    def _auth(self, user_id: str) -> tuple[str, str]:
        token = self._tokens.get(user_id)
        if token is None:
            raise Refused(0, "no token")
        return user_id, token

    async def _read(self, user_id: str) -> dict[str, Any]:
        me = await self._rest.call("GET", "me", self._auth(user_id))
        self._users[user_id] = me
        return me

    async def _update(self, user_id: str, data: dict[str, Any]) -> dict[str, Any]:
        answer = await self._rest.call(
            "POST", "users.updateOwnBasicInfo", self._auth(user_id), {"data": data}
        )
        user: dict[str, Any] = answer["user"]
        self._users[user_id] = user
        return user

    # -- commands --------------------------------------------------------------------------

    async def _token(self, sender: str, text: str) -> str:
        self._tokens[sender] = text.removeprefix("/token").strip().removeprefix("set ").strip()
        if (await self._read(sender)).get("_id") != sender:
            del self._tokens[sender]
            return "That token is not yours."
        return "Token stored."

    async def _field(self, sender: str, text: str) -> str:
        word, _, value = text.partition(" ")
        key, label = FIELDS[word]
        user = self._users.get(sender) or await self._read(sender)
        if (user.get(key) or "") == value:
            return f"Your {label.lower()} is already “{value}”."
        old = str(user.get(key) or "")
        await self._update(sender, {key: value})
        self._undo[sender] = (f"command {word}", {key: old})
        return f"{label} set to “{value}”."

    async def _status(self, sender: str, text: str) -> str:
        rest = text.removeprefix("/status").strip()
        first, _, more = rest.partition(" ")
        presence, status_text = (first, more) if first in PRESENCES else (None, rest)
        user = self._users.get(sender) or await self._read(sender)
        was_presence, was_text = presence_of(user), str(user.get("statusText") or "")
        now_presence, now_text = presence or was_presence, status_text or was_text
        if (now_presence, now_text) == (was_presence, was_text):
            return "Your status is already " + describe_status(now_presence, now_text)
        data: dict[str, str] = {}
        if presence:
            data["statusType"] = presence
        if status_text:
            data["statusText"] = status_text
        await self._update(sender, data)
        self._undo[sender] = (
            "command /status",
            {"statusType": was_presence, "statusText": was_text},
        )
        return "Status set to " + describe_status(now_presence, now_text)

    async def _profile(self, sender: str, text: str) -> str:
        me = await self._read(sender)
        status_text = str(me.get("statusText") or "")
        return "\n".join(
            [
                f"Your profile (@{me.get('username')}):",
                f"• Display name: {me.get('name') or NOT_SET}",
                f"• Username: @{me.get('username')}",
                f"• Status: {presence_of(me)}" + (f" — {status_text}" if status_text else ""),
                f"• Nickname: {me.get('nickname') or NOT_SET}",
                f"• Bio: {me.get('bio') or NOT_SET}",
            ]
        )

    async def _take_back(self, sender: str, text: str) -> str:
        point = self._undo.pop(sender, None)
        if point is None:
            return "There is nothing to undo."
        cause, old = point
        await self._update(sender, old)
        back = [
            f"{LABELS.get(key, key)} back to {f'“{value}”' if value else 'nothing (cleared)'}"
            for key, value in old.items()
        ]
        return f"Undone ({cause}): " + "; ".join(back) + "."

    async def _email(self, sender: str, text: str) -> str:
        address = text.removeprefix("/email").strip()
        self._talks[sender] = ("confirm", address)
        return f"Change your email address to {address}? (yes/no)"

    # -- the e-mail conversation -----------------------------------------------------------

    async def _talk(self, sender: str, text: str, room_id: str, message_id: str) -> str:
        step, address = self._talks[sender]
        if step == "confirm":
            if text.strip().casefold() not in YES:
                del self._talks[sender]
                return "Cancelled: nothing was changed."
            try:
                await self._update(sender, {"email": address})
            except Refused as refused:
                if refused.code != "totp-required":
                    del self._talks[sender]
                    raise
                self._talks[sender] = ("password", address)
                return (
                    "Rocket.Chat wants a second factor for your email change. Send me your "
                    "current password: I'll delete your message and pass on only its hash."
                )
        else:
            del self._talks[sender]
            await self._rest.call(
                "POST", "chat.delete", self._auth(sender), {"roomId": room_id, "msgId": message_id}
            )
            code = hashlib.sha256(text.encode("utf-8")).hexdigest()
            await self._rest.call(
                "POST",
                "users.updateOwnBasicInfo",
                self._auth(sender),
                {"data": {"email": address}},
                second_factor=code,
            )
        self._talks.pop(sender, None)
        return f"Done: your email address is now {address}."


async def serve(server_url: str, username: str, password: str) -> None:
    """Run the baseline until SIGTERM/SIGINT or until the socket closes."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10),
        headers=HEADERS,
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as http:
        bot = BareBot(server_url, http)
        await bot.start(username, password)
        freeze_start_up()
        runner = asyncio.create_task(bot.run_forever())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (runner, stopper):
            task.cancel()
        await bot.close()


def main() -> None:
    """`python -m bench.baseline --server-url URL --username NAME` (password in the env)."""
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--username", required=True)
    args = parser.parse_args()
    password = os.environ.get("BENCH_BASELINE_PASSWORD", "")
    tune_for_serving()
    asyncio.run(serve(args.server_url, args.username, password))


if __name__ == "__main__":
    main()

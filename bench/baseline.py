"""The bare-protocol baseline: the least a profile bot has to do, on rocketchat-async + aiohttp.

It hears the same DM commands as the bot (`__my_messages__`), keeps each user's token in a dict
when they send `/token set <token>`, and answers each profile command with one
`users.updateOwnBasicInfo` call made with that token and one reply in the same room. Nothing
else: the first word picks the field, the rest is the value; no parser, plugins, storage, reads
or checks, one task per message. The benchmark runs it as its own process, like the bot:

    BENCH_BASELINE_PASSWORD=... python -m bench.baseline --server-url URL --username NAME

It serves until SIGTERM or SIGINT. Any other message is answered with "ok" (a readiness probe).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

import aiohttp
from rocketchat_async import RocketChat

REPLY_FIELD = {"/nick": ("nickname", "Nickname"), "/bio": ("bio", "Bio")}


def websocket_url(server_url: str) -> str:
    """`http://host:port` → `ws://host:port/websocket`."""
    return server_url.rstrip("/").replace("http", "ws", 1) + "/websocket"


def profile_update(word: str, rest: str) -> tuple[dict[str, Any], str] | None:
    """The `data` of users.updateOwnBasicInfo and the reply, for `/nick`, `/bio`, `/status`."""
    if word in REPLY_FIELD:
        key, label = REPLY_FIELD[word]
        return {key: rest}, f"{label} set to “{rest}”."
    if word == "/status":
        presence, _, text = rest.partition(" ")
        data: dict[str, Any] = {"statusType": presence}
        if text:
            data["statusText"] = text
            return data, f"Status set to {presence}: {text}"
        return data, f"Status set to {presence}, with no status text."
    return None


class BareBot:
    """One DDP connection, a dict of tokens, one REST call and one reply per command."""

    def __init__(self, server_url: str, http: aiohttp.ClientSession) -> None:
        self._server_url = server_url.rstrip("/")
        self._http = http
        self._client = RocketChat()
        self._tokens: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._user_id = ""

    async def start(self, username: str, password: str) -> None:
        """Log in and subscribe to every message of the rooms the account is in."""
        await self._client.start(websocket_url(self._server_url), username, password)
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
        word, _, rest = text.partition(" ")
        if word == "/token":
            self._tokens[sender] = rest.removeprefix("set ").strip()
            reply = "Token stored."
        elif (update := profile_update(word, rest)) is not None:
            data, reply = update
            reply = await self._update(sender, data) or reply
        else:
            reply = "ok"
        await self._client.send_message(reply, room_id)

    async def _update(self, user_id: str, data: dict[str, Any]) -> str | None:
        """POST users.updateOwnBasicInfo with the user's token; an error text, or None."""
        token = self._tokens.get(user_id)
        if token is None:
            return "No token."
        async with self._http.post(
            f"{self._server_url}/api/v1/users.updateOwnBasicInfo",
            json={"data": data},
            headers={"X-User-Id": user_id, "X-Auth-Token": token},
        ) as answer:
            body = await answer.json(content_type=None)
        if answer.status != 200:
            return f"Failed: HTTP {answer.status} {body.get('errorType') or body.get('error')}"
        return None


async def serve(server_url: str, username: str, password: str) -> None:
    """Run the baseline until SIGTERM/SIGINT or until the socket closes."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        bot = BareBot(server_url, http)
        await bot.start(username, password)
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
    asyncio.run(serve(args.server_url, args.username, password))


if __name__ == "__main__":
    main()

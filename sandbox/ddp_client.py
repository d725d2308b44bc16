"""One DDP client for everything that talks to the realtime API as a user would.

`DdpClient` owns one websocket to `<server>/websocket`. One task reads every frame: it stamps the
frame's arrival time, shows it to `on_frame` (where subclasses record what they need), answers
`ping` with `pong`, hands a method's `result` or a subscription's `ready`/`nosub` to whoever is
waiting for it, and offers the rest to callers of `wait_for`. Method calls and subscriptions get
ids from one counter ("1", "2", … and "s3", …); `login_password` sends the SHA-256 digest of the
password, as the web client does.

Built on it: `sandbox.people.Person` (the demo's and the tests' scripted users),
`bench.client.ChatUser` (the load generator's lean user) and the tests' frame-level clients. It
imports nothing of the server, so it works against the sandbox or a real Rocket.Chat alike.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Self

import aiohttp

from sandbox.digests import sha256_hex

Frame = dict[str, Any]
FramePredicate = Callable[[Frame], bool]


class DdpFailure(Exception):
    """A DDP method answered with an error."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message") or error.get("reason") or str(error))
        self.error = error


def websocket_url(base_url: str) -> str:
    """The realtime API's address for a server's base URL (http → ws, https → wss)."""
    return base_url.rstrip("/").replace("http", "ws", 1) + "/websocket"


def changed(collection: str, event_name: str) -> FramePredicate:
    """A predicate for the `changed` frames of one stream event."""
    return lambda frame: (
        frame.get("msg") == "changed"
        and frame.get("collection") == collection
        and frame.get("fields", {}).get("eventName") == event_name
    )


class DdpClient:
    """One DDP connection: frame I/O, numbered calls and subscriptions, waits by predicate.

    `keep_frames`: frames nobody was waiting for are kept (in arrival order) for later
    `wait_for`/`next` calls; without it they are dropped once `on_frame` has seen them.
    `timeout`: how long a call, a subscription or a wait may take unless told otherwise.
    """

    def __init__(
        self, *, auto_pong: bool = True, keep_frames: bool = False, timeout: float = 10.0
    ) -> None:
        self.auto_pong = auto_pong
        self.keep_frames = keep_frames
        self.timeout = timeout
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.session_id: str | None = None
        self.close_code: int | None = None
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[Frame]] = {}  # call or subscription id → answer
        self._waiters: list[tuple[FramePredicate, asyncio.Future[Frame]]] = []
        self._inbox: list[Any] = []  # frames not yet taken (keep_frames only)
        self._closed = asyncio.Event()

    # -- the socket ---------------------------------------------------------------------------

    async def open_socket(
        self, http: aiohttp.ClientSession, base_url: str, **ws_options: Any
    ) -> None:
        """Open the websocket (not yet DDP-connected: see `handshake`) and start reading."""
        self.ws = await http.ws_connect(websocket_url(base_url), **ws_options)
        self._reader = asyncio.create_task(self._read(self.ws))

    async def close(self) -> None:
        """Stop reading and close the websocket."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self.ws is not None:
            await self.ws.close()

    @asynccontextmanager
    async def opened(
        self, http: aiohttp.ClientSession, base_url: str, **ws_options: Any
    ) -> AsyncIterator[Self]:
        """`async with client.opened(http, url):` the websocket is open inside, closed after."""
        await self.open_socket(http, base_url, **ws_options)
        try:
            yield self
        finally:
            await self.close()

    async def send(self, frame: Frame | str) -> None:
        """Send a frame: a dict as JSON, a str as it is."""
        assert self.ws is not None, "open_socket first"
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    # -- reading ------------------------------------------------------------------------------

    def on_frame(self, frame: Any, raw: str, arrived: float) -> None:
        """Every frame, first, as it arrives (`arrived`: `time.perf_counter()` on arrival)."""

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            while True:
                message = await ws.receive()
                arrived = time.perf_counter()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    return
                frame = json.loads(message.data)
                self.on_frame(frame, message.data, arrived)
                if isinstance(frame, dict):
                    if self.auto_pong and frame.get("msg") == "ping":
                        pong = {"msg": "pong", **({"id": frame["id"]} if "id" in frame else {})}
                        await ws.send_str(json.dumps(pong))
                    if self._settle(frame):
                        continue
                self._offer(frame)
        finally:
            self.close_code = ws.close_code
            self._closed.set()
            gone = ConnectionError(f"websocket closed ({self.close_code})")
            for future in [*self._pending.values(), *(f for _, f in self._waiters)]:
                if not future.done():
                    future.set_exception(gone)

    def _settle(self, frame: Frame) -> bool:
        """Hand a `result`, `ready` or `nosub` to the call or subscription waiting for it."""
        kind = frame.get("msg")
        if kind == "ready":
            keys = [key for key in frame.get("subs") or [] if isinstance(key, str)]
        elif kind in ("result", "nosub"):
            keys = [frame["id"]] if isinstance(frame.get("id"), str) else []
        else:
            return False
        settled = False
        for key in keys:
            future = self._pending.get(key)
            if future is not None and not future.done():
                future.set_result(frame)
                settled = True
        return settled

    def _offer(self, frame: Any) -> None:
        """Give a frame to the first waiter whose predicate takes it, else keep it (or not)."""
        for entry in list(self._waiters):
            predicate, future = entry
            if future.done():
                continue
            try:
                taken = predicate(frame)
            except (LookupError, TypeError, AttributeError, ValueError) as exc:
                future.set_exception(exc)  # a frame the predicate cannot read: its caller's bug
                continue
            if taken:
                future.set_result(frame)
                self._waiters.remove(entry)
                return
        if self.keep_frames:
            self._inbox.append(frame)

    async def _wait(self, future: asyncio.Future[Frame], timeout: float | None) -> Frame:
        async with asyncio.timeout(self.timeout if timeout is None else timeout):
            return await future

    def _watch(self, predicate: FramePredicate) -> asyncio.Future[Frame]:
        """Register a waiter for the next frame that satisfies `predicate`."""
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        if self._closed.is_set():
            future.set_exception(ConnectionError(f"websocket closed ({self.close_code})"))
        self._waiters.append((predicate, future))
        return future

    def _unwatch(self, future: asyncio.Future[Frame]) -> None:
        self._waiters = [entry for entry in self._waiters if entry[1] is not future]

    async def wait_for(self, predicate: FramePredicate, timeout: float | None = None) -> Frame:
        """The first frame (kept or new) that satisfies `predicate`; other frames stay kept."""
        for index, frame in enumerate(self._inbox):
            if predicate(frame):
                kept: Frame = self._inbox.pop(index)
                return kept
        future = self._watch(predicate)
        try:
            return await self._wait(future, timeout)
        finally:
            self._unwatch(future)

    async def next(self, timeout: float | None = None) -> Frame:
        """The next frame not yet taken, in arrival order."""
        return await self.wait_for(lambda frame: True, timeout)

    async def closed(self, timeout: float | None = None) -> int | None:
        """Wait until the server closes the socket; its close code."""
        async with asyncio.timeout(self.timeout if timeout is None else timeout):
            await self._closed.wait()
        return self.close_code

    async def event(
        self,
        collection: str,
        event_name: str,
        where: Callable[[list[Any]], bool] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """The args of the next `changed` frame for this stream event (matching `where`)."""
        test = changed(collection, event_name)
        frame = await self.wait_for(
            lambda f: test(f) and (where is None or where(f["fields"]["args"])), timeout
        )
        return list(frame["fields"]["args"])

    # -- DDP ----------------------------------------------------------------------------------

    def new_id(self) -> str:
        """The next id for a method call (or, prefixed with "s", a subscription)."""
        return str(next(self._ids))

    async def handshake(self, *, support: tuple[str, ...] = ("1",), **extra: Any) -> Frame:
        """DDP `connect` with version 1; returns the `connected` frame."""
        future = self._watch(lambda frame: frame.get("msg") == "connected")
        try:
            await self.send({"msg": "connect", "version": "1", "support": list(support), **extra})
            frame = await self._wait(future, None)
        finally:
            self._unwatch(future)
        self.session_id = frame["session"]
        return frame

    async def _request(self, frame: Frame, key: str, timeout: float | None) -> Frame:
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        if self._closed.is_set():
            raise ConnectionError(f"websocket closed ({self.close_code})")
        self._pending[key] = future
        try:
            await self.send(frame)
            return await self._wait(future, timeout)
        finally:
            self._pending.pop(key, None)

    async def call_frame(self, method: str, *params: Any, timeout: float | None = None) -> Frame:
        """Call a method; its `result` frame (with `result` or `error`)."""
        method_id = self.new_id()
        frame = {"msg": "method", "method": method, "id": method_id, "params": list(params)}
        return await self._request(frame, method_id, timeout)

    async def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Call a method and return its result; raise `DdpFailure` on an error."""
        answer = await self.call_frame(method, *params, timeout=timeout)
        if "error" in answer:
            raise DdpFailure(answer["error"])
        return answer.get("result")

    async def subscribe_frame(
        self, name: str, *params: Any, sub_id: str | None = None, timeout: float | None = None
    ) -> Frame:
        """Subscribe; the `ready` or `nosub` frame for it."""
        sub_id = sub_id or f"s{self.new_id()}"
        frame = {"msg": "sub", "id": sub_id, "name": name, "params": list(params)}
        return await self._request(frame, sub_id, timeout)

    async def login_password(self, username: str, password: str) -> Frame:
        """DDP `login` with the password's SHA-256 digest; the `result` frame."""
        return await self.call_frame(
            "login",
            {
                "user": {"username": username},
                "password": {"digest": sha256_hex(password), "algorithm": "sha-256"},
            },
        )

    async def login_resume(self, token: str) -> Frame:
        """DDP `login` with a resume token (a login token or a personal access token)."""
        return await self.call_frame("login", {"resume": token})

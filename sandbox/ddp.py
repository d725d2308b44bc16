"""The realtime API at `/websocket`: Meteor's DDP server as Rocket.Chat 7.x runs it.

One `DdpConnection` per websocket. Frames follow Meteor's ddp-server (livedata_server.js,
stream_server.js) and Rocket.Chat's streamer:

* `{"server_id":"0"}` first; `connect` → `connected` (or `failed` + close); frames before
  `connect` get `{"msg":"error","reason":"Must connect first",...}`.
* Unparsable or non-object frames → `{"msg":"error","reason":"Bad request"[,"offendingMessage"]}`;
  the connection lives on. Frames over `max_message_bytes` close only that socket (1009).
* ping/pong both ways; the server pings after `heartbeat_interval` without input and closes
  after a further `heartbeat_timeout` without input (Meteor: 15 s + 15 s).
* `method` → `updated` + `result` (errors as Meteor.Error JSON; unknown → 404; crashes → 500).
* `sub` to `stream-<name>` → `ready` (after `added` when useCollection is true) or `nosub` with
  the error; events arrive as `changed` frames with `id` "id" and `{eventName, args}`.
* A login or logout re-runs every subscription, as Meteor's `_setUserId` does.

The wire format lives in `sandbox.ddp_frames`, a session's stream subscriptions in
`sandbox.ddp_subscriptions`, the methods in `sandbox.ddp_methods` (declared by the endpoints).
Tests can shorten the timers through `state.runtime["ddp_options"] = DdpOptions(...)`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from sandbox import ddp_methods, presence
from sandbox.ddp_frames import error_json, fit_arity, from_ejson, parse_frame
from sandbox.ddp_subscriptions import SessionStreams
from sandbox.errors import MatchError, MeteorError
from sandbox.state import SandboxState, ejson_dumps, random_id

log = logging.getLogger("sandbox.ddp")

SUPPORTED_VERSIONS = ("1", "pre2", "pre1")
SERVER_ID_FRAME = '{"server_id":"0"}'
OPTIONS_KEY = "ddp_options"


@dataclass(frozen=True)
class DdpOptions:
    """Connection parameters; the defaults are Meteor's."""

    heartbeat_interval: float = 15.0  # seconds without input before the server pings
    heartbeat_timeout: float = 15.0  # seconds after that ping before the socket is closed
    max_message_bytes: int = 2**26 - 1  # faye-websocket's maxLength; larger frames: close 1009
    max_pending_frames: int = 100_000  # a client that stops reading is dropped past this


def options_for(state: SandboxState) -> DdpOptions:
    """The options tests set in `state.runtime`, else Meteor's defaults."""
    found = state.runtime.get(OPTIONS_KEY)
    return found if isinstance(found, DdpOptions) else DdpOptions()


class DdpConnection:
    """One DDP session over one websocket (implements ddp_methods.DdpSession)."""

    def __init__(
        self, state: SandboxState, ws: web.WebSocketResponse, request: web.Request
    ) -> None:
        self.state = state
        self.ws = ws
        self.options = options_for(state)
        self.session_id = ""
        self.version: str | None = None
        self.user_id: str | None = None
        self.login_token: dict[str, Any] | None = None
        self.client_address = request.remote or "127.0.0.1"
        self.user_agent = request.headers.get("User-Agent", "")
        self.http_headers = {key.lower(): value for key, value in request.headers.items()}
        self.streams = SessionStreams(state, self, self.send)
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._closing = False
        self._close_code = 1000
        self._interval_handle: asyncio.TimerHandle | None = None
        self._timeout_handle: asyncio.TimerHandle | None = None

    # -- sending ----------------------------------------------------------------------------

    def _send_text(self, text: str) -> None:
        if self._closing:
            return
        if self._outbox.qsize() >= self.options.max_pending_frames:
            log.warning("DDP session %s is not reading; closing it", self.session_id)
            self.close()
            return
        self._outbox.put_nowait(text)

    def send(self, frame: dict[str, Any]) -> None:
        """stringifyDDP + send; like Meteor, a truthy non-string `id` is refused."""
        frame_id = frame.get("id")
        if frame_id and not isinstance(frame_id, str):
            log.debug("not sending a frame whose id is not a string: %r", frame)
            return
        try:
            self._send_text(ejson_dumps(frame))
        except (TypeError, ValueError):
            log.exception("cannot serialise DDP frame %r", frame.get("msg"))

    def send_error(self, reason: str, offending: Any = None) -> None:
        """`{"msg":"error","reason":...,"offendingMessage":...}` (offendingMessage if truthy)."""
        frame: dict[str, Any] = {"msg": "error", "reason": reason}
        if offending:
            frame["offendingMessage"] = offending
        self._send_text(ejson_dumps(frame))

    async def _write_loop(self) -> None:
        while True:
            text = await self._outbox.get()
            if text is None:  # close(): what was queued before it has been sent
                if not self.ws.closed:
                    await self.ws.close(code=self._close_code)
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.close()

    def close(self, code: int = 1000) -> None:
        """Close this session and its socket (Meteor's session.close), after queued frames."""
        if self._closing:
            return
        self._closing = True
        self._close_code = code
        self._stop_heartbeat()
        self._outbox.put_nowait(None)
        asyncio.get_running_loop().call_later(5.0, self._force_close)

    def _force_close(self) -> None:
        """A peer that does not read must not keep a closed session's socket open."""
        if not self.ws.closed:
            asyncio.ensure_future(self.ws.close(code=self._close_code))

    # -- heartbeat --------------------------------------------------------------------------

    def _stop_heartbeat(self) -> None:
        for handle in (self._interval_handle, self._timeout_handle):
            if handle is not None:
                handle.cancel()
        self._interval_handle = self._timeout_handle = None

    def _restart_heartbeat(self) -> None:
        if self.version in (None, "pre1") or self.options.heartbeat_interval <= 0 or self._closing:
            return
        self._stop_heartbeat()
        loop = asyncio.get_running_loop()
        self._interval_handle = loop.call_later(self.options.heartbeat_interval, self._ping_now)

    def _ping_now(self) -> None:
        self._interval_handle = None
        self.send({"msg": "ping"})
        loop = asyncio.get_running_loop()
        self._timeout_handle = loop.call_later(self.options.heartbeat_timeout, self._timed_out)

    def _timed_out(self) -> None:
        self._timeout_handle = None
        log.info("DDP session %s missed its heartbeat; closing", self.session_id)
        self.close()

    # -- receiving --------------------------------------------------------------------------

    def receive(self, raw: str | None) -> None:
        """The stream server's `data` handler for one text frame (None for a binary one)."""
        msg = parse_frame(raw) if raw is not None else None
        if msg is None or not isinstance(msg, dict) or not msg.get("msg"):
            self.send_error("Bad request", msg)
            return
        for field in ("params", "fields", "result"):
            if field in msg:
                msg[field] = from_ejson(msg[field])
        if msg["msg"] == "connect":
            if self.version is not None:
                self.send_error("Already connected", msg)
                return
            self._connect(msg)
            return
        if self.version is None:
            self.send_error("Must connect first", msg)
            return
        self._restart_heartbeat()
        if self.version != "pre1" and msg["msg"] == "ping":
            pong: dict[str, Any] = {"msg": "pong"}
            if "id" in msg:
                pong["id"] = msg["id"]
            self.send(pong)
            return
        if self.version != "pre1" and msg["msg"] == "pong":
            return
        self._inbox.put_nowait(msg)

    def _connect(self, msg: dict[str, Any]) -> None:
        version, support = msg.get("version"), msg.get("support")
        valid = (
            isinstance(version, str)
            and isinstance(support, list)
            and all(isinstance(item, str) for item in support)
            and version in support
        )
        if not valid or not isinstance(support, list):
            self.send({"msg": "failed", "version": SUPPORTED_VERSIONS[0]})
            self.close()
            return
        chosen = next(
            (item for item in support if item in SUPPORTED_VERSIONS), SUPPORTED_VERSIONS[0]
        )
        if version != chosen:
            self.send({"msg": "failed", "version": chosen})
            self.close()
            return
        self.version = chosen
        self.session_id = random_id()
        self.send({"msg": "connected", "session": self.session_id})
        self.state.bus.listeners.add(self)
        self._restart_heartbeat()

    async def _work_loop(self) -> None:
        while True:
            msg = await self._inbox.get()
            try:
                await self._process(msg)
            except Exception:  # a bug must not end the session
                log.exception("error while processing DDP %s", msg.get("msg"))

    async def _process(self, msg: dict[str, Any]) -> None:
        kind = msg["msg"]
        if kind == "sub":
            self._sub(msg)
        elif kind == "unsub":
            self.streams.unsubscribe(msg.get("id"))
        elif kind == "method":
            await self._method(msg)
        else:
            self.send_error("Bad request", msg)

    # -- methods ----------------------------------------------------------------------------

    async def _method(self, msg: dict[str, Any]) -> None:
        method_id, name = msg.get("id"), msg.get("method")
        if (
            not isinstance(method_id, str)
            or not isinstance(name, str)
            or ("params" in msg and not isinstance(msg["params"], list))
            or ("randomSeed" in msg and not isinstance(msg["randomSeed"], str))
        ):
            self.send_error("Malformed method invocation", msg)
            return
        entry = ddp_methods.METHODS.get(name)
        if entry is None:
            self.send(
                {
                    "msg": "result",
                    "id": method_id,
                    "error": MeteorError(404, f"Method '{name}' not found").ddp_error(),
                }
            )
            self.send({"msg": "updated", "methods": [method_id]})
            return
        payload: dict[str, Any] = {"msg": "result", "id": method_id}
        try:
            result = await self._invoke(entry, list(msg.get("params") or []))
        except Exception as exc:  # mapped like Meteor's wrapInternalException
            if not isinstance(exc, MeteorError):
                log.log(
                    logging.DEBUG if isinstance(exc, MatchError) else logging.ERROR,
                    "exception while invoking method %r",
                    name,
                    exc_info=not isinstance(exc, MatchError),
                )
            payload["error"] = error_json(exc)
        else:
            if result is not None:
                payload["result"] = result
        finally:
            self.state.save()
        self.send({"msg": "updated", "methods": [method_id]})
        self.send(payload)

    async def _invoke(self, entry: ddp_methods.DdpMethod, params: list[Any]) -> Any:
        if entry.two_factor is not None:
            checked = ddp_methods.check_for_ddp(self, entry.two_factor, params)
            params = await checked if inspect.isawaitable(checked) else checked
        result = entry.handler(self, *fit_arity(entry.handler, list(params)))
        if inspect.isawaitable(result):
            result = await result
        return result

    def set_login(self, user_id: str | None, login_token: dict[str, Any] | None) -> None:
        """Meteor's `_setUserId`: switch the user and re-run every subscription."""
        previous = self.user_id
        self.user_id = user_id
        self.login_token = login_token
        if previous != user_id:
            if previous:
                presence.session_logged_out(self.state, previous)
            if user_id:
                presence.session_logged_in(self.state, user_id)
        self.streams.user_changed(user_id)

    # -- subscriptions ----------------------------------------------------------------------

    def _sub(self, msg: dict[str, Any]) -> None:
        sub_id, name = msg.get("id"), msg.get("name")
        if (
            not isinstance(sub_id, str)
            or not isinstance(name, str)
            or ("params" in msg and not isinstance(msg["params"], list))
        ):
            self.send_error("Malformed subscription", msg)
            return
        self.streams.subscribe(sub_id, name, list(msg.get("params") or []), self.user_id)

    # -- EventBus listener ------------------------------------------------------------------

    def on_message(self, message: dict[str, Any], room: dict[str, Any]) -> None:
        """stream-room-messages `<rid>` and `__my_messages__`."""
        self.streams.message(message, room)

    def on_notify_user(self, user_id: str, event: str, args: list[Any]) -> None:
        """stream-notify-user `<uid>/<event>`."""
        self.streams.notify("notify-user", f"{user_id}/{event}", args)

    def on_notify_room(
        self, room_id: str, event: str, args: list[Any], origin: Any = None
    ) -> None:
        """stream-notify-room `<rid>/<event>` (not echoed to the session that wrote it)."""
        if origin is not self:
            self.streams.notify("notify-room", f"{room_id}/{event}", args)

    def on_notify_logged(self, event: str, args: list[Any]) -> None:
        """stream-notify-logged `<event>` for sessions that subscribed while logged in."""
        self.streams.notify("notify-logged", event, args)

    # -- lifetime ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the socket until either side closes it."""
        writer = asyncio.create_task(self._write_loop())
        worker = asyncio.create_task(self._work_loop())
        self._send_text(SERVER_ID_FRAME)
        try:
            async for frame in self.ws:
                if frame.type == WSMsgType.ERROR:
                    break
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    self.receive(frame.data if frame.type == WSMsgType.TEXT else None)
                except Exception:  # e.g. absurdly deep JSON: refuse it, keep the session
                    log.warning("cannot process a DDP frame", exc_info=True)
                    self.send_error("Bad request")
        finally:
            self.state.bus.listeners.discard(self)
            self.streams.forget()
            if self.user_id:
                presence.session_logged_out(self.state, self.user_id)
                self.user_id = None
            self.close()
            worker.cancel()
            await asyncio.gather(writer, worker, return_exceptions=True)


async def websocket_handler(state: SandboxState, request: web.Request) -> web.StreamResponse:
    """GET /websocket: upgrade and serve one DDP connection."""
    options = options_for(state)
    ws = web.WebSocketResponse(max_msg_size=options.max_message_bytes, autoping=True)
    await ws.prepare(request)
    connection = DdpConnection(state, ws, request)
    await connection.run()
    return ws

"""The stream subscriptions of one DDP session, as Rocket.Chat's streamer keeps them.

A `sub` to `stream-<name>` is checked with the stream's allowRead rule (`sandbox.streams`) when
it starts and again whenever the session's user changes (Meteor's `_setUserId` re-runs every
subscription); events then arrive as `changed` frames with `id` "id" and `{eventName, args}`.
The session (`sandbox.ddp.DdpConnection`) owns one `SessionStreams` and hands it the `sub` and
`unsub` frames and the events the bus delivers to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox import streams
from sandbox.ddp_frames import error_json
from sandbox.errors import MeteorError
from sandbox.state import SandboxState

log = logging.getLogger("sandbox.ddp")
Frame = dict[str, Any]


@dataclass
class StreamSubscription:
    """One `sub` to a stream publication."""

    sub_id: str
    publication: str
    stream: str
    params: list[Any]
    event_name: Any = None
    user_id: str | None = None


class SessionStreams:
    """One session's subscriptions: who may read what, and which of them an event reaches."""

    def __init__(self, state: SandboxState, listener: Any, send: Callable[[Frame], None]) -> None:
        self.state = state
        self._listener = listener  # what the event bus knows this session as
        self._send = send
        self.subs: dict[str, StreamSubscription] = {}
        # (stream, event name) → subscriptions; rebuilt after any change to `subs`, so that an
        # event costs each session a lookup, not a scan (hundreds of sessions under load).
        self._index: dict[tuple[str, str], list[StreamSubscription]] | None = None

    # -- sub, unsub, a new user -------------------------------------------------------------

    def subscribe(self, sub_id: str, name: str, params: list[Any], user_id: str | None) -> None:
        """A well-formed `sub` frame: `ready` (after `added` with useCollection) or `nosub`."""
        stream = streams.PUBLICATIONS.get(name)
        if stream is None:
            error = MeteorError(404, f"Subscription '{name}' not found").ddp_error()
            self._send({"msg": "nosub", "id": sub_id, "error": error})
            return
        if sub_id in self.subs:
            return
        sub = StreamSubscription(sub_id, name, stream, params, user_id=user_id)
        failure = self._check_read(sub)
        if failure is not None:
            self._send({"msg": "nosub", "id": sub_id, "error": failure})
            return
        self.subs[sub_id] = sub
        self._changed_subs()
        if self._use_collection(params):
            self._send(
                {
                    "msg": "added",
                    "collection": name,
                    "id": "id",
                    "fields": {"eventName": sub.event_name},
                }
            )
        self._send({"msg": "ready", "subs": [sub_id]})

    def unsubscribe(self, sub_id: Any) -> None:
        """An `unsub` frame: the subscription ends with `nosub`."""
        if isinstance(sub_id, str):
            self.subs.pop(sub_id, None)
            self._changed_subs()
        frame: Frame = {"msg": "nosub"}
        if sub_id is not None:
            frame["id"] = sub_id
        self._send(frame)

    def user_changed(self, user_id: str | None) -> None:
        """Re-run every subscription for the new user: `nosub` for those no longer readable,
        one `ready` for the others."""
        ready: list[str] = []
        for sub in list(self.subs.values()):
            sub.user_id = user_id
            failure = self._check_read(sub)
            if failure is None:
                ready.append(sub.sub_id)
            else:
                self.subs.pop(sub.sub_id, None)
                self._send({"msg": "nosub", "id": sub.sub_id, "error": failure})
        self._changed_subs()
        if ready:
            self._send({"msg": "ready", "subs": ready})

    def forget(self) -> None:
        """The session ended: the bus stops offering it events."""
        self.state.bus.interested(self._listener, ())

    @staticmethod
    def _use_collection(params: list[Any]) -> bool:
        options = params[1] if len(params) > 1 else False
        if isinstance(options, bool):
            return options
        return isinstance(options, dict) and options.get("useCollection") is True

    def _check_read(self, sub: StreamSubscription) -> Frame | None:
        """The streamer's `_publish` checks; None when the subscription may start."""
        event_name = sub.params[0] if sub.params else None
        options = sub.params[1] if len(sub.params) > 1 else False
        sub.event_name = event_name
        try:
            if options is None:
                raise TypeError("Cannot read properties of null (reading 'useCollection')")
            allowed = streams.read_allowed(self.state, sub.stream, event_name, sub.user_id)
        except streams.InvalidEventName:
            return MeteorError("invalid-event-name").ddp_error()
        except Exception:
            log.debug("publication %s crashed", sub.publication, exc_info=True)
            return error_json(RuntimeError())
        if not allowed:
            return MeteorError("not-allowed").ddp_error()
        return None

    def _changed_subs(self) -> None:
        """Rebuild the lookup of this session's subscriptions, and tell the bus."""
        self._index = None
        self.state.bus.interested(
            self._listener,
            {
                (s.stream, s.event_name)
                for s in self.subs.values()
                if isinstance(s.event_name, str)
            },
        )

    def _subs_for(self, stream: str, event_name: str) -> list[StreamSubscription]:
        index = self._index
        if index is None:
            index = self._index = {}
            for sub in self.subs.values():
                if isinstance(sub.event_name, str):
                    index.setdefault((sub.stream, sub.event_name), []).append(sub)
        return index.get((stream, event_name), [])

    # -- events -----------------------------------------------------------------------------

    def _changed(self, sub: StreamSubscription, event_name: str, args: list[Any]) -> None:
        self._send(
            {
                "msg": "changed",
                "collection": sub.publication,
                "id": "id",
                "fields": {"eventName": event_name, "args": args},
            }
        )

    def message(self, message: dict[str, Any], room: dict[str, Any]) -> None:
        """stream-room-messages: `<rid>` gets [message]; `__my_messages__` gets
        [message, room info]."""
        for sub in list(self._subs_for("room-messages", room["_id"])):
            self._changed(sub, room["_id"], [message])
        for sub in list(self._subs_for("room-messages", streams.MY_MESSAGES)):
            extra = streams.my_messages_extra(self.state, room, sub.user_id)
            if extra is not None:
                self._changed(sub, streams.MY_MESSAGES, [message, extra])

    def notify(self, stream: str, event_name: str, args: list[Any]) -> None:
        """An event of stream-notify-user/-room/-logged named `event_name`."""
        for sub in self._subs_for(stream, event_name):
            self._changed(sub, event_name, args)

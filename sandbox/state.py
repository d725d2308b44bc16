"""The sandbox's whole world, held as Mongo-like documents, and where it is kept.

Documents are plain dicts shaped like Rocket.Chat's collections (users, rooms, subscriptions,
messages). Dates are `datetime` objects in UTC; the REST layer renders them as ISO strings and DDP
as `{"$date": ms}`, as Rocket.Chat does. With a data file, the world is written after every change
(JSON or SQLite by the file's suffix) so a restart loses nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sandbox.versions import DEFAULT_VERSION, ServerVersion

_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
COLLECTIONS = ("users", "rooms", "subscriptions", "messages", "settings", "permissions", "emails")


def random_id(length: int = 17) -> str:
    """Meteor's `Random.id()`: 17 characters from an unambiguous alphabet."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def random_secret(length: int = 43) -> str:
    """Meteor's `Random.secret()`: 43 base64url characters (login tokens and PATs)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(length))


def now() -> datetime:
    """The current UTC time at millisecond precision, as a JavaScript Date holds it."""
    current = datetime.now(UTC)
    return current.replace(microsecond=current.microsecond // 1000 * 1000)


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def iso(value: datetime) -> str:
    """JavaScript's `Date.toISOString()`."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def parse_date(value: Any) -> datetime | None:
    """A Date, or an ISO string as JavaScript's `new Date(string)` reads it (a date alone is UTC
    midnight); None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _ejson_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": to_ms(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def _ejson_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$date" in obj and isinstance(obj["$date"], (int, float)):
        return from_ms(obj["$date"])
    return obj


def ejson_dumps(value: Any) -> str:
    """JSON with dates as `{"$date": ms}` (Meteor's EJSON), as DDP sends them."""
    return json.dumps(value, default=_ejson_default, separators=(",", ":"))


def ejson_loads(text: str | bytes) -> Any:
    return json.loads(text, object_hook=_ejson_hook)


def _rest_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def rest_dumps(value: Any) -> str:
    """JSON with dates as ISO strings, as the REST API sends them."""
    return json.dumps(value, default=_rest_default)


class EventListener(Protocol):
    """Receives what the realtime streams publish (implemented by each DDP session)."""

    def on_message(self, message: dict[str, Any], room: dict[str, Any]) -> None: ...
    def on_notify_user(self, user_id: str, event: str, args: list[Any]) -> None: ...
    def on_notify_room(
        self, room_id: str, event: str, args: list[Any], origin: Any = None
    ) -> None: ...
    def on_notify_logged(self, event: str, args: list[Any]) -> None: ...


def clone(value: Any) -> Any:
    """A deep copy of a JSON-like document (dicts, lists, tuples; everything else is immutable
    here: strings, numbers, datetimes): what `copy.deepcopy` gives, several times faster."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    if isinstance(value, tuple):
        return tuple(clone(item) for item in value)
    return value


@dataclass
class EventBus:
    """Fans realtime events out to the connected DDP sessions."""

    listeners: set[Any] = field(default_factory=set)
    # (stream, event name) → the listeners subscribed to it, so an event reaches its
    # subscribers without asking every connected session (hundreds of them under load).
    _interest: dict[tuple[str, str], set[Any]] = field(default_factory=dict)
    _keys: dict[int, frozenset[tuple[str, str]]] = field(default_factory=dict)

    def interested(self, listener: Any, keys: Iterable[tuple[str, str]]) -> None:
        """`listener` now subscribes to exactly these (stream, event name) pairs."""
        wanted = frozenset(keys)
        before = self._keys.pop(id(listener), frozenset())
        for key in before - wanted:
            targets = self._interest.get(key)
            if targets is not None:
                targets.discard(listener)
                if not targets:
                    del self._interest[key]
        for key in wanted - before:
            self._interest.setdefault(key, set()).add(listener)
        if wanted:
            self._keys[id(listener)] = wanted

    def _targets(self, *keys: tuple[str, str]) -> list[Any]:
        found: list[Any] = []
        for key in keys:
            found.extend(self._interest.get(key, ()))
        return [listener for listener in dict.fromkeys(found) if listener in self.listeners]

    def message(self, message: dict[str, Any], room: dict[str, Any]) -> None:
        """A message was inserted or updated (stream-room-messages)."""
        for listener in self._targets(
            ("room-messages", room["_id"]), ("room-messages", "__my_messages__")
        ):
            listener.on_message(message, room)

    def notify_user(self, user_id: str, event: str, args: list[Any]) -> None:
        """stream-notify-user `<uid>/<event>`."""
        for listener in self._targets(("notify-user", f"{user_id}/{event}")):
            listener.on_notify_user(user_id, event, args)

    def notify_room(self, room_id: str, event: str, args: list[Any], origin: Any = None) -> None:
        """stream-notify-room `<rid>/<event>`; `origin` (a DDP session) does not get its own
        event back, as the streamer's retransmitToSelf=false says."""
        for listener in self._targets(("notify-room", f"{room_id}/{event}")):
            listener.on_notify_room(room_id, event, args, origin)

    def notify_logged(self, event: str, args: list[Any]) -> None:
        """stream-notify-logged `<event>`."""
        for listener in self._targets(("notify-logged", event)):
            listener.on_notify_logged(event, args)


class UserTable(dict[str, dict[str, Any]]):
    """The users collection, indexed by lower-cased username and e-mail address.

    Rocket.Chat finds users by username and e-mail through Mongo indexes; a scan here made
    registering n people cost n² and every e-mail change a pass over everyone. Adding or
    removing a user keeps the index; a username or address changes through
    `SandboxState.set_username` / `set_emails`, which keep it too.
    """

    def __init__(self, users: Any = ()) -> None:
        super().__init__()
        self.by_username: dict[str, str] = {}
        self.by_email: dict[str, str] = {}
        for user_id, user in dict(users).items():
            self[user_id] = user

    def __setitem__(self, user_id: str, user: dict[str, Any]) -> None:
        if user_id in self:
            self.forget(self[user_id])
        super().__setitem__(user_id, user)
        self.remember(user)

    def __delitem__(self, user_id: str) -> None:
        self.forget(self[user_id])
        super().__delitem__(user_id)

    def pop(self, user_id: str, *default: Any) -> Any:  # type: ignore[override]
        if user_id in self:
            self.forget(self[user_id])
        return super().pop(user_id, *default)

    def remember(self, user: dict[str, Any]) -> None:
        """Index `user` under its current username and addresses."""
        if user.get("username"):
            self.by_username[str(user["username"]).lower()] = user["_id"]
        for entry in user.get("emails") or []:
            self.by_email[str(entry.get("address", "")).lower()] = user["_id"]

    def forget(self, user: dict[str, Any]) -> None:
        """Drop `user`'s current username and addresses from the index."""
        if user.get("username"):
            key = str(user["username"]).lower()
            if self.by_username.get(key) == user["_id"]:
                del self.by_username[key]
        for entry in user.get("emails") or []:
            key = str(entry.get("address", "")).lower()
            if self.by_email.get(key) == user["_id"]:
                del self.by_email[key]


@dataclass
class SandboxState:
    """Every collection of the sandbox, plus the event bus and the optional data file."""

    users: UserTable = field(default_factory=UserTable)
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    permissions: dict[str, list[str]] = field(default_factory=dict)
    emails: list[dict[str, Any]] = field(default_factory=list)
    # Not persisted: runtime-only pieces.
    version: ServerVersion = DEFAULT_VERSION  # the Rocket.Chat this sandbox behaves as
    bus: EventBus = field(default_factory=EventBus)
    # Called after the clock moved forward (e.g. the presence engine's expiry job).
    clock_watchers: list[Callable[[], None]] = field(default_factory=list)
    data_file: Path | None = None
    runtime: dict[str, Any] = field(default_factory=dict)  # rate-limiter buckets and the like
    # Subscriptions by room, rebuilt when the collection grew (subscriptions are only ever
    # added) or a cached one is no longer there: lookups per message stay O(1) with many users.
    _by_room: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_room_size: int = field(default=-1, init=False, repr=False, compare=False)

    def clock(self) -> datetime:
        """This sandbox's "now": real UTC time plus `runtime["clock_offset"]` seconds.

        Time-dependent rules (2FA remember-me, code expiry, rate-limit windows) read this clock,
        so tests move time by raising the offset instead of sleeping.
        """
        return now() + timedelta(seconds=float(self.runtime.get("clock_offset", 0)))

    def advance_clock(self, seconds: float) -> datetime:
        """Move this sandbox's clock forward, run what came due (the clock watchers), and
        return the new "now". Tests and `POST /sandbox/clock` use it instead of sleeping."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.runtime["clock_offset"] = float(self.runtime.get("clock_offset", 0)) + seconds
        for watcher in list(self.clock_watchers):
            watcher()
        return self.clock()

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        """The Rocket.Chat this sandbox behaves as is `major.minor.patch` or newer."""
        return self.version.at_least(major, minor, patch)

    def collections(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLLECTIONS}

    def save(self) -> None:
        """Write every collection to the data file, if there is one (atomically)."""
        if self.data_file is None:
            return
        blob = ejson_dumps(self.collections())
        if self.data_file.suffix in (".db", ".sqlite", ".sqlite3"):
            with sqlite3.connect(self.data_file) as db:
                db.execute("CREATE TABLE IF NOT EXISTS world (id INTEGER PRIMARY KEY, blob TEXT)")
                db.execute("INSERT OR REPLACE INTO world (id, blob) VALUES (1, ?)", (blob,))
            return
        directory = self.data_file.parent
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sandbox-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.data_file)

    def load(self) -> bool:
        """Read the data file into the collections; False if there was nothing to read."""
        if self.data_file is None or not self.data_file.exists():
            return False
        if self.data_file.suffix in (".db", ".sqlite", ".sqlite3"):
            with sqlite3.connect(self.data_file) as db:
                db.execute("CREATE TABLE IF NOT EXISTS world (id INTEGER PRIMARY KEY, blob TEXT)")
                row = db.execute("SELECT blob FROM world WHERE id = 1").fetchone()
            if row is None:
                return False
            data = ejson_loads(row[0])
        else:
            text = self.data_file.read_text()
            if not text.strip():
                return False
            data = ejson_loads(text)
        for name in COLLECTIONS:
            if name in data:
                setattr(self, name, data[name])
        self.users = UserTable(self.users)
        return True

    # Small lookups every module needs.
    def user_by_username(self, username: str) -> dict[str, Any] | None:
        return self.users.get(self.users.by_username.get(username.lower(), ""))

    def user_by_exact_username(self, username: str) -> dict[str, Any] | None:
        """The user whose username is exactly this one (case counts)."""
        user = self.user_by_username(username)
        return user if user is not None and user.get("username") == username else None

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        return self.users.get(self.users.by_email.get(email.lower(), ""))

    def set_username(self, user: dict[str, Any], username: str) -> None:
        """Give `user` a new username (the one way to, so the index follows)."""
        self.users.forget(user)
        user["username"] = username
        self.users.remember(user)

    def set_emails(self, user: dict[str, Any], emails: list[dict[str, Any]]) -> None:
        """Give `user` new e-mail entries (the one way to, so the index follows)."""
        self.users.forget(user)
        user["emails"] = emails
        self.users.remember(user)

    def subscription(self, room_id: str, user_id: str) -> dict[str, Any] | None:
        for sub in self.subscriptions_of_room(room_id):
            if sub["u"]["_id"] == user_id:
                return sub
        return None

    def subscriptions_of_room(self, room_id: str) -> list[dict[str, Any]]:
        """Every subscription to the room (from an index kept in step with the collection)."""
        found = (
            self._by_room.get(room_id, [])
            if self._by_room_size == len(self.subscriptions)
            else None
        )
        if found is None or any(self.subscriptions.get(sub["_id"]) is not sub for sub in found):
            self._by_room = {}
            for sub in self.subscriptions.values():
                self._by_room.setdefault(sub["rid"], []).append(sub)
            self._by_room_size = len(self.subscriptions)
            found = self._by_room.get(room_id, [])
        return list(found)

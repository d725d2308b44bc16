"""Who is in a room, for rules whose users are `room = "team"`.

Rocket.Chat answers `channels.members` / `groups.members` (by room name, paged) to the bot's own
account, which also skips the REST rate limiter (the bot role has api-bypass-rate-limit), so that
is the first choice: one paged read per room, cached for a minute on the injected clock.

A server without those endpoints (it answers 404, as the bundled sandbox does) is asked the
other way round: each candidate's own token reads their subscriptions (`subscriptions.get`), and
a candidate is a member when one of them is the room. Only people who delegated a token can be
candidates anyway, because rules act only for them; those answers are cached per user too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from bot.core.errors import AuthError, ServerError
from bot.rocketchat.account import BotAccount, BotLogin, LoginSettings

if TYPE_CHECKING:
    from bot.core.clock import Clock
    from bot.rocketchat.rest import RestClient
    from bot.storage.store import Store

log = logging.getLogger(__name__)

CACHE_TTL: Final = timedelta(seconds=60)
PAGE_SIZE: Final = 100


class RoomDirectory:
    """Room memberships, read with the bot's credentials or, failing that, each user's own."""

    def __init__(
        self,
        rest: RestClient,
        login: LoginSettings,
        store: Store,
        clock: Clock,
        *,
        ttl: timedelta = CACHE_TTL,
    ) -> None:
        self._rest = rest
        self._bot = BotAccount(BotLogin.from_settings(login), rest)
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._members_endpoint = True
        self._rooms: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._subscriptions: dict[str, tuple[datetime, frozenset[str]]] = {}

    async def members_among(self, room: str, user_ids: Iterable[str]) -> set[str]:
        """Those of `user_ids` who are members of `room` (a name, with or without #)."""
        wanted = list(dict.fromkeys(user_ids))
        name = room.removeprefix("#").casefold()
        if self._members_endpoint:
            members = await self._room_members(name)
            if members is not None:
                return {user_id for user_id in wanted if user_id in members}
        found = set()
        for user_id in wanted:
            if name in await self._rooms_of(user_id):
                found.add(user_id)
        return found

    # -- the bot's view: channels.members / groups.members ---------------------------------

    async def _room_members(self, name: str) -> frozenset[str] | None:
        """All member ids of the room, or None when the server has no members endpoint."""
        cached = self._rooms.get(name)
        now = self._clock.now()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        members: frozenset[str] = frozenset()
        for endpoint in ("channels.members", "groups.members"):
            try:
                members = await self._read_members(endpoint, name)
                break
            except ServerError as exc:
                if exc.status == 404:
                    log.info("the server has no %s; asking each user instead", endpoint)
                    self._members_endpoint = False
                    return None
                log.debug("%s for %s: %s", endpoint, name, exc.error_type)
        else:
            log.warning("could not read the members of #%s; treating it as empty", name)
        self._rooms[name] = (now, members)
        return members

    async def _read_members(self, endpoint: str, name: str) -> frozenset[str]:
        found: set[str] = set()
        offset = 0
        while True:
            params: dict[str, Any] = {"roomName": name, "count": PAGE_SIZE, "offset": offset}
            answer = await self._as_bot("GET", endpoint, params)
            page = [m for m in answer.get("members") or [] if isinstance(m, dict)]
            found.update(str(m["_id"]) for m in page if m.get("_id"))
            offset += len(page)
            total = answer.get("total")
            if not page or not isinstance(total, int) or offset >= total:
                return frozenset(found)

    async def _as_bot(self, method: str, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        for fresh in (False, True):
            credentials = await self._bot.credentials(fresh=fresh)
            try:
                return await self._rest.request(
                    method, endpoint, credentials=credentials, params=params
                )
            except AuthError:
                if fresh or not self._bot.login.uses_password:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- each user's own view: subscriptions.get -------------------------------------------

    async def _rooms_of(self, user_id: str) -> frozenset[str]:
        """The names (folded) of the rooms `user_id` is subscribed to; empty when unknown."""
        cached = self._subscriptions.get(user_id)
        now = self._clock.now()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        token = await self._store.get_token(user_id)
        if token is None or not token.valid:
            return frozenset()
        try:
            answer = await self._rest.request(
                "GET", "subscriptions.get", credentials=token.credentials
            )
        except ServerError as exc:
            log.info("could not read the rooms of %s (HTTP %s)", user_id, exc.status)
            return frozenset()
        rooms = frozenset(
            str(sub.get("name", "")).casefold()
            for sub in answer.get("update") or []
            if isinstance(sub, dict) and sub.get("name")
        )
        self._subscriptions[user_id] = (now, rooms)
        return rooms

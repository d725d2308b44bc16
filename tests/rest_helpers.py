"""Tiny raw REST helpers for tests: they show exactly what went over the wire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


async def call(
    http: aiohttp.ClientSession,
    base_url: str,
    method: str,
    endpoint: str,
    *,
    auth: tuple[str, str] | None = None,
    json: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    data: Any = None,
) -> Reply:
    """`method /api/v1/<endpoint>`; `auth` is (user_id, token)."""
    sent = dict(headers or {})
    if auth is not None:
        sent["X-User-Id"], sent["X-Auth-Token"] = auth
    async with http.request(
        method, f"{base_url}/api/v1/{endpoint}", json=json, params=params, headers=sent, data=data
    ) as response:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = await response.text()
        return Reply(response.status, body, dict(response.headers))


async def login(
    http: aiohttp.ClientSession, base_url: str, user: str, password: str
) -> tuple[str, str]:
    """Log in over REST and return (user_id, auth_token)."""
    reply = await call(http, base_url, "POST", "login", json={"user": user, "password": password})
    assert reply.status == 200, reply.body
    return reply.body["data"]["userId"], reply.body["data"]["authToken"]


async def sandbox_call(base_url: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A sandbox-own endpoint (`/sandbox/faults`, ...): its JSON answer, which must be a 200."""
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{base_url}{path}", json=body) as reply,
    ):
        answer = await reply.json()
        assert reply.status == 200, answer
        return dict(answer)

"""A calendar server on 127.0.0.1 (real sockets) and a resolver that names its hosts.

`feed_server.add(path, handler)` serves anything; `feed_server.requests` records what arrived
(path, headers), so a test can show a request never did. `names` maps host names to addresses
for the fetcher (an unknown name fails as a real resolver fails), and counts its lookups.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

FEEDS = Path(__file__).parent / "feeds"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


@dataclass
class FeedServer:
    """The test's calendar server: routes added per test, every request recorded."""

    port: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def seen(self, path: str) -> list[SeenRequest]:
        return [request for request in self.requests if request.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(SeenRequest(request.path, dict(request.headers)))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="no such calendar: body-marker-404")
        return await handler(request)


def feed_text(name: str) -> str:
    return (FEEDS / name).read_text(encoding="utf-8")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with serving_feeds() as server:
        yield server


@asynccontextmanager
async def serving_feeds() -> AsyncIterator[FeedServer]:
    """A FeedServer listening on 127.0.0.1 until the block ends (also for tests/e2e)."""
    server = FeedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    # No access log: the server's own lines would print the paths the tests keep secret.
    runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    try:
        yield server
    finally:
        server.release.set()  # handlers that hang until the end of the test
        await runner.cleanup()


class NameResolver(AbstractResolver):
    """Answers for the names a test gives; each name may answer differently on later lookups."""

    def __init__(self, names: dict[str, list[list[str]]]) -> None:
        self.names = names
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = self.names.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        turn = sum(1 for name in self.lookups if name == host)
        self.lookups.append(host)
        addresses = answers[min(turn, len(answers) - 1)]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None

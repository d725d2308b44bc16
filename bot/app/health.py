"""`/healthz` and `/metrics` over HTTP, for probes and Prometheus (`health_port` in the settings).

    GET /healthz   200 {"status": "ok"} while connected and logged in to Rocket.Chat,
                   503 {"status": "unavailable", ...} otherwise (starting, reconnecting)
    GET /metrics   the Prometheus text format (see bot.core.metrics)

It listens on `health_host` (127.0.0.1 unless configured otherwise) and says nothing about
users, tokens or messages.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from bot.core import metrics
from bot.core.errors import ConfigError
from bot.core.setting_names import describe_key

Ready = Callable[[], bool]


class HealthServer:
    """A small aiohttp server: `async with HealthServer(host=..., port=..., ready=...):`.

    `ready()` says whether the bot is connected and logged in. Port 0 picks a free port
    (see `port`).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        ready: Ready,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.host = host
        self._port = port
        self._ready = ready
        self._registry = registry
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when started with port 0)."""
        if self._runner is not None:
            for address in self._runner.addresses:
                if isinstance(address, tuple):
                    return int(address[1])
        return self._port

    async def start(self) -> None:
        """Listen; ConfigError naming health_port when the address cannot be used."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"{describe_key('health_port')}: cannot listen on {self.host}:{self._port} "
                f"({exc.strerror or exc}); choose a free port or leave health_port out"
            ) from None
        self._runner = runner
        metrics.CONNECTED.set_function(lambda: 1.0 if self._ready() else 0.0)

    async def close(self) -> None:
        """Stop listening (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _healthz(self, request: web.Request) -> web.Response:
        if self._ready():
            return web.json_response({"status": "ok"})
        return web.json_response(
            {"status": "unavailable", "reason": "not connected and logged in to Rocket.Chat"},
            status=503,
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

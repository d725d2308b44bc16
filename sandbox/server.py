"""The sandbox's HTTP server: REST under /api/v1/, DDP at /websocket, all on one port."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from sandbox import bootstrap, controls, ddp, endpoints, faults, status_expiry
from sandbox.api import DEFAULT_ROUTES, MAX_BODY_BYTES, dispatch, json_response
from sandbox.state import SandboxState
from sandbox.versions import DEFAULT_VERSION, ServerVersion

log = logging.getLogger("sandbox")
STATE_KEY = web.AppKey("state", SandboxState)
VERSION_VARIABLE = "SANDBOX_RC_VERSION"


def load_endpoints() -> None:
    """Import every module under sandbox/endpoints so its routes and DDP methods register."""
    for info in pkgutil.iter_modules(endpoints.__path__):
        importlib.import_module(f"{endpoints.__name__}.{info.name}")


def pick_version(rc_version: str | None, environ: Mapping[str, str]) -> ServerVersion:
    """The Rocket.Chat to behave as: the argument, else $SANDBOX_RC_VERSION, else 7.4.0.

    Raises versions.UnsupportedVersion for a release the sandbox does not model."""
    chosen = rc_version or environ.get(VERSION_VARIABLE)
    return ServerVersion.parse(chosen) if chosen else DEFAULT_VERSION


def create_state(
    data_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    rc_version: str | None = None,
) -> SandboxState:
    """A fresh (or reloaded) world, set up as Rocket.Chat's container image does."""
    variables = dict(os.environ if environ is None else environ)
    state = SandboxState(data_file=data_file, version=pick_version(rc_version, variables))
    loaded = state.load()
    bootstrap.bootstrap(state, variables, fresh=not loaded)
    state.save()
    return state


@web.middleware
async def _internal_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:  # a bug in the sandbox must not take other clients down
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"success": False, "error": "Internal server error"}, 500)


async def emails_handler(state: SandboxState, request: web.Request) -> web.StreamResponse:
    """`GET /sandbox/emails[?to=address]` → `{"emails": [{to, subject, text, ts}]}`, oldest first:
    the outbox (`sandbox.outbox`)."""
    wanted = request.query.get("to")
    emails = [
        mail for mail in state.emails if wanted is None or mail["to"].lower() == wanted.lower()
    ]
    return json_response({"emails": emails})


def create_app(state: SandboxState) -> web.Application:
    """The aiohttp application: REST, DDP and the sandbox-own routes over one world."""
    load_endpoints()
    app = web.Application(middlewares=[_internal_errors], client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = state

    async def api(request: web.Request) -> web.StreamResponse:
        return await dispatch(state, request)

    async def default_api(request: web.Request) -> web.StreamResponse:
        return await dispatch(state, request, DEFAULT_ROUTES)

    async def websocket(request: web.Request) -> web.StreamResponse:
        return await ddp.websocket_handler(state, request)

    async def emails(request: web.Request) -> web.StreamResponse:
        return await emails_handler(state, request)

    app.router.add_route("*", r"/api/v1/{name:.+}", api)
    app.router.add_route("*", r"/api/{name:(?!v1/)[^/]+}", default_api)  # e.g. /api/info
    app.router.add_route("GET", "/websocket", websocket)
    app.router.add_route("GET", "/sandbox/emails", emails)
    faults.install(app, state)  # /sandbox/faults, /sandbox/drop-websockets (tests only)
    controls.install(app, state)  # /sandbox/clock, /sandbox/presence-claims
    return app


@asynccontextmanager
async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    data_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    rc_version: str | None = None,
) -> AsyncIterator[str]:
    """Run the sandbox in this event loop and yield its base URL (``http://host:port``).

    `environ` stands in for the process environment (ADMIN_*, OVERWRITE_SETTING_*,
    SANDBOX_RC_VERSION); by default the real one is read. `rc_version` ("7.4.0", "8.6.0")
    picks the Rocket.Chat to behave as, before $SANDBOX_RC_VERSION. Port 0 picks a free port.
    """
    async with serve_state(
        host, port, data_file=data_file, environ=environ, rc_version=rc_version
    ) as (url, _state):
        yield url


@asynccontextmanager
async def serve_state(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    data_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    rc_version: str | None = None,
) -> AsyncIterator[tuple[str, SandboxState]]:
    """Like `serve`, but yields (base URL, state) so in-process tests can move the clock."""
    state = create_state(Path(data_file) if data_file else None, environ, rc_version)
    app = create_app(state)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    site = web.SockSite(runner, sock)
    await site.start()
    real_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    try:
        async with status_expiry.running(state):
            yield f"http://{shown_host}:{real_port}", state
    finally:
        await runner.cleanup()
        state.save()

"""The REST client: against the sandbox for real calls, against a scripted peer for faults.

The sandbox cannot produce a 502, a hang or a 429 with a chosen reset on demand, so those tests
start a tiny aiohttp server in the test that answers with scripted faults (a fake peer over real
sockets, not a mock of our code). Sleeping goes through an injected recorder, so no test waits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.core.credentials import Credentials, SecondFactor
from bot.core.errors import (
    AuthError,
    RateLimited,
    ServerError,
    TwoFactorInvalid,
    TwoFactorRequired,
)
from bot.rocketchat.rest import RestClient, error_for
from tests.conftest import ADMIN

NOW = 1_800_000_000.0  # the fake wall clock, in seconds
FAKE_TOKEN = "Fake-Token_0123456789abcdefghijklmnopqrstu"  # 43 chars, Meteor's shape


class SleepRecorder:
    """Stands in for asyncio.sleep: remembers each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def client(url: str, sleeps: SleepRecorder, **options: Any) -> RestClient:
    options.setdefault("timeout", 2.0)
    return RestClient(url, sleep=sleeps, clock=lambda: NOW, jitter=lambda: 0.0, **options)


# -- against the sandbox --------------------------------------------------------------------


@pytest.fixture
async def rest(sandbox_url: str, sleeps: SleepRecorder) -> AsyncIterator[RestClient]:
    async with client(sandbox_url, sleeps) as rest_client:
        yield rest_client


@pytest.fixture
async def admin(rest: RestClient) -> Credentials:
    return await rest.login(username=ADMIN["username"], password=ADMIN["password"])


async def test_login_gives_credentials_that_me_accepts(rest: RestClient) -> None:
    credentials = await rest.login(username=ADMIN["username"], password=ADMIN["password"])
    me = await rest.me(credentials)

    assert me["_id"] == credentials.user_id
    assert me["username"] == ADMIN["username"]
    assert "success" not in me
    assert credentials.token not in repr(credentials) + str(credentials)


async def test_a_wrong_password_is_an_auth_error(rest: RestClient) -> None:
    with pytest.raises(AuthError) as caught:
        await rest.login(username=ADMIN["username"], password="not-the-password")
    assert caught.value.status == 401
    assert "not-the-password" not in str(caught.value)


async def test_an_unknown_token_is_an_auth_error_without_the_token(
    rest: RestClient, admin: Credentials
) -> None:
    forged = Credentials(user_id=admin.user_id, token=FAKE_TOKEN)
    with pytest.raises(AuthError) as caught:
        await rest.me(forged)
    assert caught.value.status == 401
    assert caught.value.endpoint == "me"
    assert FAKE_TOKEN not in str(caught.value) + repr(caught.value)


async def test_update_own_basic_info_returns_the_user_and_user_info_shows_it(
    rest: RestClient, admin: Credentials
) -> None:
    user = await rest.update_own_basic_info(admin, data={"nickname": "The Admin"})
    assert user["_id"] == admin.user_id
    assert user["nickname"] == "The Admin"

    shown = await rest.user_info(admin, user_id=admin.user_id)
    assert shown["username"] == ADMIN["username"]
    assert shown["nickname"] == "The Admin"


async def test_a_400_with_error_type_is_a_server_error_with_that_type(
    rest: RestClient, admin: Credentials
) -> None:
    with pytest.raises(ServerError) as caught:
        await rest.update_own_basic_info(admin, data={"bio": "x" * 261})
    error = caught.value
    assert type(error) is ServerError
    assert (error.status, error.error_type) == (400, "error-bio-size-exceeded")


async def test_bad_params_are_a_server_error_of_type_invalid_params(
    rest: RestClient, admin: Credentials
) -> None:
    with pytest.raises(ServerError) as caught:
        await rest.update_own_basic_info(admin, data={"shoeSize": 42})
    assert (caught.value.status, caught.value.error_type) == (400, "invalid-params")


async def test_changing_the_email_without_a_second_factor_asks_for_one(
    rest: RestClient, admin: Credentials
) -> None:
    with pytest.raises(TwoFactorRequired) as caught:
        await rest.update_own_basic_info(admin, data={"email": "new-admin@example.com"})
    error = caught.value
    assert error.status == 400
    assert error.error_type == "totp-required"
    assert isinstance(error.details, dict)
    assert error.method in {"password", "email", "totp"}


async def test_a_wrong_second_factor_is_two_factor_invalid_without_the_code(
    rest: RestClient, admin: Credentials
) -> None:
    wrong = SecondFactor.from_password("definitely-wrong")
    with pytest.raises(TwoFactorInvalid) as caught:
        await rest.update_own_basic_info(
            admin, data={"email": "new-admin@example.com"}, second_factor=wrong
        )
    assert caught.value.error_type in {"totp-invalid", "totp-max-attempts"}
    assert wrong.code not in str(caught.value) + repr(caught.value) + repr(wrong)


async def test_public_settings_returns_only_the_ids_asked_for(rest: RestClient) -> None:
    wanted = ["Accounts_AllowUserProfileChange", "Message_AllowUnrecognizedSlashCommand"]
    settings = await rest.public_settings([*wanted, "No_Such_Setting"])

    assert set(settings) == set(wanted)
    assert settings["Message_AllowUnrecognizedSlashCommand"] is False
    assert await rest.public_settings([]) == {}


async def test_set_status_changes_presence_and_text(rest: RestClient, admin: Credentials) -> None:
    await rest.set_status(admin, status="away", message="at lunch")
    shown = await rest.user_info(admin, user_id=admin.user_id)
    assert shown["statusText"] == "at lunch"
    assert shown["status"] == "away"


async def test_delete_message_deletes_once(rest: RestClient, admin: Credentials) -> None:
    posted = await rest.request(
        "POST",
        "chat.postMessage",
        credentials=admin,
        json={"channel": "#general", "text": "delete me"},
    )
    message = posted["message"]

    await rest.delete_message(admin, room_id=message["rid"], message_id=message["_id"])
    with pytest.raises(ServerError) as caught:
        await rest.delete_message(admin, room_id=message["rid"], message_id=message["_id"])
    assert caught.value.status == 400


# -- against a scripted peer ----------------------------------------------------------------

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ScriptedPeer:
    """A tiny HTTP server answering each request with the next scripted answer."""

    url: str = ""
    script: list[Answer] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return await answer(request)


def reply(status: int, body: Any = None, *, text: str | None = None, **headers: str) -> Answer:
    async def answer(request: web.Request) -> web.StreamResponse:
        if text is not None:
            return web.Response(
                status=status, text=text, content_type="text/html", headers=headers
            )
        return web.json_response(body if body is not None else {}, status=status, headers=headers)

    return answer


def hang(seconds: float) -> Answer:
    async def answer(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response({"success": True, "late": True})

    return answer


OK = reply(200, {"success": True, "ok": 1})
BAD_GATEWAY_HTML = reply(502, text="<html><body><h1>502 Bad Gateway</h1></body></html>")


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    scripted = ScriptedPeer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    scripted.url = f"http://{host}:{port}"
    try:
        yield scripted
    finally:
        await runner.cleanup()


async def test_a_get_is_retried_after_5xx_with_growing_backoff(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    peer.script = [BAD_GATEWAY_HTML, reply(503, {"success": False, "error": "busy"}), OK]
    async with client(peer.url, sleeps, backoff_base=0.2) as rest:
        body = await rest.request("GET", "me")

    assert body["ok"] == 1
    assert len(peer.requests) == 3
    assert sleeps.delays == [0.1, 0.2]  # base * 2**n, halved by the (zero) jitter


async def test_a_get_gives_up_after_max_attempts(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    peer.script = [reply(500, {"success": False, "error": "Internal server error"})]
    async with client(peer.url, sleeps, max_attempts=3) as rest:
        with pytest.raises(ServerError) as caught:
            await rest.request("GET", "me")

    assert caught.value.status == 500
    assert len(peer.requests) == 3
    assert len(sleeps.delays) == 2


async def test_backoff_is_capped_and_jittered(peer: ScriptedPeer) -> None:
    jitters = iter([1.0, 0.0, 0.5, 1.0])
    sleeps = SleepRecorder()
    rest = RestClient(
        peer.url,
        max_attempts=5,
        backoff_base=1.0,
        backoff_cap=3.0,
        sleep=sleeps,
        jitter=lambda: next(jitters),
    )
    peer.script = [reply(502, {})]
    async with rest:
        with pytest.raises(ServerError):
            await rest.request("GET", "info")
    assert sleeps.delays == [1.0, 1.0, 2.25, 3.0]


async def test_a_post_is_not_repeated_after_a_5xx(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    peer.script = [BAD_GATEWAY_HTML, OK]
    async with client(peer.url, sleeps) as rest:
        with pytest.raises(ServerError) as caught:
            await rest.request("POST", "users.updateOwnBasicInfo", json={"data": {}})

    assert len(peer.requests) == 1
    assert sleeps.delays == []
    assert caught.value.status == 502
    assert "not JSON" in str(caught.value)


async def test_a_post_is_not_repeated_after_a_timeout(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    peer.script = [hang(0.5), OK]
    async with client(peer.url, sleeps, timeout=0.15) as rest:
        with pytest.raises(ServerError) as caught:
            await rest.request("POST", "chat.delete", json={"msgId": "m", "roomId": "r"})

    assert (caught.value.status, caught.value.error_type) == (0, "timeout")
    assert len(peer.requests) == 1
    assert sleeps.delays == []


async def test_a_get_is_retried_after_a_timeout(peer: ScriptedPeer, sleeps: SleepRecorder) -> None:
    peer.script = [hang(0.5), OK]
    async with client(peer.url, sleeps, timeout=0.15) as rest:
        body = await rest.request("GET", "users.info", params={"userId": "u"})

    assert body["ok"] == 1
    assert len(peer.requests) == 2
    assert len(sleeps.delays) == 1


async def test_a_refused_connection_is_retried_for_any_method(sleeps: SleepRecorder) -> None:
    async with client(f"http://127.0.0.1:{closed_port()}", sleeps, max_attempts=3) as rest:
        with pytest.raises(ServerError) as caught:
            await rest.request("POST", "users.setStatus", json={"status": "away"})

    assert (caught.value.status, caught.value.error_type) == (0, "connection-error")
    assert len(sleeps.delays) == 2  # nothing was sent, so trying again is safe


async def test_a_429_is_waited_out_until_the_reset_then_the_post_is_sent_again(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    reset_ms = str(int((NOW + 2.5) * 1000))
    peer.script = [
        reply(
            429,
            {"success": False, "error": "Error, too many requests. Please slow down."},
            **{"X-RateLimit-Reset": reset_ms, "X-RateLimit-Remaining": "0"},
        ),
        OK,
    ]
    async with client(peer.url, sleeps) as rest:
        body = await rest.request("POST", "users.updateOwnBasicInfo", json={"data": {}})

    assert body["ok"] == 1
    assert len(peer.requests) == 2
    assert sleeps.delays == [pytest.approx(2.5)]


async def test_a_429_beyond_the_wait_budget_is_raised_as_rate_limited(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    reset_ms = str(int((NOW + 40) * 1000))
    peer.script = [
        reply(429, {"success": False, "error": "slow down"}, **{"X-RateLimit-Reset": reset_ms})
    ]
    async with client(peer.url, sleeps, max_rate_limit_wait=60.0) as rest:
        with pytest.raises(RateLimited) as caught:
            await rest.request("GET", "me")

    assert caught.value.retry_after == pytest.approx(40)
    assert sleeps.delays == [pytest.approx(40)]  # a second 40 s wait would pass 60 s
    assert len(peer.requests) == 2


async def test_a_429_without_reset_header_uses_the_wait_in_the_message(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    peer.script = [
        reply(
            429,
            {
                "success": False,
                "error": "Error, too many requests. Please slow down. You must wait 7 "
                "seconds before trying this endpoint again.",
            },
        ),
        OK,
    ]
    async with client(peer.url, sleeps) as rest:
        await rest.request("GET", "me")
    assert sleeps.delays == [7.0]


async def test_a_200_that_is_not_json_is_a_server_error(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    peer.script = [reply(200, text="<html>login page of a proxy</html>")]
    async with client(peer.url, sleeps) as rest:
        with pytest.raises(ServerError) as caught:
            await rest.request("POST", "login", json={})
    assert (caught.value.status, caught.value.error_type) == (200, "invalid-response")


async def test_headers_carry_credentials_and_second_factor_but_errors_do_not(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    peer.script = [reply(401, {"success": False, "error": "You must be logged in to do this."})]
    credentials = Credentials(user_id="u1", token=FAKE_TOKEN)
    second = SecondFactor(method="email", code="918273")

    async with client(peer.url, sleeps) as rest:
        with pytest.raises(AuthError) as caught:
            await rest.request("GET", "me", credentials=credentials, second_factor=second)

    _, path, headers = peer.requests[0]
    assert path == "/api/v1/me"
    assert headers["X-User-Id"] == "u1"
    assert headers["X-Auth-Token"] == FAKE_TOKEN
    assert (headers["X-2fa-Code"], headers["X-2fa-Method"]) == ("918273", "email")
    shown = str(caught.value) + repr(caught.value) + repr(credentials) + repr(second)
    assert FAKE_TOKEN not in shown and "918273" not in shown
    assert len(peer.requests) == 1  # a 401 is not retried


async def test_public_settings_falls_back_to_query_on_servers_that_ignore_id(
    peer: ScriptedPeer, sleeps: SleepRecorder
) -> None:
    everything: list[dict[str, Any]] = [
        {"_id": "A", "value": 1},
        {"_id": "B", "value": "b"},
        {"_id": "C", "value": True},
    ]

    async def old_server(request: web.Request) -> web.StreamResponse:
        if "query" in request.query:
            ids = json.loads(request.query["query"])["_id"]["$in"]
            return web.json_response(
                {"success": True, "settings": [s for s in everything if s["_id"] in ids]}
            )
        return web.json_response({"success": True, "settings": everything})

    peer.script = [old_server]
    async with client(peer.url, sleeps) as rest:
        assert await rest.public_settings(["C", "A"]) == {"A": 1, "C": True}
    assert len(peer.requests) == 2
    assert "_id=C%2CA" in peer.requests[0][1] or "_id=C,A" in peer.requests[0][1]


async def test_using_the_client_outside_its_context_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await RestClient("http://127.0.0.1:1").request("GET", "me")


def test_the_password_second_factor_is_the_sha256_of_the_password() -> None:
    second = SecondFactor.from_password("admin-pass-1")
    assert second.method == "password"
    assert second.code == hashlib.sha256(b"admin-pass-1").hexdigest()


# -- the one error mapping ----------------------------------------------------------------

TWO_FA_DETAILS = {"method": "email", "codeGenerated": True, "availableMethods": ["email"]}


@pytest.mark.parametrize(
    ("status", "body", "kind", "error_type"),
    [
        (
            401,
            {"success": False, "error": "You must be logged in to do this."},
            AuthError,
            "You must be logged in to do this.",
        ),
        (
            401,
            {"success": False, "error": "Unauthorized", "message": "Unauthorized"},
            AuthError,
            "Unauthorized",
        ),
        (
            401,
            {"success": False, "error": "totp-required", "details": TWO_FA_DETAILS},
            TwoFactorRequired,
            "totp-required",
        ),
        (
            400,
            {
                "success": False,
                "error": "TOTP Required [totp-required]",
                "errorType": "totp-required",
                "details": TWO_FA_DETAILS,
            },
            TwoFactorRequired,
            "totp-required",
        ),
        (
            400,
            {
                "success": False,
                "error": "TOTP Invalid [totp-invalid]",
                "errorType": "totp-invalid",
            },
            TwoFactorInvalid,
            "totp-invalid",
        ),
        (
            400,
            {
                "success": False,
                "error": "TOTP Maximun Failed Attempts Reached [totp-max-attempts]",
                "errorType": "totp-max-attempts",
            },
            TwoFactorInvalid,
            "totp-max-attempts",
        ),
        (429, {"success": False, "error": "Error, too many requests."}, RateLimited, None),
        (400, {"success": False, "error": "error-not-allowed"}, ServerError, "error-not-allowed"),
        (
            400,
            {"success": False, "error": "Name contains invalid characters"},
            ServerError,
            "Name contains invalid characters",
        ),
        (
            403,
            {
                "success": False,
                "error": "User does not have the permissions required for "
                "this action [error-unauthorized]",
            },
            ServerError,
            "error-unauthorized",
        ),
        (
            400,
            {
                "success": False,
                "error": "error-action-not-allowed",
                "errorType": "error-action-not-allowed",
                "details": {"action": "x"},
            },
            ServerError,
            "error-action-not-allowed",
        ),
        (502, None, ServerError, None),
    ],
)
def test_error_bodies_map_to_the_error_tree(
    status: int, body: Any, kind: type[ServerError], error_type: str | None
) -> None:
    error = error_for(
        status=status,
        body=body,
        headers={},
        method="POST",
        endpoint="x",
        now=NOW,
        reason="Bad Gateway" if body is None else "",
        content_type="text/html",
    )
    assert type(error) is kind
    assert error.status == status
    if error_type is not None:
        assert error.error_type == error_type
    if isinstance(body, dict) and "details" in body:
        assert error.details == body["details"]
    if isinstance(error, TwoFactorRequired):
        assert error.method == "email"
    if isinstance(error, RateLimited):
        assert error.retry_after == 1.0


# -- helpers --------------------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

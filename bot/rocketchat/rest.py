"""The bot's one REST client for Rocket.Chat: base URL, auth headers, timeouts, retries, errors.

Every call goes through `RestClient.request`, which maps Rocket.Chat's error bodies to bot.core.errors
in one place (`error_for`):

    errorType (or login's bare error) totp-required       → TwoFactorRequired (details kept)
    errorType totp-invalid / totp-max-attempts            → TwoFactorInvalid
    HTTP 401                                              → AuthError
    HTTP 429 (or error-too-many-requests)                 → RateLimited (retry_after seconds)
    anything else, including non-JSON bodies              → ServerError(status, error_type, details)

Retries: a 429 is waited out (until X-RateLimit-Reset, bounded) for any method, because the server
did not run the request. GETs, which are safe to repeat, are retried on timeouts, connection errors
and 5xx with exponential backoff and jitter, and so are POSTs the caller marks `idempotent` (a
profile change that only sets values lands on the same profile if it runs twice). Other methods
are never repeated once they may have reached the server (a timeout or a 5xx might mean
"applied"); only a failed connect is retried.
Network failures surface as ServerError with status 0 and error_type "timeout" or
"connection-error". No message or repr ever contains a header value (token or 2FA code).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self

import aiohttp
from yarl import URL

from bot.core.credentials import Credentials, SecondFactor
from bot.core.errors import (
    AuthError,
    RateLimited,
    ServerError,
    TwoFactorInvalid,
    TwoFactorRequired,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
PASSWORD_KEYS: Final = frozenset({"newPassword", "currentPassword"})
TWO_FACTOR_REQUIRED: Final = "totp-required"
TWO_FACTOR_INVALID: Final = frozenset({"totp-invalid", "totp-max-attempts"})
USER_AGENT: Final = "rcbot/0.1 (+aiohttp)"
_BRACKETED_CODE = re.compile(r"\[([^\[\]\s]+)\]\s*$")
_WAIT_SECONDS = re.compile(r"wait (\d+(?:\.\d+)?) seconds")
_MAX_ERROR_TEXT = 300


def _error_text(status: int, body: Any, reason: str, content_type: str) -> str:
    if isinstance(body, dict):
        for key in ("error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:_MAX_ERROR_TEXT]
        return f"HTTP {status} {reason}".strip()
    kind = content_type or "no content type"
    return f"HTTP {status} {reason} (the body is not JSON: {kind})".replace("  ", " ")


def _error_code(body: Any) -> str | None:
    """Rocket.Chat's errorType, else the code in "reason [code]", else the bare error."""
    if not isinstance(body, dict):
        return None
    error_type = body.get("errorType")
    if isinstance(error_type, str) and error_type:
        return error_type
    error = body.get("error")
    if isinstance(error, str) and error:
        found = _BRACKETED_CODE.search(error)
        return found.group(1) if found else error
    return None


def retry_after_seconds(headers: Mapping[str, str], body: Any, now: float) -> float:
    """Seconds until X-RateLimit-Reset (epoch ms), else the "wait N seconds" text, else 1."""
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) / 1000.0 - now)
        except ValueError:
            pass
    text = body.get("error") if isinstance(body, dict) else None
    if isinstance(text, str) and (found := _WAIT_SECONDS.search(text)):
        return float(found.group(1))
    return 1.0


def error_for(
    *,
    status: int,
    body: Any,
    headers: Mapping[str, str],
    method: str,
    endpoint: str,
    now: float,
    reason: str = "",
    content_type: str = "",
) -> ServerError:
    """The one mapping from a Rocket.Chat error answer to the bot's error tree."""
    code = _error_code(body)
    details = body.get("details") if isinstance(body, dict) else None
    message = f"{method} {endpoint} failed with HTTP {status}: " + _error_text(
        status, body, reason, content_type
    )
    common: dict[str, Any] = {
        "status": status,
        "error_type": code,
        "details": details,
        "endpoint": endpoint,
    }
    if code == TWO_FACTOR_REQUIRED:
        return TwoFactorRequired(message, **common)
    if code in TWO_FACTOR_INVALID:
        return TwoFactorInvalid(message, **common)
    if status == 401:
        return AuthError(message, **common)
    if status == 429 or code == "error-too-many-requests":
        return RateLimited(message, retry_after=retry_after_seconds(headers, body, now), **common)
    return ServerError(message, **common)


@dataclass
class _Answer:
    status: int
    reason: str
    content_type: str
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or None when the body is not JSON


class RestClient:
    """One aiohttp session to one Rocket.Chat server; use as `async with RestClient(url) as rest:`.

    `sleep`, `clock` and `jitter` are injectable so tests can run retries without waiting.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_attempts: int = 4,
        max_rate_limit_wait: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_rate_limit_wait = max_rate_limit_wait
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}

    def __repr__(self) -> str:
        return f"RestClient({self.base_url!r})"

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the HTTP session (done by `async with`)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                # Every call authenticates with headers; a cookie jar would only cost time.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        """Close the HTTP session; the client can be opened again."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, endpoint: str) -> str:
        """The full URL of `/api/v1/<endpoint>`; an endpoint written `/api/...` (outside v1, such
        as `/api/info`) is a path from the server's root."""
        if endpoint.startswith("/api/"):
            return f"{self.base_url}{endpoint}"
        return f"{self.base_url}/api/v1/{endpoint.lstrip('/')}"

    def _parsed_url(self, endpoint: str) -> URL:
        # The bot calls a handful of endpoints; parsing each URL once saves yarl's work per call.
        parsed = self._urls.get(endpoint)
        if parsed is None:
            parsed = self._urls[endpoint] = URL(self.url(endpoint))
        return parsed

    # -- the one request path ---------------------------------------------------------------

    async def request(
        self,
        http_method: str,
        endpoint: str,
        *,
        credentials: Credentials | None = None,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        second_factor: SecondFactor | None = None,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """Call `/api/v1/<endpoint>` and return the JSON body, or raise a bot.core.errors.ServerError.

        `idempotent`: the request may run twice with the same outcome, so it is retried as a GET.
        """
        method = http_method.upper()
        repeatable = method in SAFE_METHODS or idempotent
        headers = self._headers(credentials, second_factor)
        body = None
        if json is not None:  # serialised once for every attempt (aiohttp's json= would redo it)
            body = jsonlib.dumps(json).encode("utf-8")
            headers["Content-Type"] = "application/json"
        rate_limit_waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            final = attempt == self.max_attempts
            try:
                answer = await self._send(method, endpoint, headers, body, params)
            except (aiohttp.ClientSSLError, aiohttp.InvalidURL) as exc:
                raise ServerError(
                    f"{method} {endpoint}: cannot reach {self.base_url} "
                    f"({type(exc).__name__}: {exc})",
                    status=0,
                    error_type="connection-error",
                    endpoint=endpoint,
                ) from None
            except TimeoutError as exc:
                # A connect timeout means nothing was sent, so any method may try again.
                not_sent = isinstance(exc, aiohttp.ConnectionTimeoutError)
                failure = ServerError(
                    f"{method} {endpoint}: no answer from {self.base_url} "
                    f"within {self.timeout:g} s",
                    status=0,
                    error_type="timeout",
                    endpoint=endpoint,
                    may_have_applied=not not_sent,
                )
                retryable = repeatable or not_sent
            except aiohttp.ClientError as exc:
                not_sent = isinstance(exc, aiohttp.ClientConnectorError)
                detail = f": {exc}" if not_sent else ""
                failure = ServerError(
                    f"{method} {endpoint}: connection to {self.base_url} failed "
                    f"({type(exc).__name__}{detail})",
                    status=0,
                    error_type="connection-error",
                    endpoint=endpoint,
                    may_have_applied=not not_sent,
                )
                retryable = repeatable or not_sent
            else:
                if _succeeded(answer):
                    return answer.body  # type: ignore[no-any-return]
                failure = self._failure(method, endpoint, answer)
                if isinstance(failure, RateLimited):
                    budget = self.max_rate_limit_wait - rate_limit_waited
                    if final or failure.retry_after > budget:
                        raise failure
                    log.warning(
                        "%s %s was rate limited; waiting %.1f s before trying again",
                        method,
                        endpoint,
                        failure.retry_after,
                    )
                    rate_limit_waited += failure.retry_after
                    await self._sleep(failure.retry_after)
                    continue
                retryable = repeatable and answer.status >= 500
            if final or not retryable:
                raise failure
            delay = self._backoff(attempt)
            log.warning(
                "%s (attempt %d of %d); trying again in %.2f s",
                failure,
                attempt,
                self.max_attempts,
                delay,
            )
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _headers(
        self, credentials: Credentials | None, second_factor: SecondFactor | None
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        if credentials is not None:
            headers["X-User-Id"] = credentials.user_id
            headers["X-Auth-Token"] = credentials.token
        if second_factor is not None:
            headers["X-2fa-Code"] = second_factor.code
            headers["X-2fa-Method"] = second_factor.method
        return headers

    async def _send(
        self,
        method: str,
        endpoint: str,
        headers: dict[str, str],
        body: bytes | None,
        params: dict[str, Any] | None,
    ) -> _Answer:
        if self._session is None:
            raise RuntimeError("RestClient is not open: use `async with RestClient(...) as rest`")
        started = time.monotonic()
        async with self._session.request(
            method, self._parsed_url(endpoint), headers=headers, data=body, params=params
        ) as response:
            raw = await response.read()
            answer = _Answer(
                status=response.status,
                reason=response.reason or "",
                content_type=response.content_type,
                headers=response.headers,
                body=_parse_json(raw),
            )
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %d in %.0f ms", method, endpoint, answer.status, elapsed)
        return answer

    def _failure(self, method: str, endpoint: str, answer: _Answer) -> ServerError:
        if 200 <= answer.status < 300 and not isinstance(answer.body, dict):
            return ServerError(
                f"{method} {endpoint} answered HTTP {answer.status} with a body that is not "
                f"a JSON object ({answer.content_type or 'no content type'})",
                status=answer.status,
                error_type="invalid-response",
                endpoint=endpoint,
            )
        failure = error_for(
            status=answer.status,
            body=answer.body,
            headers=answer.headers,
            method=method,
            endpoint=endpoint,
            now=self._clock(),
            reason=answer.reason,
            content_type=answer.content_type,
        )
        # A 5xx may come from a proxy that gave up while Rocket.Chat behind it goes on.
        failure.may_have_applied = answer.status >= 500
        return failure

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._jitter())

    # -- Rocket.Chat calls the bot makes ----------------------------------------------------

    async def login(self, *, username: str, password: str, code: str | None = None) -> Credentials:
        """POST login with a username (or e-mail) and password; `code` is a 2FA code if asked."""
        body: dict[str, Any] = {"user": username, "password": password}
        if code is not None:
            body["code"] = code
        answer = await self.request("POST", "login", json=body)
        data = answer.get("data")
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("userId"), str)
            or not isinstance(data.get("authToken"), str)
        ):
            raise ServerError(
                "POST login answered without data.userId and data.authToken",
                status=200,
                error_type="invalid-response",
                endpoint="login",
            )
        return Credentials(user_id=data["userId"], token=data["authToken"])

    async def me(self, credentials: Credentials) -> dict[str, Any]:
        """GET me: the caller's own user (fields at top level, `success` removed)."""
        answer = await self.request("GET", "me", credentials=credentials)
        return {key: value for key, value in answer.items() if key != "success"}

    async def user_info(self, credentials: Credentials, *, user_id: str) -> dict[str, Any]:
        """GET users.info?userId=…: the `user` object."""
        answer = await self.request(
            "GET", "users.info", credentials=credentials, params={"userId": user_id}
        )
        return _member(answer, "user", "GET users.info")

    async def update_own_basic_info(
        self,
        credentials: Credentials,
        *,
        data: dict[str, Any],
        custom_fields: dict[str, Any] | None = None,
        second_factor: SecondFactor | None = None,
    ) -> dict[str, Any]:
        """POST users.updateOwnBasicInfo; returns the updated `user` object."""
        body: dict[str, Any] = {"data": data}
        if custom_fields is not None:
            body["customFields"] = custom_fields
        answer = await self.request(
            "POST",
            "users.updateOwnBasicInfo",
            credentials=credentials,
            json=body,
            second_factor=second_factor,
            # Never repeated here once it may have reached the server: a late copy could land
            # after the person's next change (bot.profile.service waits, reads back, then decides).
        )
        return _member(answer, "user", "POST users.updateOwnBasicInfo")

    async def delete_message(
        self, credentials: Credentials, *, room_id: str, message_id: str
    ) -> None:
        """POST chat.delete: delete one message as the owner of `credentials`."""
        await self.request(
            "POST",
            "chat.delete",
            credentials=credentials,
            json={"roomId": room_id, "msgId": message_id},
        )

    async def public_settings(self, ids: list[str]) -> dict[str, Any]:
        """GET settings.public for `ids`: {id: value}; ids the server does not serve are absent.

        Rocket.Chat 7 (and late 6.x) filter with `_id=A,B`; older servers ignore it and only
        understand `query={"_id":{"$in":[…]}}`, which 7.0 removed, so that is the fallback.
        """
        wanted = [setting_id for setting_id in dict.fromkeys(ids) if setting_id]
        if not wanted:
            return {}
        answer = await self.request(
            "GET",
            "settings.public",
            params={"_id": ",".join(wanted), "count": max(len(wanted), 1)},
        )
        settings = _settings_list(answer)
        if any(item.get("_id") not in wanted for item in settings):
            query = jsonlib.dumps({"_id": {"$in": wanted}}, separators=(",", ":"))
            answer = await self.request(
                "GET", "settings.public", params={"query": query, "count": len(wanted)}
            )
            settings = _settings_list(answer)
        return {
            str(item["_id"]): item.get("value") for item in settings if item.get("_id") in wanted
        }

    async def set_status(
        self,
        credentials: Credentials,
        *,
        status: str | None,
        message: str | None,
        expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        """POST users.setStatus: presence and/or text, and (8.6+) `expiresAt`, when the server
        ends the status itself. Never repeated once it may have reached the server, as
        updateOwnBasicInfo. Returns the answer (8.6: `statusExpiresAt`)."""
        body = {"status": status, "message": message}
        body = {key: value for key, value in body.items() if value is not None}
        if not body:
            raise ValueError("set_status needs a status, a message or both")
        if expires_at is not None:
            body["expiresAt"] = iso_millis(expires_at)
        return await self.request("POST", "users.setStatus", credentials=credentials, json=body)


def iso_millis(moment: datetime) -> str:
    """A date as Rocket.Chat writes one: UTC, milliseconds, `Z` (2026-07-01T09:00:00.000Z)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _succeeded(answer: _Answer) -> bool:
    return (
        200 <= answer.status < 300
        and isinstance(answer.body, dict)
        and answer.body.get("success", True) is not False
    )


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return jsonlib.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        return None


def _member(answer: dict[str, Any], key: str, call: str) -> dict[str, Any]:
    value = answer.get(key)
    if not isinstance(value, dict):
        raise ServerError(
            f"{call} answered without a `{key}` object",
            status=200,
            error_type="invalid-response",
            endpoint=call.split(" ", 1)[-1],
        )
    return value


def _settings_list(answer: dict[str, Any]) -> list[dict[str, Any]]:
    settings = answer.get("settings")
    if not isinstance(settings, list):
        return []
    return [item for item in settings if isinstance(item, dict)]

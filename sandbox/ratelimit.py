"""Rocket.Chat's rate limiters: the REST one (api.ts) and Meteor's DDP/function limiters.

Both follow Meteor's `RateLimiter` (packages/rate-limit): a rule counts invocations per key
(REST: client IP + route + HTTP method), the counter is incremented before it is checked, a
call is refused once the count exceeds the limit, and every counter of a rule resets when the
rule's interval has passed since its last reset. Windows run on `state.clock()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sandbox import permissions
from sandbox.errors import MeteorError
from sandbox.state import SandboxState, to_ms
from sandbox.versions import ROUTE_LIMITS_REPLACE_FUNCTION_LIMITS

TOO_MANY = "error-too-many-requests"
# The REST limiter (api.ts) names the endpoint; Meteor's DDPRateLimiter and Rocket.Chat's
# RateLimiter.limitFunction (app/lib/server/lib/RateLimiter.js) do not.
REST_LIMIT_TEXT = (
    "Error, too many requests. Please slow down. You must wait {seconds} seconds before trying "
    "this endpoint again."
)
METHOD_LIMIT_TEXT = (
    "Error, too many requests. Please slow down. You must wait {seconds} seconds before trying "
    "again."
)


@dataclass
class Rule:
    """One Meteor rate-limit rule: a limit per interval, counters per key, one shared window."""

    limit: int
    interval_ms: int
    last_reset_ms: int
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What `RateLimiter.check` answers after an increment."""

    allowed: bool
    remaining: int
    time_to_reset_ms: int

    @property
    def seconds(self) -> int:
        return math.ceil(self.time_to_reset_ms / 1000)


def _rules(state: SandboxState, table: str) -> dict[str, Rule]:
    return state.runtime.setdefault(f"ratelimit:{table}", {})


def hit(
    state: SandboxState, table: str, rule_id: str, key: str, limit: int, interval_ms: int
) -> Verdict:
    """Count one invocation of `key` under a rule (created or resized on demand) and judge it."""
    now_ms = to_ms(state.clock())
    rules = _rules(state, table)
    rule = rules.get(rule_id)
    if rule is None or rule.limit != limit or rule.interval_ms != interval_ms:
        rule = rules[rule_id] = Rule(limit, interval_ms, now_ms)
    if now_ms - rule.last_reset_ms > rule.interval_ms:  # increment() resets a stale window
        rule.counters.clear()
        rule.last_reset_ms = now_ms
    rule.counters[key] = rule.counters.get(key, 0) + 1
    count = rule.counters[key]
    time_to_reset = rule.interval_ms - (now_ms - rule.last_reset_ms)
    if count > rule.limit:
        return Verdict(False, 0, time_to_reset)
    return Verdict(True, rule.limit - count, time_to_reset)


# Routes that declare their own `rateLimiterOptions` (setting ids for the count and the time).
_ROUTE_OPTIONS: dict[str, tuple[str, str]] = {
    "users.register": (
        "Rate_Limiter_Limit_RegisterUser",
        "API_Enable_Rate_Limiter_Limit_Time_Default",
    ),
}


# 8.x routes whose `rateLimiterOptions` are fixed numbers (PR #38354, which dropped the
# setStatusText/setEmail function limiters): (calls, interval in ms).
_FIXED_ROUTE_OPTIONS: dict[str, tuple[int, int]] = {
    "users.setStatus": (5, 60_000),
    "users.updateOwnBasicInfo": (1, 60_000),
}


def _route_limits(state: SandboxState, route_name: str) -> tuple[int, int]:
    fixed = _FIXED_ROUTE_OPTIONS.get(route_name)
    if fixed is not None and state.at_least(*ROUTE_LIMITS_REPLACE_FUNCTION_LIMITS):
        return fixed
    calls_id, time_id = _ROUTE_OPTIONS.get(
        route_name,
        (
            "API_Enable_Rate_Limiter_Limit_Calls_Default",
            "API_Enable_Rate_Limiter_Limit_Time_Default",
        ),
    )
    return _as_int(state.settings.get(calls_id)), _as_int(state.settings.get(time_id))


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def check_rest(
    state: SandboxState,
    *,
    route_name: str,
    http_method: str,
    client_address: str,
    user_id: str | None,
    headers_out: dict[str, str],
) -> None:
    """The REST limiter of api.ts `enforceRateLimit`: sets X-RateLimit-* in `headers_out` or
    raises the 429 error.

    Applies to /api/v1 routes while `API_Enable_Rate_Limiter` is true and the caller lacks
    `api-bypass-rate-limit`; keyed by client IP and route (`/api/v1/<name><method>`).
    """
    limit, interval_ms = _route_limits(state, route_name)
    if not limit or not interval_ms:  # shouldAddRateLimitToRoute: no rule at all
        return
    if state.settings.get("API_Enable_Rate_Limiter") is not True:
        return
    if user_id and permissions.has_permission(state, user_id, "api-bypass-rate-limit"):
        return
    route_key = f"/api/v1/{route_name}{http_method.lower()}"
    verdict = hit(
        state,
        "rest",
        route_key,
        f"IPAddr{client_address}route{route_key}",
        limit,
        interval_ms,
    )
    headers_out["X-RateLimit-Limit"] = str(limit)
    headers_out["X-RateLimit-Remaining"] = str(verdict.remaining)
    headers_out["X-RateLimit-Reset"] = str(to_ms(state.clock()) + verdict.time_to_reset_ms)
    if not verdict.allowed:
        raise MeteorError(
            TOO_MANY,
            REST_LIMIT_TEXT.format(seconds=verdict.seconds),
            {"timeToReset": verdict.time_to_reset_ms, "seconds": verdict.seconds},
        )


def check_ddp(
    state: SandboxState, key: str, limit: int, interval_ms: int, *, rule: str | None = None
) -> None:
    """A `DDPRateLimiter` rule (e.g. sendMessage 5/1000 ms per user): raise when exceeded.

    `key` identifies who is counted (e.g. "sendMessage:<uid>"); calls sharing `rule` (default:
    the key itself) share one window. Raises Meteor.Error('too-many-requests', ...) as Meteor's
    DDPRateLimiter does.
    """
    verdict = hit(state, "ddp", rule or key, key, limit, interval_ms)
    if not verdict.allowed:
        raise MeteorError(
            "too-many-requests",
            METHOD_LIMIT_TEXT.format(seconds=verdict.seconds),
            {"timeToReset": verdict.time_to_reset_ms},
        )


def check_function(state: SandboxState, name: str, key: str, limit: int, interval_ms: int) -> None:
    """`RateLimiter.limitFunction` (setStatusText 5/60 s, setEmail 1/60 s): raise when exceeded.

    The error is `error-too-many-requests` (REST maps it to a 429) with the method text, which
    does not say "this endpoint".
    """
    verdict = hit(state, "function", name, key, limit, interval_ms)
    if not verdict.allowed:
        raise MeteorError(
            TOO_MANY,
            METHOD_LIMIT_TEXT.format(seconds=verdict.seconds),
            {"timeToReset": verdict.time_to_reset_ms, "seconds": verdict.seconds},
        )


def limit_unless_privileged(
    state: SandboxState, name: str, user_id: str, limit: int, interval_ms: int
) -> None:
    """The limitFunction rules of setStatusText/setEmail: only callers lacking
    `edit-other-user-info` are counted (per user)."""
    if permissions.has_permission(state, user_id, "edit-other-user-info"):
        return
    check_function(state, name, f"0{user_id}", limit, interval_ms)

"""`python -m bench.load.server_log [sandbox options]`: the sandbox, with a log of REST calls.

The benchmark's sandbox runs through this module so that it can tell, per command, which REST
calls the target made for it: every call under `/api/` is noted as (arrival time, HTTP method,
endpoint, X-User-Id) and `GET /bench/requests` hands the notes over. The arrival time is
`time.perf_counter()`, which on Linux is CLOCK_MONOTONIC, the clock of the load generator's
timestamps too. Noting a call costs the server a few microseconds, the same for both targets.
From the notes the load generator counts, for instance, the `GET me` a command cost: a change
without one found the bot's profile snapshot warm (`attribute_calls`).

The sandbox itself is not changed: its `create_app` is wrapped before `python -m sandbox`'s own
`main` runs.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from aiohttp import web

LOG_PATH: Final = "/bench/requests"
MODULE: Final = "bench.load.server_log"

Call = tuple[float, str, str, str]  # (perf_counter at arrival, method, endpoint, user id)


def install(app: web.Application) -> None:
    """Note every REST call `app` receives and serve the notes at LOG_PATH."""
    calls: list[Call] = []

    @web.middleware
    async def note(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith("/api/"):
            endpoint = path.removeprefix("/api/v1/")
            calls.append(
                (
                    time.perf_counter(),
                    request.method,
                    endpoint,
                    request.headers.get("X-User-Id", ""),
                )
            )
        return await handler(request)

    async def hand_over(request: web.Request) -> web.StreamResponse:
        return web.json_response({"calls": calls})

    app.middlewares.append(note)
    app.router.add_get(LOG_PATH, hand_over)


async def fetch_calls(http: aiohttp.ClientSession, base_url: str) -> list[Call]:
    """Every REST call the sandbox at `base_url` has noted so far."""
    async with http.get(f"{base_url}{LOG_PATH}") as answer:
        body = await answer.json()
    return [(float(t), str(m), str(e), str(u)) for t, m, e, u in body["calls"]]


@dataclass(frozen=True)
class Window:
    """One command as the load generator saw it: whose, of which kind, sent and answered when."""

    user_id: str
    kind: str
    change: bool
    sent: float
    answered: float


def attribute_calls(calls: Iterable[Call], windows: Sequence[Window]) -> list[list[str]]:
    """For each window, the REST calls (`GET me`, `POST users.updateOwnBasicInfo`, ...) made
    with its person's credentials between its send and its answer. A person has one command in
    flight at a time, so a call falls in at most one of their windows."""
    by_user: dict[str, list[tuple[float, str]]] = {}
    for moment, method, endpoint, user_id in calls:
        by_user.setdefault(user_id, []).append((moment, f"{method} {endpoint}"))
    for noted in by_user.values():
        noted.sort()
    found: list[list[str]] = []
    for window in windows:
        noted = by_user.get(window.user_id, [])
        first = bisect.bisect_left(noted, (window.sent, ""))
        names = []
        for moment, name in noted[first:]:
            if moment > window.answered:
                break
            names.append(name)
        found.append(names)
    return found


def unattributed_calls(
    calls: Iterable[Call], windows: Sequence[Window], ignored: Iterable[str]
) -> dict[str, float]:
    """REST calls during the load made by no person (and not by the `ignored` accounts, such
    as the admin's visibility polls): the target's own, e.g. settings it reads. Per 1,000
    commands."""
    if not windows:
        return {}
    people = {window.user_id for window in windows} | set(ignored)
    start = min(window.sent for window in windows)
    end = max(window.answered for window in windows)
    counted: dict[str, int] = {}
    for moment, method, endpoint, user_id in calls:
        if start <= moment <= end and user_id not in people:
            name = f"{method} {endpoint}"
            counted[name] = counted.get(name, 0) + 1
    return {name: round(count * 1000 / len(windows), 2) for name, count in sorted(counted.items())}


def first_in_window_share(windows: Sequence[Window], window_seconds: float) -> float | None:
    """The share of changes sent more than `window_seconds` after their person's last answer
    (or as their first command): the changes no profile snapshot of that age can serve. A
    property of the workload and its pace, the same measure for both targets."""
    last_answer: dict[str, float] = {}
    changes = first = 0
    for window in sorted(windows, key=lambda one: one.sent):
        previous = last_answer.get(window.user_id)
        if window.change:
            changes += 1
            first += previous is None or window.sent - previous > window_seconds
        last_answer[window.user_id] = max(previous or window.answered, window.answered)
    return round(first / changes, 3) if changes else None


def call_summary(windows: Sequence[Window], calls: Sequence[list[str]]) -> dict[str, Any]:
    """REST calls per command by kind, and the share of changes that needed no `GET me`."""
    per_kind: dict[str, dict[str, Any]] = {}
    changes = warm = 0
    for window, names in zip(windows, calls, strict=True):
        entry = per_kind.setdefault(window.kind, {"commands": 0, "calls": {}})
        entry["commands"] += 1
        for name in names:
            entry["calls"][name] = entry["calls"].get(name, 0) + 1
        if window.change:
            changes += 1
            warm += "GET me" not in names
    for entry in per_kind.values():
        entry["calls_per_command"] = {
            name: round(count / entry["commands"], 3)
            for name, count in sorted(entry["calls"].items())
        }
        del entry["calls"]
    return {
        "changes": changes,
        "changes_without_a_read": warm,
        "warm_share": round(warm / changes, 3) if changes else None,
        "per_kind": dict(sorted(per_kind.items())),
    }


def main() -> None:
    """Run `python -m sandbox` with the log installed."""
    import sandbox.server
    from sandbox.__main__ import main as sandbox_main

    create_app = sandbox.server.create_app

    def create_logged_app(state: Any) -> web.Application:
        app = create_app(state)
        install(app)
        return app

    sandbox.server.create_app = create_logged_app  # type: ignore[assignment]
    sandbox_main()


if __name__ == "__main__":
    main()

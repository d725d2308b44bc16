"""Rocket.Chat 8.6's status-expiration job, on the sandbox's clock.

Presence.ts keeps one timer armed for the soonest `statusExpiresAt` of any user
(`setupNextExpiration`, re-armed after every claim; PR #41047 made the re-arming race-free and
#41153 moved it onto @rocket.chat/cron's `addAtTimestamp`), and runs
`processExpiredStatuses` once at start-up. The job ends every claim whose expiry has come.

Here the same job runs two ways: an asyncio task sleeps until the soonest expiry as real time
passes (for the demo), and moving the sandbox clock forward (`state.advance_clock`,
`POST /sandbox/clock`) runs it at once, so tests never sleep. Under 7.x nothing is armed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sandbox import presence_engine
from sandbox.state import SandboxState
from sandbox.versions import PRESENCE_ENGINE

log = logging.getLogger("sandbox.status_expiry")
# Presence.ts re-arms after a capped wait (Node timers stop at 2^31-1 ms); the sandbox re-plans
# at least once a minute, which also notices a clock offset changed behind its back.
MAX_WAIT_SECONDS = 60.0


def run_due(state: SandboxState) -> int:
    """Run the job now for whatever has come due (a clock watcher)."""
    if not state.at_least(*PRESENCE_ENGINE):
        return 0
    return presence_engine.process_expired(state)


def _run_safely(state: SandboxState) -> None:
    try:
        run_due(state)
    except Exception:  # a bug in one expiry must not stop the job
        log.exception("status expiration job failed")


async def _timer(state: SandboxState, wakeup: asyncio.Event) -> None:
    while True:
        due = presence_engine.next_expiry(state)
        wait = MAX_WAIT_SECONDS
        if due is not None:
            wait = min(wait, max(0.0, (due - state.clock()).total_seconds()))
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await wakeup.wait()
        _run_safely(state)


@contextlib.asynccontextmanager
async def running(state: SandboxState) -> AsyncIterator[None]:
    """Arm the job for the lifetime of a served sandbox (only under 8.6+)."""
    if not state.at_least(*PRESENCE_ENGINE):
        yield
        return
    wakeup = asyncio.Event()
    state.runtime[presence_engine.WAKEUP_KEY] = wakeup.set

    def on_clock_moved() -> None:
        run_due(state)

    state.clock_watchers.append(on_clock_moved)
    _run_safely(state)  # Presence.started(): handleExpirationJob() before serving
    task = asyncio.create_task(_timer(state, wakeup))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if on_clock_moved in state.clock_watchers:
            state.clock_watchers.remove(on_clock_moved)
        state.runtime.pop(presence_engine.WAKEUP_KEY, None)

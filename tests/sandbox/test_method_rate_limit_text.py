"""A method's rate limiter says "before trying again."; only the REST limiter names the endpoint.

Rocket.Chat: apps/meteor/app/lib/server/lib/RateLimiter.js (`limitFunction`, which guards
setEmail and setStatusText) throws Meteor.Error('error-too-many-requests', "Error, too many
requests. Please slow down. You must wait N seconds before trying again.", {timeToReset,
seconds}); "…before trying this endpoint again." is api.ts's own REST limiter text.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import ratelimit
from sandbox.digests import sha256_hex
from sandbox.errors import MeteorError
from sandbox.state import SandboxState
from tests.ddp_client import Realtime
from tests.rest_helpers import sandbox_call
from tests.sandbox.conftest import World

METHOD_TEXT = (
    "Error, too many requests. Please slow down. You must wait 60 seconds before trying again."
)


def email_change(address: str) -> dict[str, Any]:
    return {"data": {"email": address, "currentPassword": sha256_hex("pass-word-1")}}


async def test_a_second_email_change_within_a_minute_gets_the_method_text(world: World) -> None:
    alice = world.add_user("alice", verified=True)
    world.user(alice)["services"]["email2fa"]["enabled"] = False  # password fallback applies
    first = await world.call(
        "POST", "users.updateOwnBasicInfo", auth=alice.auth, json=email_change("a1@example.com")
    )
    assert first.status == 200, first.body
    second = await world.call(
        "POST", "users.updateOwnBasicInfo", auth=alice.auth, json=email_change("a2@example.com")
    )
    assert second.status == 429
    assert second.body == {"success": False, "error": f"{METHOD_TEXT} [error-too-many-requests]"}


def test_the_function_limiter_error_has_seconds_and_no_endpoint() -> None:
    state = SandboxState()
    state.users["u"] = {"_id": "u", "roles": ["user"]}
    ratelimit.limit_unless_privileged(state, "setEmail", "u", 1, 60_000)
    with pytest.raises(MeteorError) as raised:
        ratelimit.limit_unless_privileged(state, "setEmail", "u", 1, 60_000)
    assert raised.value.error == "error-too-many-requests"
    assert raised.value.reason == METHOD_TEXT
    details = raised.value.details
    assert set(details) == {"timeToReset", "seconds"} and details["seconds"] == 60
    assert 59_000 < details["timeToReset"] <= 60_000


async def test_an_injected_method_limit_fault_reads_like_limit_function(
    realtime: Realtime,
) -> None:
    """A DDP fault of error-too-many-requests mimics limitFunction: method text, `seconds`."""
    alice = await realtime.user("alice")
    fault = {
        "method": "getUserRoles",
        "error": "error-too-many-requests",
        "count": 1,
        "reset_ms": 1500,
    }
    await sandbox_call(realtime.url, "POST", "/sandbox/faults", fault)
    async with realtime.ddp(alice) as client:
        frame = await client.call("getUserRoles")
    text = METHOD_TEXT.replace("60", "2")
    assert frame["error"]["reason"] == text
    assert frame["error"]["details"] == {"timeToReset": 1500, "seconds": 2}

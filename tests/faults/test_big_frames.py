"""A message too big for the websocket frame limit of the websockets library (1 MiB): the
sender is told, and the bot goes through no reconnect storm (every re-sent frame of such a
message closed the socket, and each catch-up met it again)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from sandbox.state import SandboxState
from tests.faults.conftest import FaultWorld, count, settle

BIG = 1_500_000  # characters: a frame well over 1 MiB


def reconnects() -> float:
    return REGISTRY.get_sample_value("rcbot_reconnects_total") or 0.0


def allow_big_messages(world: FaultWorld) -> None:
    """An admin raised Message_MaxAllowedSize (Administration → Message) far above its 5000."""
    state = world.sandbox.state
    assert isinstance(state, SandboxState)
    state.settings["Message_MaxAllowedSize"] = 3 * BIG


async def test_a_huge_command_is_answered_too_long_without_a_reconnect(
    fault_world: FaultWorld,
) -> None:
    allow_big_messages(fault_world)
    await fault_world.start_bot()
    alice = await fault_world.person("alice")
    await alice.delegate()
    before = reconnects()
    answer = await alice.ask("/bio " + "x" * BIG, "too long")
    assert f"{BIG + 5:,} characters" in answer
    # A reaction re-sends the whole message to every listener: still no reconnect.
    dm = await alice.dm()
    history = await alice.rest("GET", "im.history", params={"roomId": dm, "count": "5"})
    big = next(m for m in history["messages"] if len(m["msg"]) > BIG)
    await alice.rest("POST", "chat.react", json={"messageId": big["_id"], "emoji": "eyes"})
    assert "“Still”" in await alice.ask("/nick Still", "Nickname set")
    await settle()
    assert reconnects() == before
    assert count(await alice.answers(), "too long") == 1

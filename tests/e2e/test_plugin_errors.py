"""A command installed by another package answers its own errors first (`@spec.error`); what it
leaves alone is worded by the bot, as for every built-in command.

The plugin is a real installed distribution (a `*.dist-info` with an `rcbot.commands` entry
point on sys.path), found by the same discovery as any third-party package.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import World, ask_bot, running_world

PLUGIN = '''
    """A third-party command that knows some of its own failures."""

    from bot.framework.registry import command


    class UnknownPlace(LookupError):
        """No forecast for this place."""


    @command("forecast", help="Tell the weather somewhere.", usage="<place>")
    async def forecast(ctx, /, *, place: str) -> str:
        if place == "atlantis":
            raise UnknownPlace(place)
        if place == "mordor":
            raise RuntimeError("the forecast service fell over")
        if place == "r'lyeh":
            raise ValueError(place)
        return f"Sunny in {place}."


    @forecast.error
    async def explain(ctx, error):
        if isinstance(error, UnknownPlace):
            return f"I have no forecast for {error}, {ctx.sender_username}."
        if isinstance(error, ValueError):
            raise KeyError("the error handler has a bug of its own")
        return None  # everything else: the bot's own sentence
'''


def install_plugin(site: Path) -> None:
    """Write the plugin module and its distribution metadata where importlib finds them."""
    site.mkdir()
    (site / "rcbot_forecast.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "rcbot_forecast-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rcbot-forecast\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rcbot.commands]\nforecast = rcbot_forecast\n")


@pytest.fixture
async def plugin_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    async with running_world(tmp_path) as world:
        yield world


async def test_a_plugin_answers_its_own_errors_first(plugin_world: World) -> None:
    alice = await plugin_world.person("alice")
    assert await ask_bot(alice, "/forecast Lisbon") == "Sunny in Lisbon."
    assert await ask_bot(alice, "/forecast atlantis") == "I have no forecast for atlantis, alice."


async def test_what_a_plugin_leaves_alone_is_worded_by_the_bot(plugin_world: World) -> None:
    bob = await plugin_world.person("bob")
    answer = await ask_bot(bob, "/forecast mordor")
    assert answer == (
        "Sorry, something went wrong on my side while running /forecast. It has been logged."
    )
    assert "fell over" not in answer  # the exception's own text never reaches the person
    usage = await ask_bot(bob, "/forecast")
    assert "Usage: `/forecast <place>`" in usage


async def test_a_broken_error_handler_still_gets_the_person_an_answer(
    plugin_world: World,
) -> None:
    carol = await plugin_world.person("carol")
    answer = await ask_bot(carol, "/forecast r'lyeh")
    assert answer == (
        "Sorry, something went wrong on my side while running /forecast. It has been logged."
    )
    assert await ask_bot(carol, "/forecast Oslo") == "Sunny in Oslo."  # the queue goes on

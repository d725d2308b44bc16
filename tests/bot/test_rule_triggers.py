"""Trigger kinds (bot.automation.triggers): each kind says which keys it takes, a table naming
no kind (or two) says how to write one, and a misspelt kind is pointed out."""

from __future__ import annotations

from typing import Any

import pytest

from bot.automation.triggers import KINDS, TRIGGERS, Trigger
from tests.bot.test_rules_model import problems_of, rule


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            {"schedule": "0 9 * * *", "rooms": ["team"]},
            "unknown field “trigger.rooms” (a schedule trigger takes schedule, timezone)",
        ),
        (
            {"message": "^lunch$", "rooms": ["general"], "timezone": "UTC"},
            "unknown field “trigger.timezone” (a message trigger takes message, rooms)",
        ),
        (
            {"schedule": "0 9 * * *", "timezon": "UTC"},
            "unknown field “trigger.timezon”; did you mean timezone?",
        ),
        ({"schedule": "0 9 * * *", "message": "x", "rooms": ["a"]}, "trigger: give either"),
        ("lunch", "trigger: give either schedule"),
        ({"shedule": "0 9 * * *"}, "(did you mean schedule instead of shedule?)"),
    ],
)
def test_a_trigger_of_no_single_kind_says_how_to_write_one(trigger: Any, expected: str) -> None:
    (problem,) = problems_of(rule(trigger=trigger))
    assert problem.startswith("rule “evening-away”: ")
    assert expected in problem


def test_every_kind_is_named_by_its_own_key_and_speaks_the_protocol() -> None:
    assert set(TRIGGERS) == {kind.kind for kind in KINDS} == {"schedule", "message"}
    samples: list[Trigger] = [
        TRIGGERS["schedule"].model_validate({"schedule": "0 9 * * *"}),  # type: ignore[list-item]
        TRIGGERS["message"].model_validate({"message": "x", "rooms": "general"}),  # type: ignore[list-item]
    ]
    for trigger in samples:
        assert trigger.kind in trigger.fields_help  # type: ignore[attr-defined]
        assert trigger.describe()
    schedule, message = samples
    assert schedule.rooms == () and not schedule.watches("general")
    assert message.rooms == ("general",) and message.watches("General")

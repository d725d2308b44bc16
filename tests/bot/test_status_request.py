"""The grammar of `/status` with presets: the first word decides, quotes keep a text a text."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from bot.core.errors import UsageError
from bot.core.values import Duration, Expiry, StatusType
from bot.framework.converters import StatusLine
from commands._status_request import (
    DeletePreset,
    ListPresets,
    PickNumber,
    SavePreset,
    SetStatus,
    StatusRequest,
    UsePreset,
)

HOUR = Expiry(duration=Duration(hours=1))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2", PickNumber(2)),
        ("  2  for 1h ", PickNumber(2, HOUR)),
        ("12 until 17:30", PickNumber(12, Expiry(until=time(17, 30)))),
        ("presets", ListPresets()),
        ("PRESETS", ListPresets()),
        ("use lunch", UsePreset("lunch")),
        ("Use Lunch for 1h", UsePreset("Lunch", HOUR)),
        ("save lunch", SavePreset("lunch")),
        ("save lunch until 5pm", SavePreset("lunch", Expiry(until=time(17, 0)))),
        ("delete lunch", DeletePreset("lunch")),
        # Everything else is a status, as before presets.
        ("lunch", SetStatus(StatusLine(None, "lunch"))),
        ("away At lunch for 1h", SetStatus(StatusLine(StatusType.AWAY, "At lunch", HOUR))),
        ('"2"', SetStatus(StatusLine(None, "2"))),
        ('"use the stairs"', SetStatus(StatusLine(None, "use the stairs"))),
        ('"presets"', SetStatus(StatusLine(None, "presets"))),
        ("user research", SetStatus(StatusLine(None, "user research"))),
        ("2nd floor", SetStatus(StatusLine(None, "2nd floor"))),
        ("clear", SetStatus(StatusLine(None, ""))),
    ],
)
def test_a_status_line_is_read_by_its_first_word(raw: str, expected: StatusRequest) -> None:
    assert StatusRequest.convert(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2 meetings left", 'put it in quotes: `/status "3 meetings left"`'),
        ("123456", "picks that number of the list"),
        ("use the stairs", "A preset's name is one word. To set a status text that starts"),
        ("save", "Tell me the preset's name: `/status save NAME`"),
        ("use for 1h", "Tell me the preset's name: `/status use NAME`"),
        ("delete lunch now", "A preset's name is one word"),
        ("delete lunch for 1h", "A preset's name is one word"),
        ("presets please", "starts with “presets”, put it in quotes"),
        ("2 for 1x", "is not a unit I know"),
    ],
)
def test_a_line_that_only_looks_like_a_preset_command_says_how_to_write_it(
    raw: str, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        StatusRequest.convert(raw)
    assert message in str(caught.value)


def test_a_long_number_is_never_repeated() -> None:
    with pytest.raises(UsageError) as caught:
        StatusRequest.convert("482913 for 1h")
    assert "482913" not in str(caught.value)


def test_a_picked_duration_is_the_one_given() -> None:
    request = StatusRequest.convert("3 for 1h30m")
    assert isinstance(request, PickNumber) and request.expiry is not None
    assert request.expiry.duration == timedelta(minutes=90)

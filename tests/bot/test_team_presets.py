"""Team status presets in the configuration: parsing, every problem named by its preset, and
`rcbot check`."""

from __future__ import annotations

import contextlib
import os
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from bot.app import cli
from bot.app.config import load_settings
from bot.app.init_config import example_text
from bot.core.errors import ConfigError
from bot.core.values import Expiry, StatusType
from bot.profile.presets import StatusChoice
from bot.profile.team_presets import PresetProblems, TeamPreset, parse_presets


def preset(**overrides: Any) -> dict[str, Any]:
    return {"name": "lunch", "presence": "away", "text": "At lunch", "for": "1h", **overrides}


def problems_of(*presets: Any) -> list[str]:
    with pytest.raises(PresetProblems) as caught:
        parse_presets(list(presets))
    return caught.value.problems


def test_presets_are_read_with_their_presence_text_and_time() -> None:
    lunch, focus, plain, clocked = parse_presets(
        [
            preset(presence="Away"),
            {"name": "focus", "presence": "busy", "text": " Focusing ", "until": "5pm"},
            {"name": "Büro", "presence": "online", "text": "In the office"},
            {"name": "early", "presence": "offline", "text": "Gone", "until": time(15, 30, 59)},
        ]
    )
    assert lunch.preset.choice == StatusChoice(
        StatusType.AWAY, "At lunch", Expiry(duration=timedelta(hours=1))
    )
    assert lunch.preset.team and lunch.preset.name == "lunch"
    assert focus.preset.choice == StatusChoice(
        StatusType.BUSY, "Focusing", Expiry(until=time(17, 0))
    )
    assert plain.preset.choice == StatusChoice(StatusType.ONLINE, "In the office")
    assert clocked.until == time(15, 30)  # a TOML time of day, to the minute
    assert lunch.describe() == "lunch: away: At lunch (for 1h)"
    assert focus.describe() == "focus: busy: Focusing (until 17:00)"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"presence": "sleepy"}, "presence: “sleepy” is not a presence"),
        ({"text": "  "}, "text: is empty"),
        ({"text": "x" * 121}, "text: Your status text is 121 characters long"),
        ({"for": "2x"}, "for: “x” in “2x” is not a unit"),
        ({"for": "10d10d10d10d"}, "for: “10d10d10d10d” is too long"),
        ({"for": 3600}, 'for: write the duration as text, e.g. for = "1h"'),
        ({"until": "25:00"}, "until: “25:00” is not a time of day"),
        ({"until": "17:00"}, 'give for = "1h" or until = "17:30", not both'),
        ({"txt": "At lunch"}, "unknown field “txt”; did you mean text?"),
        ({"name": "lunch break"}, "is not a usable preset name"),
        ({"name": "2go"}, "is not a usable preset name"),
    ],
)
def test_each_problem_names_the_preset_and_says_how_to_fix_it(
    changes: dict[str, Any], expected: str
) -> None:
    problems = problems_of(preset(**changes))
    name = changes.get("name", "lunch")
    assert any(p.startswith(f"preset “{name}”") and expected in p for p in problems), problems


def test_all_problems_are_reported_at_once() -> None:
    problems = problems_of(
        preset(presence="sleepy"),
        {"presence": "busy", "text": "Focusing"},
        "not a table",
        preset(name="LUNCH"),  # the first one's name, in other letters
    )
    assert [p.split(":")[0] for p in problems] == [
        "preset “lunch”",
        "preset #2",
        "preset #3",
        "preset “LUNCH” (#4)",
    ]
    assert "name is missing" in problems[1]
    assert "used twice" in problems[-1]


def test_too_many_presets_are_refused() -> None:
    (problem,) = problems_of(*(preset(name=f"p{n}") for n in range(21)))
    assert problem == "there are 21 presets; at most 20 fit in people's lists"


@given(
    st.dictionaries(st.sampled_from(["name", "presence", "text", "for", "until", "x"]), st.text())
)
def test_no_table_crashes_the_parser(raw: dict[str, Any]) -> None:
    with contextlib.suppress(PresetProblems):
        for parsed in parse_presets([raw]):
            assert isinstance(parsed, TeamPreset)


def test_presets_come_from_the_settings_with_other_problems() -> None:
    key = Fernet.generate_key().decode()
    common = {"server_url": "http://x", "username": "u", "password": "p", "secret_key": key}
    settings = load_settings(use_environment=False, **common)
    assert settings.presets == []
    settings = load_settings(use_environment=False, presets=[preset()], **common)
    assert [p.name for p in settings.presets] == ["lunch"]
    with pytest.raises(ConfigError) as caught:
        load_settings(
            use_environment=False,
            presets=[preset(presence="sleepy")],
            default_timezone="Nowhere/Land",
            **common,
        )
    text = str(caught.value)
    assert "presets (RCBOT_PRESETS): 1 problem in the presets" in text
    assert "preset “lunch”: presence: “sleepy” is not a presence" in text
    assert "default_timezone (RCBOT_DEFAULT_TIMEZONE): “Nowhere/Land”" in text


def test_presets_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("RCBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv(
        "RCBOT_PRESETS", '[{"name": "focus", "presence": "busy", "text": "Focusing"}]'
    )
    key = Fernet.generate_key().decode()
    settings = load_settings(server_url="http://x", username="u", password="p", secret_key=key)
    assert [p.describe() for p in settings.presets] == ["focus: busy: Focusing"]


BAD_PRESETS_TOML = """
server_url = "https://chat.example.com"
username = "profilebot"
password = "pw-pw-pw-pw"

[[presets]]
name = "lunch"
presence = "away"
text = "At lunch"
for = "1hr30"

[[presets]]
name = "focus"
presense = "busy"
text = "Focusing"
until = 17:00:00
"""


def test_rcbot_check_names_each_bad_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.upper().startswith("RCBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RCBOT_SECRET_KEY", Fernet.generate_key().decode())
    config = tmp_path / "bot.toml"
    config.write_text(BAD_PRESETS_TOML, encoding="utf-8")

    assert cli.main(["check", "-c", str(config), "--set", f"db={tmp_path / 'x.db'}"]) == 2

    err = capsys.readouterr().err
    assert "preset “lunch”: for: “1hr30” is not a duration" in err
    assert "preset “focus”: unknown field “presense”; did you mean presence?" in err
    assert "preset “focus”: presence is missing" in err

    config.write_text(
        BAD_PRESETS_TOML.replace("1hr30", "1h30m").replace("presense", "presence"),
        encoding="utf-8",
    )
    assert cli.main(["check", "-c", str(config), "--set", f"db={tmp_path / 'x.db'}"]) == 0
    out = capsys.readouterr().out
    assert "presets: 2" in out
    assert "lunch: away: At lunch (for 1h 30m)" in out
    assert "focus: busy: Focusing (until 17:00)" in out


def test_the_example_presets_can_be_uncommented_where_they_are(tmp_path: Path) -> None:
    text = example_text()
    start, end = text.index("# [[presets]]"), text.index("# [[rules]]")
    keys = ("[[presets]]", "name =", "presence =", "text =", "for =", "until =")
    lines = [
        line.removeprefix("# ") if line.removeprefix("# ").startswith(keys) else line
        for line in text[start:end].splitlines()
    ]
    config = tmp_path / "bot.toml"
    config.write_text(text[:start] + "\n".join(lines) + "\n" + text[end:], encoding="utf-8")
    key = Fernet.generate_key().decode()
    settings = load_settings(
        config, use_environment=False, username="u", password="p", secret_key=key
    )
    assert [p.describe() for p in settings.presets] == [
        "lunch: away: At lunch (for 1h)",
        "focus: busy: Focus time: urgent things only (until 17:00)",
    ]

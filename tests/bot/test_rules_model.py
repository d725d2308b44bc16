"""Rules in the configuration: parsing, every problem named by its rule, and `rcbot check`."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from bot.app import cli
from bot.app.config import load_settings
from bot.automation.model import Rule, RuleProblems, parse_rules
from bot.core.errors import ConfigError
from bot.core.values import StatusType


def rule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "evening-away",
        "trigger": {"schedule": "0 18 * * 1-5", "timezone": "Europe/Berlin"},
        "users": {"usernames": ["alice"]},
        "change": {"status": "away", "status_text": "Off for the day", "for": "14h"},
    }
    return {**base, **overrides}


def problems_of(*rules: dict[str, Any]) -> list[str]:
    with pytest.raises(RuleProblems) as caught:
        parse_rules(list(rules))
    return caught.value.problems


def test_a_schedule_rule_is_read_with_its_zone_and_change() -> None:
    (parsed,) = parse_rules([rule()])
    assert parsed.trigger.kind == "schedule"
    assert parsed.change.fields() == {
        "presence": "away",
        "status_text": "Off for the day",
    }
    assert parsed.change.duration == timedelta(hours=14)
    monday_morning = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert parsed.trigger.next_fire(monday_morning, UTC) == datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    friday_evening = datetime(2026, 1, 9, 18, 0, tzinfo=UTC)
    assert parsed.trigger.next_fire(friday_evening, UTC) == datetime(
        2026, 1, 12, 17, 0, tzinfo=UTC
    )


def test_a_schedule_without_a_zone_uses_the_default() -> None:
    (parsed,) = parse_rules([rule(trigger={"schedule": "0 9 * * *"})])
    now = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert parsed.trigger.next_fire(now, ZoneInfo("Asia/Tokyo")) == datetime(
        2026, 1, 5, 0, 0, tzinfo=UTC
    ) + timedelta(days=1)
    assert parsed.trigger.next_fire(now, UTC) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_schedules_follow_daylight_saving_time() -> None:
    (parsed,) = parse_rules([rule()])
    before = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Friday before the switch to CEST
    assert parsed.trigger.next_fire(before, UTC) == datetime(2026, 3, 27, 17, 0, tzinfo=UTC)
    after = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)  # the Monday after
    assert parsed.trigger.next_fire(after, UTC) == datetime(2026, 3, 30, 16, 0, tzinfo=UTC)


async def test_a_message_rule_matches_its_rooms_only() -> None:
    (parsed,) = parse_rules(
        [
            rule(
                name="lunch",
                trigger={"message": "^(lunch|brb)$", "rooms": ["#General", "team"]},
                users="opted-in",
            )
        ]
    )
    assert parsed.users.opted_in
    assert await parsed.trigger.matches("general", "lunch")
    assert await parsed.trigger.matches("team", "brb")
    assert not await parsed.trigger.matches("random", "lunch")
    assert not await parsed.trigger.matches("general", "lunch time")
    assert not await parsed.trigger.matches(None, "lunch")


def test_users_shorthands() -> None:
    listed, room, joined = parse_rules(
        [
            rule(name="a", users=["@alice", "Bob"]),
            rule(name="b", users="#team"),
            rule(name="c", users={"opted_in": True}),
        ]
    )
    assert listed.users.usernames == ("alice", "Bob") and listed.users.includes_username("bob")
    assert room.users.room == "team"
    assert joined.users.opted_in


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"trigger": {"schedule": "0 25 * * *"}}, "trigger.schedule: “0 25 * * *” is not a valid"),
        ({"trigger": {"schedule": "0 18 * * * *"}}, "has 6 fields, not five"),
        ({"trigger": {"schedule": "every day"}}, "has 2 fields, not five"),
        ({"trigger": {"schedule": "0 0 31 2 *"}}, "never happens"),
        (
            {"trigger": {"schedule": "0 18 * * *", "timezone": "Mars/Olympus"}},
            "“Mars/Olympus” is not a time zone I know",
        ),
        (
            {"trigger": {"message": "(lunch", "rooms": ["general"]}},
            "“(lunch” is not a valid regular expression",
        ),
        ({"trigger": {"message": "^lunch$"}}, "a message trigger needs rooms"),
        ({"trigger": {}}, "give either schedule"),
        ({"change": {"stauts": "away"}}, "unknown field “change.stauts”; did you mean status?"),
        ({"change": {"name": "Alice"}}, "unknown field “change.name”"),
        ({"change": {"status": "sleepy"}}, "“sleepy” is not a presence"),
        ({"change": {"status": "away", "for": "2x"}}, "change.for: “x” in “2x” is not a unit"),
        ({"change": {"for": "1h"}}, "give at least one of status"),
        ({"change": {"bio": "x" * 261}}, "change.bio: Your bio is 261 characters long"),
        ({"users": {}}, "give exactly one of usernames"),
        ({"users": {"usernames": ["a"], "room": "team"}}, "give exactly one of usernames"),
        ({"name": "evening away"}, "is not a usable rule name"),
        ({"when": "now"}, "unknown field “when”"),
    ],
)
def test_each_problem_names_the_rule_and_says_how_to_fix_it(
    changes: dict[str, Any], expected: str
) -> None:
    problems = problems_of(rule(**changes))
    name = changes.get("name", "evening-away")
    assert any(p.startswith(f"rule “{name}”") and expected in p for p in problems), problems


def test_all_problems_are_reported_at_once() -> None:
    problems = problems_of(
        rule(trigger={"schedule": "0 25 * * *"}),
        rule(name="lunch", change={"status": "sleepy"}),
        "not a table",  # type: ignore[arg-type]
        rule(),  # a second evening-away
    )
    assert [p.split(":")[0] for p in problems] == [
        "rule “evening-away”",
        "rule “lunch”",
        "rule #3",
        "rule “evening-away” (#4)",
    ]
    assert "used twice" in problems[-1]


cron_fields = st.tuples(
    st.integers(0, 59), st.integers(0, 23), st.sampled_from(["*", "1-5", "0,6", "*/2"])
)


@given(fields=cron_fields, zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Auckland"]))
def test_any_valid_schedule_fires_after_now_at_its_minute(
    fields: tuple[int, int, str], zone: str
) -> None:
    minute, hour, weekdays = fields
    (parsed,) = parse_rules(
        [rule(trigger={"schedule": f"{minute} {hour} * * {weekdays}", "timezone": zone})]
    )
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    fire = parsed.trigger.next_fire(now, UTC)
    assert now < fire <= now + timedelta(days=8)
    assert fire.astimezone(ZoneInfo(zone)).minute == minute


@given(st.dictionaries(st.sampled_from(["name", "trigger", "users", "change", "x"]), st.text()))
def test_no_table_crashes_the_parser(raw: dict[str, Any]) -> None:
    with contextlib.suppress(RuleProblems):
        for parsed in parse_rules([raw]):
            assert isinstance(parsed, Rule)


def test_rules_come_from_the_settings_with_other_problems(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    common = {"server_url": "http://x", "username": "u", "password": "p", "secret_key": key}
    settings = load_settings(use_environment=False, rules=[rule()], **common)
    assert [r.name for r in settings.rules] == ["evening-away"]
    assert settings.rules[0].change.status is StatusType.AWAY
    with pytest.raises(ConfigError) as caught:
        load_settings(
            use_environment=False,
            rules=[rule(trigger={"schedule": "0 25 * * *"})],
            default_timezone="Nowhere/Land",
            **common,
        )
    text = str(caught.value)
    assert "rules (RCBOT_RULES): 1 problem in the rules" in text
    assert "rule “evening-away”: trigger.schedule" in text
    assert "default_timezone (RCBOT_DEFAULT_TIMEZONE): “Nowhere/Land”" in text


BAD_RULES_TOML = """
server_url = "https://chat.example.com"
username = "profilebot"
password = "pw-pw-pw-pw"

[[rules]]
name = "evening-away"
trigger = { schedule = "0 18 * * 1-5", timezone = "Europe/Berln" }
users = { room = "team" }
change = { status = "away" }

[[rules]]
name = "lunch"
trigger = { message = "^(lunch|brb$", rooms = ["general"] }
users = { opted_in = true }
change = { stauts = "away", for = "1h" }
"""


def test_rcbot_check_names_each_bad_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(__import__("os").environ):
        if name.upper().startswith("RCBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RCBOT_SECRET_KEY", Fernet.generate_key().decode())
    config = tmp_path / "bot.toml"
    config.write_text(BAD_RULES_TOML, encoding="utf-8")

    assert cli.main(["check", "-c", str(config), "--set", f"db={tmp_path / 'x.db'}"]) == 2

    err = capsys.readouterr().err
    assert "rule “evening-away”: trigger.timezone: “Europe/Berln” is not a time zone" in err
    assert "rule “lunch”: trigger.message: “^(lunch|brb$” is not a valid regular" in err
    assert "rule “lunch”: unknown field “change.stauts”; did you mean status?" in err

    config.write_text(
        BAD_RULES_TOML.replace("Berln", "Berlin")
        .replace("|brb$", "|brb)$")
        .replace("stauts", "status"),
        encoding="utf-8",
    )
    assert cli.main(["check", "-c", str(config), "--set", f"db={tmp_path / 'x.db'}"]) == 0
    out = capsys.readouterr().out
    assert "rules: 2" in out and "evening-away: status away" in out

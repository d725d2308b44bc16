"""Input: the parser, every command's binding, every argument converter and the conversation
answers are fuzzed (hypothesis). No input crashes the bot, and nothing reaches Rocket.Chat
unchecked: every value the bot sends already satisfies Rocket.Chat's rules.

The pure properties run on the functions; the end-to-end ones send the generated text as a
person would, to a bot that talks to the sandbox through a recording proxy, and check the bot's
answers, its log and every request it made.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.core import values
from bot.core.errors import UserError
from bot.core.fields import NAME_FORBIDDEN, check_display_name, js_length
from bot.core.message import reply_id
from bot.core.values import Expiry, StatusType
from bot.flows.sensitive import rules as sensitive
from bot.framework import converters
from bot.framework.converters import StatusLine
from bot.framework.flood import FloodGate, readable_head, screen_text
from bot.framework.parser import parse_command
from bot.framework.registry import Registry
from sandbox.people import Person
from tests.e2e.conftest import BOT_NAME, delegate
from tests.security.conftest import (
    RecordingProxy,
    SecurityWorld,
    from_bot,
    grant,
    security_world,
)

REGISTRY = Registry.load()
NAMES = sorted({name for spec in REGISTRY.commands() for name in (spec.name, *spec.aliases)})
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]")
# Whatever a person might type: words the grammar reacts to, values at and over the limits,
# markup, quotes of every kind, invisible characters; and, separately, characters no keyboard
# types (the dispatcher refuses those before anything else sees the text).
VOCABULARY = [
    *("online", "away", "busy", "offline", "Away", "clear", "CLEAR", "for", "until", "set"),
    *("status", "forget", "on", "off", "yes", "no", "cancel", "resend", "team", "location"),
    *("1h", "30m", "0m", "1.5h", "99999999999999d", "2w3d", "1h30m", "17:30", "25:99", "5pm"),
    *("13pm", "@bob", "@alice", "#general", ":smile:", "nope-field", "alice2", "admin", "a@b.c"),
    *("not-an-email", "<b>", "%", "%zz", "/", "\\", '"', "'", "“", "”", "„", "`", "\n", "\t"),
    *("\u00a0", "\u3000", "\u202e", "\u200d", "-", "--x", "a" * 43, "gAAAAA" + "b" * 60),
]
UNREADABLE = ["\x00", "\x1b[2J", "\x7f", "\x85", "\ud800", "\udfff"]
WORDS = st.sampled_from(VOCABULARY)
# Runs around the limits (120 for nickname and status text, 260 for bio, 30/50 for fields).
LONG = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["x", "ü", "🙂", "a b ", '"', "\\", "%", "<"]),
    st.integers(min_value=25, max_value=300),
)
REST = st.one_of(
    st.text(max_size=300),
    LONG,
    st.lists(st.one_of(WORDS, LONG), max_size=8).map(" ".join),
    st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=6).map("".join),
)
COMMAND_TEXT = st.builds(
    lambda prefix, name, rest: f"{prefix}{name} {rest}",
    st.sampled_from(["/", "!", ""]),
    st.sampled_from(NAMES),
    REST,
)
WITH_UNREADABLE = st.builds(
    lambda text, bad, at: text[:at] + bad + text[at:],
    COMMAND_TEXT,
    st.sampled_from(UNREADABLE),
    st.integers(min_value=0, max_value=40),
)
ANY_TEXT = st.one_of(COMMAND_TEXT, REST, WITH_UNREADABLE)


def readable(text: str) -> bool:
    """What the dispatcher lets through to parsing, binding and conversations."""
    return screen_text(text, max_length=None) is None


# -- the parser and every command's binding ----------------------------------------------------


@given(text=ANY_TEXT, direct=st.booleans())
def test_no_text_crashes_the_parser(text: str, direct: bool) -> None:
    parsed = parse_command(
        readable_head(text) if not readable(text) else text,
        prefixes=["/", "!"],
        direct=direct,
        known_names=REGISTRY.names(),
    )
    assert parsed is None or parsed.name


@given(text=ANY_TEXT)
def test_unreadable_text_is_screened_and_its_head_is_readable(text: str) -> None:
    problem = screen_text(text, max_length=5000)
    assert problem is None or "\x00" not in problem
    assert readable(readable_head(text))


@pytest.mark.parametrize("name", sorted(spec.name for spec in REGISTRY.commands()))
@given(rest=REST)
def test_no_text_crashes_the_binding_of_any_command(name: str, rest: str) -> None:
    assume(readable(rest))
    spec = REGISTRY.find(name)
    assert spec is not None
    with contextlib.suppress(UserError):  # a UsageError or a sentence about the value
        spec.bind(rest)


# -- every converter: a value Rocket.Chat accepts, or a sentence --------------------------------


def one_line_within(limit: int) -> Callable[[Any], bool]:
    return lambda value: js_length(value) <= limit and not LINE_BREAKS.search(value)


def status_line_ok(line: StatusLine) -> bool:
    text_ok = line.text is None or one_line_within(120)(line.text)
    presence_ok = line.presence is None or isinstance(line.presence, StatusType)
    return text_ok and presence_ok and (line.expiry is None or expiry_ok(line.expiry))


def expiry_ok(expiry: Expiry) -> bool:
    if expiry.duration is not None:
        return timedelta(minutes=1) <= expiry.duration <= timedelta(days=30)
    return expiry.until is not None


def display_name_ok(name: str) -> bool:
    return (
        bool(name)
        and not any(c in NAME_FORBIDDEN for c in name)
        and (check_display_name(name) == name)
    )


# Each converter with what every value it returns must satisfy (Rocket.Chat's rules, §4).
CONVERTER_CHECKS: dict[str, tuple[Callable[[str], Any], Callable[[Any], bool]]] = {
    "StatusType": (StatusType.convert, lambda v: v in set(StatusType)),
    "Bio": (converters.Bio.convert, lambda v: js_length(v) <= 260 and v == v.strip()),
    "Nickname": (converters.Nickname.convert, one_line_within(120)),
    "StatusText": (converters.StatusText.convert, one_line_within(120)),
    "DisplayName": (converters.DisplayName.convert, display_name_ok),
    "FieldName": (converters.FieldName.convert, lambda v: bool(v) and v == v.strip()),
    "FieldValue": (converters.FieldValue.convert, lambda v: v == v.strip()),
    "Duration": (
        values.Duration.convert,
        lambda v: timedelta(minutes=1) <= v <= timedelta(days=30),
    ),
    "StatusLine": (StatusLine.convert, status_line_ok),
    "PersonalAccessToken": (
        values.PersonalAccessToken.convert,
        lambda v: re.fullmatch(r"[A-Za-z0-9_\-.~+/=]{16,512}", v) is not None,
    ),
    "EmailAddress": (
        sensitive.EmailAddress.convert,
        lambda v: len(v) <= 254 and sensitive._EMAIL.fullmatch(v) is not None,
    ),
    "NewUsername": (sensitive.NewUsername.convert, lambda v: bool(v) and not v.startswith("@")),
}


def test_every_converter_is_fuzzed() -> None:
    found = {
        name
        for module in (converters, values, sensitive)
        for name, member in inspect.getmembers(module, inspect.isclass)
        if member.__module__ == module.__name__
        and "convert" in vars(member)
        and not getattr(member, "_is_protocol", False)
    }
    assert found == set(CONVERTER_CHECKS)


@pytest.mark.parametrize("name", sorted(CONVERTER_CHECKS))
@given(raw=REST)
def test_every_converter_gives_a_value_rocket_chat_accepts_or_a_sentence(
    name: str, raw: str
) -> None:
    assume(readable(raw))
    convert, acceptable = CONVERTER_CHECKS[name]
    try:
        value = convert(raw)
    except UserError as error:
        assert str(error).strip()
        return
    assert acceptable(value), value


# -- flood control keeps its promises whatever the traffic -------------------------------------


@given(
    events=st.lists(
        st.tuples(st.sampled_from("abc"), st.floats(min_value=0, max_value=30)), max_size=80
    ),
    per_user=st.integers(min_value=0, max_value=4),
    global_limit=st.integers(min_value=0, max_value=6),
)
def test_flood_control_never_lets_more_through_or_tells_more_than_once_per_window(
    events: list[tuple[str, float]], per_user: int, global_limit: int
) -> None:
    """Windows are fixed (they start with a sender's first command after the last one ended),
    so any 60 s span holds at most two windows' worth: 2 x the limit, 2 notices."""
    now = 0.0
    gate = FloodGate(per_user=per_user, global_limit=global_limit, window=60, clock=lambda: now)
    allowed: dict[str, list[float]] = {}
    notices: dict[str, list[float]] = {}
    for user, step in events:
        now += step
        admission = gate.admit(user)
        if admission.allowed:
            allowed.setdefault(user, []).append(now)
        elif admission.notice is not None:
            notices.setdefault(user, []).append(now)

    def most_in_a_minute(times: list[float]) -> int:
        return max((len([t for t in times if s <= t < s + 60]) for s in times), default=0)

    for times in allowed.values():
        assert not per_user or most_in_a_minute(times) <= 2 * per_user
    for times in notices.values():
        assert most_in_a_minute(times) <= 2
    if global_limit:
        everyone = [t for times in allowed.values() for t in times]
        assert most_in_a_minute(everyone) <= 2 * global_limit
    if not per_user and not global_limit:
        assert not notices and sum(map(len, allowed.values())) == len(events)


# -- end to end: a person types it, the bot answers or stays silent, Rocket.Chat gets only
#    values that satisfy its rules -------------------------------------------------------------

APOLOGY = "something went wrong on my side"
SYNC_ANSWERS = ("You have no change waiting", "Cancelled your")
# Errors Rocket.Chat gives for values the bot is supposed to have checked itself.
CHECKED_BEFORE_SENDING = {
    "invalid-params",
    "error-bio-size-exceeded",
    "error-nickname-size-exceeded",
    "error-invalid-email",
    "error-user-registration-custom-field",
    "error-password-policy-not-met",
    "error-status-not-allowed",
}
PRESENCES = {"online", "away", "busy", "offline"}
FIELDS = {"team": 30, "location": 50}  # tests/e2e WORKSPACE_ENV's Accounts_CustomFields
DATA_KEYS = {"email", "name", "username", "nickname", "bio", "statusText", "statusType"}
DATA_KEYS |= {"currentPassword", "newPassword"}


def problems_in(proxy: RecordingProxy, start: int) -> list[str]:
    """What is wrong with the REST requests the bot made since `start` (and their answers)."""
    problems = []
    for sent in proxy.requests[start:]:
        endpoint = sent.target.split("?")[0].removeprefix("/api/v1/")
        body = json.loads(sent.body) if sent.body else {}
        answer = json.loads(sent.answer) if sent.answer.startswith(b"{") else {}
        if answer.get("errorType") in CHECKED_BEFORE_SENDING or "invalid characters" in str(
            answer.get("error")
        ):
            problems.append(f"{endpoint} was refused: {answer.get('errorType')}")
        if endpoint == "users.updateOwnBasicInfo":
            problems += basic_info_problems(body)
        elif endpoint == "users.setStatus":
            if body.get("status") not in PRESENCES | {None}:
                problems.append(f"status {body.get('status')!r}")
            if "message" in body and not one_line_within(120)(body["message"] or ""):
                problems.append("status message over 120 or on several lines")
    return problems


def basic_info_problems(body: dict[str, Any]) -> list[str]:
    data = body.get("data", {})
    problems = [f"unknown key {key}" for key in set(data) - DATA_KEYS]
    checks: dict[str, Callable[[Any], bool]] = {
        "bio": lambda v: js_length(v) <= 260,
        "nickname": one_line_within(120),
        "statusText": one_line_within(120),
        "name": display_name_ok,
        "statusType": lambda v: v in PRESENCES,
        "email": lambda v: sensitive._EMAIL.fullmatch(v) is not None,
        "username": lambda v: re.fullmatch(r"[0-9a-zA-Z-_.]+", v) is not None,
    }
    for key, ok in checks.items():
        if data.get(key) is not None and not ok(data[key]):
            problems.append(f"{key} {data[key]!r}")
    for field, value in (body.get("customFields") or {}).items():
        if field not in FIELDS or js_length(str(value)) > FIELDS[field]:
            problems.append(f"custom field {field}={value!r}")
    return problems


@pytest.fixture
async def fuzzed(tmp_path: Path) -> AsyncIterator[tuple[SecurityWorld, Person]]:
    """A bot recorded by a proxy, without flood limits, and a person with a token who may
    type fast and change her status text often (as an admin could)."""
    environ = {"OVERWRITE_SETTING_API_Enable_Rate_Limiter": "false"}
    async with security_world(
        tmp_path, environ=environ, record=True, rate_limit_per_user=0, rate_limit_global=0
    ) as world:
        await grant(world.admin, "send-many-messages", "user")
        await grant(world.admin, "edit-other-user-info", "user")
        alice = await world.person("alice")
        assert "stored" in await delegate(alice)
        yield world, alice


async def said_and_answered(
    world: SecurityWorld,
    alice: Person,
    caplog: pytest.LogCaptureFixture,
    texts: list[str],
    *,
    room: str | None = None,
) -> list[str]:
    """Say `texts` (in `room`, else the DM), then `/cancel` in the DM, and wait for its answer:
    alice's messages run in order, so every answer to `texts` has come by then. Checks that
    nothing crashed and that every request to Rocket.Chat was well-formed; returns what the
    bot said.

    The answer awaited is the one to this `/cancel` (its id derives from the message's, see
    bot.core.message.reply_id): a fuzzed text may be answered like a cancel too ("cancel" said
    plainly in the DM), and that answer's twin must not end the next example early."""
    assert world.proxy is not None
    dm = await alice.direct_room(BOT_NAME)
    mark, sent_mark, log_mark = alice.heard_count, len(world.proxy.requests), len(caplog.records)
    for text in texts:
        await alice.say(room or dm, text)
    closing = await alice.say(dm, "/cancel")

    def answers_closing(message: dict[str, Any]) -> bool:
        text = str(message.get("msg", ""))
        return text.startswith(SYNC_ANSWERS) and message["_id"] == reply_id(closing, text)

    await alice.hear(lambda m: from_bot(dm)(m) and answers_closing(m), after=mark, timeout=10)
    said = [m["msg"] for m in alice.heard()[mark:] if from_bot()(m)]
    assert not any(APOLOGY in text for text in said), said
    crashes = [
        r.getMessage()
        for r in caplog.records[log_mark:]
        if r.name.startswith("bot") and r.levelno >= logging.ERROR
    ]
    assert crashes == []
    assert problems_in(world.proxy, sent_mark) == []
    return said


FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(text=ANY_TEXT, in_room=st.booleans())
async def test_no_message_crashes_the_bot_or_reaches_rocket_chat_unchecked(
    fuzzed: tuple[SecurityWorld, Person],
    caplog: pytest.LogCaptureFixture,
    text: str,
    in_room: bool,
) -> None:
    assume(text.strip() and "forget" not in text.casefold())  # keep alice's token
    command = parse_command(text, prefixes=["/", "!"]) if readable(text) else None
    # A cancel would answer exactly like the closing /cancel that tells the test it is done.
    spec = REGISTRY.find(command.name) if command is not None else None
    assume(spec is None or spec.name != "cancel")
    world, alice = fuzzed
    said = await said_and_answered(
        world, alice, caplog, [text], room="GENERAL" if in_room else None
    )
    if command is not None and REGISTRY.find(command.name) is not None:
        assert len(said) >= 2, said  # a known command is always answered, before /cancel is


CONVERSATIONS = {
    "username": ["/username alice-{n}"],
    "email": ["/email alice{n}@example.org", "yes"],
    "password": ["/password"],
    "password-again": ["/password", "Another-pass-{n}"],
}


@FUZZ
@given(flow=st.sampled_from(sorted(CONVERSATIONS)), answers=st.lists(ANY_TEXT, max_size=3))
async def test_no_answer_crashes_a_conversation_or_reaches_rocket_chat_unchecked(
    fuzzed: tuple[SecurityWorld, Person],
    caplog: pytest.LogCaptureFixture,
    flow: str,
    answers: list[str],
) -> None:
    answers = [a for a in answers if a.strip() and "forget" not in a.casefold()]
    world, alice = fuzzed
    opening = [step.format(n=len(alice.heard())) for step in CONVERSATIONS[flow]]
    await said_and_answered(world, alice, caplog, [*opening, *answers])

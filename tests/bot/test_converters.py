"""Converters: presences, status lines, lengths, display names, tokens, custom field values."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import UsageError, UserError
from bot.core.fields import CustomFieldRule, check_custom_field, js_length
from bot.core.values import PersonalAccessToken, StatusType
from bot.framework.converters import (
    Bio,
    DisplayName,
    FieldName,
    FieldValue,
    Nickname,
    StatusLine,
    StatusText,
)

TOKEN = "Ab3_dEf-GhIjKlMnOpQrStUvWxYz0123456789abcde"  # 43 characters, like Random.secret()


# -- StatusType -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["away", "AWAY", " Away "])
def test_a_presence_is_read_ignoring_case(raw: str) -> None:
    assert StatusType.convert(raw) is StatusType.AWAY


def test_an_unknown_presence_lists_the_four() -> None:
    with pytest.raises(UsageError, match="online, away, busy or offline"):
        StatusType.convert("sleeping")


# -- StatusLine -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "presence", "text"),
    [
        ("away", StatusType.AWAY, None),
        ("BUSY", StatusType.BUSY, None),
        ("away At lunch", StatusType.AWAY, "At lunch"),
        ("At lunch", None, "At lunch"),
        ("clear", None, ""),
        ("CLEAR", None, ""),
        ("away clear", StatusType.AWAY, ""),
        ('"Away from keyboard"', None, "Away from keyboard"),
        ("“clear”", None, "clear"),
        ("Away from keyboard", StatusType.AWAY, "from keyboard"),
        ("offline  back on Monday ", StatusType.OFFLINE, "back on Monday"),
        ("clear the desk", None, "clear the desk"),
        ("I'm out", None, "I'm out"),
        ("away\nback\nsoon", StatusType.AWAY, "back soon"),
    ],
)
def test_a_status_line_is_a_presence_a_text_or_both(
    raw: str, presence: StatusType | None, text: str | None
) -> None:
    assert StatusLine.convert(raw) == StatusLine(presence=presence, text=text)


def test_a_status_text_over_120_characters_is_refused_not_cut() -> None:
    with pytest.raises(UserError, match=r"121 characters long.*at most 120.*by 1 character"):
        StatusLine.convert("away " + "x" * 121)
    assert StatusLine.convert("x" * 120).text == "x" * 120


def test_an_empty_quoted_status_text_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="clear"):
        StatusText.convert('""')


# -- bio, nickname -----------------------------------------------------------------------------


def test_bio_clear_gives_the_empty_bio() -> None:
    assert Bio.convert(" Clear ") == ""


def test_bio_is_trimmed_and_unquoted_as_a_whole() -> None:
    assert Bio.convert('  "Hello, world"  ') == "Hello, world"
    assert Bio.convert('"To be" or not') == '"To be" or not'


def test_bio_keeps_line_breaks() -> None:
    assert Bio.convert("one\ntwo") == "one\ntwo"


def test_bio_of_260_characters_passes_and_261_is_refused() -> None:
    assert Bio.convert("b" * 260) == "b" * 260
    with pytest.raises(UserError, match=r"261 characters long.*at most 260"):
        Bio.convert("b" * 261)


def test_lengths_count_like_javascript_so_an_emoji_counts_two() -> None:
    assert js_length("😀") == 2 and js_length("é") == 1
    assert Bio.convert("😀" * 130) == "😀" * 130
    with pytest.raises(UserError, match="262 characters long"):
        Bio.convert("😀" * 131)


def test_nickname_limit_is_120_after_trimming() -> None:
    assert Nickname.convert("  " + "n" * 120 + "  ") == "n" * 120
    with pytest.raises(UserError, match="nickname is 121 characters long"):
        Nickname.convert("n" * 121)


def test_nickname_is_one_line() -> None:
    assert Nickname.convert("Ali\n  the great") == "Ali the great"


def test_nickname_clear_gives_the_empty_nickname() -> None:
    assert Nickname.convert("clear") == ""


# -- display name ---------------------------------------------------------------------------


def test_a_display_name_is_trimmed_and_kept() -> None:
    assert DisplayName.convert("  Alice Liddell ") == "Alice Liddell"


@pytest.mark.parametrize(
    "raw", ["A<b>", "back\\slash", "a/b", "100%", "50% off", "%3Cscript", "%5C", "%E0%A4%A", "%FF"]
)
def test_display_names_rocket_chat_refuses_are_refused_here(raw: str) -> None:
    with pytest.raises(UserError, match="< > \\\\ or /"):
        DisplayName.convert(raw)


@pytest.mark.parametrize("raw", ["Ann %41", "Ann %2F", "Zoë", "李小龍", "Ann 100%25"])
def test_display_names_with_harmless_escapes_pass(raw: str) -> None:
    assert DisplayName.convert(raw) == raw


def test_a_display_name_cannot_be_cleared() -> None:
    with pytest.raises(UserError, match="can't be removed"):
        DisplayName.convert("clear")


# -- custom fields --------------------------------------------------------------------------


def test_field_value_clear_is_empty_and_values_are_unquoted() -> None:
    assert FieldValue.convert("clear") == ""
    assert FieldValue.convert('"Platform team"') == "Platform team"
    assert FieldName.convert(" team ") == "team"


TEAM = CustomFieldRule(name="team", min_length=2, max_length=10)
LEVEL = CustomFieldRule(name="level", type="select", options=("junior", "senior"))
BADGE = CustomFieldRule(name="badge", required=True)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (TEAM, " Platform ", "Platform"),
        (TEAM, "", ""),
        (TEAM, "ab", "ab"),
        (TEAM, "x" * 10, "x" * 10),
        (LEVEL, "senior", "senior"),
        (LEVEL, "Senior", "senior"),
        (BADGE, "gold", "gold"),
    ],
)
def test_custom_field_values_that_pass(rule: CustomFieldRule, value: str, expected: str) -> None:
    assert check_custom_field(rule, value) == expected


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        (TEAM, "x" * 11, "at most 10"),
        (TEAM, "x", "at least 2"),
        (LEVEL, "lead", "one of: junior, senior"),
        (LEVEL, "", "can't be left empty"),
        (BADGE, "  ", "required"),
    ],
)
def test_custom_field_values_that_fail_say_why(
    rule: CustomFieldRule, value: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        check_custom_field(rule, value)


# -- tokens ---------------------------------------------------------------------------------


def test_a_token_is_one_word_of_token_characters() -> None:
    assert PersonalAccessToken.convert(f"  {TOKEN} ") == TOKEN


def test_a_token_repr_hides_it() -> None:
    token = PersonalAccessToken.convert(TOKEN)
    assert TOKEN not in repr(token) and TOKEN not in repr([token])


@pytest.mark.parametrize("raw", ["<token>", "<Ab3dEfGhIjKlMnOpQrStUvWx>", "token"])
def test_the_placeholder_from_the_usage_line_is_explained(raw: str) -> None:
    with pytest.raises(UsageError, match="Replace <token>"):
        PersonalAccessToken.convert(raw)


@pytest.mark.parametrize("raw", ["short", "has spaces in it but is long enough", "ünïcödé" * 4])
def test_something_that_is_not_a_token_is_refused_without_repeating_it(raw: str) -> None:
    with pytest.raises(UsageError) as caught:
        PersonalAccessToken.convert(raw)
    assert raw not in str(caught.value)


def test_looks_like_spots_tokens_but_not_words() -> None:
    assert PersonalAccessToken.looks_like(TOKEN)
    assert not PersonalAccessToken.looks_like("status")


# -- properties -------------------------------------------------------------------------------

CONVERTERS: list[Callable[[str], Any]] = [
    StatusType.convert,
    StatusLine.convert,
    StatusText.convert,
    Bio.convert,
    Nickname.convert,
    DisplayName.convert,
    FieldName.convert,
    FieldValue.convert,
    PersonalAccessToken.convert,
]


@pytest.mark.parametrize("convert", CONVERTERS, ids=lambda c: c.__qualname__)
@given(raw=st.text())
def test_no_input_crashes_a_converter(convert: Callable[[str], Any], raw: str) -> None:
    with contextlib.suppress(UserError):  # UsageError is a UserError
        convert(raw)


@given(st.text())
def test_a_converted_bio_is_always_within_the_limit_and_trimmed(raw: str) -> None:
    try:
        bio = Bio.convert(raw)
    except UserError:
        return
    assert js_length(bio) <= 260 and bio == bio.strip()


@given(st.text())
def test_a_converted_status_line_always_has_a_short_single_line_text(raw: str) -> None:
    try:
        line = StatusLine.convert(raw)
    except UserError:
        return
    assert line.presence is not None or line.text is not None
    if line.text:
        assert js_length(line.text) <= 120 and "\n" not in line.text


@given(
    rule=st.builds(
        CustomFieldRule,
        name=st.just("f"),
        type=st.sampled_from(["text", "select"]),
        required=st.booleans(),
        min_length=st.none() | st.integers(1, 5),
        max_length=st.none() | st.integers(1, 20),
        options=st.lists(st.text(max_size=5), max_size=3).map(tuple),
    ),
    value=st.text(max_size=30),
)
def test_custom_field_checks_raise_only_user_errors(rule: CustomFieldRule, value: str) -> None:
    try:
        checked = check_custom_field(rule, value)
    except UserError:
        return
    if rule.type == "select":
        assert checked in rule.options
    elif checked and rule.max_length:
        assert js_length(checked) <= rule.max_length

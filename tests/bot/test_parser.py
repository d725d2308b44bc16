"""The parser: prefixes, DM commands without a prefix, quoting, whitespace, unicode."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import UsageError
from bot.core.values import WHITESPACE
from bot.framework.parser import (
    NAME_PATTERN,
    ParsedCommand,
    parse_command,
    split_words,
    take_quoted_words,
    take_words,
    unquote_whole,
)

PREFIXES = ("/", "!")


def parse(text: str, **kwargs: object) -> ParsedCommand | None:
    return parse_command(text, prefixes=kwargs.pop("prefixes", PREFIXES), **kwargs)  # type: ignore[arg-type]


# -- prefixes -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["/status away", "!status away"])
def test_each_configured_prefix_starts_a_command(text: str) -> None:
    parsed = parse(text)
    assert parsed is not None
    assert (parsed.prefix, parsed.name, parsed.argv, parsed.rest) == (
        text[0],
        "status",
        ("away",),
        "away",
    )


def test_the_longest_matching_prefix_wins() -> None:
    parsed = parse("!!nick Ali", prefixes=("!", "!!"))
    assert parsed is not None and (parsed.prefix, parsed.name) == ("!!", "nick")


def test_a_multi_character_prefix_works() -> None:
    parsed = parse("bot:help status", prefixes=("bot:",))
    assert parsed is not None and (parsed.name, parsed.argv) == ("help", ("status",))


def test_text_without_a_prefix_in_a_room_is_not_a_command() -> None:
    assert parse("status away") is None


@pytest.mark.parametrize(
    "text",
    ["/", "!", "/ status", "//status", "/usr/bin/env python", "!!!", "/-x", "/_x", "/😀 hi"],
)
def test_a_prefix_without_a_command_word_is_not_a_command(text: str) -> None:
    assert parse(text) is None


def test_the_name_keeps_its_case_and_key_folds_it() -> None:
    parsed = parse("/StAtUs away")
    assert parsed is not None and parsed.name == "StAtUs" and parsed.key == "status"


def test_a_command_without_arguments_has_empty_argv_and_rest() -> None:
    parsed = parse("/profile")
    assert parsed is not None and parsed.argv == () and parsed.rest == ""


# -- DMs ------------------------------------------------------------------------------------


def test_in_a_dm_a_known_first_word_is_a_command_without_prefix() -> None:
    parsed = parse("Status away", direct=True, known_names={"status", "nick"})
    assert parsed is not None and (parsed.prefix, parsed.name, parsed.argv) == (
        "",
        "Status",
        ("away",),
    )


def test_in_a_dm_an_unknown_first_word_is_just_chat() -> None:
    assert parse("hello there", direct=True, known_names={"status"}) is None


def test_in_a_dm_a_prefixed_unknown_command_is_still_a_command() -> None:
    parsed = parse("/stauts away", direct=True, known_names={"status"})
    assert parsed is not None and parsed.name == "stauts"


def test_in_a_dm_without_known_names_any_command_word_counts() -> None:
    parsed = parse("hello there", direct=True)
    assert parsed is not None and parsed.name == "hello"


def test_in_a_dm_a_link_or_a_token_like_text_is_not_a_command() -> None:
    assert parse("https://example.com", direct=True, known_names={"status"}) is None


# -- empty and whitespace ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\t", "\u00a0", "\u3000 \u2003"])
def test_empty_or_blank_text_is_not_a_command(text: str) -> None:
    assert parse(text, direct=True) is None


def test_surrounding_whitespace_is_ignored() -> None:
    parsed = parse("  \n /nick   Ali  \n")
    assert parsed is not None and parsed.name == "nick" and parsed.rest == "Ali"


def test_unicode_whitespace_separates_the_name_and_the_words() -> None:
    parsed = parse("/status\u00a0away\u2003At\u3000lunch")
    assert parsed is not None
    assert parsed.name == "status" and parsed.argv == ("away", "At", "lunch")


def test_newlines_inside_the_rest_are_kept() -> None:
    parsed = parse("/bio line one\nline two")
    assert parsed is not None and parsed.rest == "line one\nline two"


def test_a_newline_right_after_the_name_separates_it() -> None:
    parsed = parse("/bio\nHello")
    assert parsed is not None and (parsed.name, parsed.rest) == ("bio", "Hello")


# -- quoting ---------------------------------------------------------------------------------


def test_quoted_words_keep_their_spaces() -> None:
    parsed = parse("""/field "favourite food" 'pizza, really'""")
    assert parsed is not None and parsed.argv == ("favourite food", "pizza, really")


def test_smart_double_quotes_from_phones_quote_too() -> None:
    parsed = parse("/field “favourite food” pizza")
    assert parsed is not None and parsed.argv == ("favourite food", "pizza")


def test_a_hash_is_text_not_a_comment() -> None:
    parsed = parse("/bio I live in #general")
    assert parsed is not None and parsed.argv == ("I", "live", "in", "#general")


def test_the_rest_is_kept_as_written_even_with_an_apostrophe() -> None:
    parsed = parse("/bio I'm a developer")
    assert parsed is not None
    assert parsed.rest == "I'm a developer"
    assert parsed.quote_error is not None and "single quote" in parsed.quote_error
    assert parsed.argv == ("I'm", "a", "developer")


def test_the_repr_never_shows_the_arguments() -> None:
    parsed = parse("/token set s3cr3t-token-value-that-must-not-leak")
    assert parsed is not None
    assert "s3cr3t" not in repr(parsed)


@pytest.mark.parametrize(
    ("text", "hint"),
    [('say "hello', "double quote"), ("it's", "single quote"), ("trailing \\", "backslash")],
)
def test_unbalanced_quotes_say_what_is_wrong(text: str, hint: str) -> None:
    with pytest.raises(UsageError, match=hint):
        split_words(text)


def test_quote_errors_never_repeat_the_text() -> None:
    with pytest.raises(UsageError) as caught:
        split_words('"abcdefghijklmnopqrstuvwxyz0123456789')
    assert "abcdefghij" not in str(caught.value)


def test_take_words_leaves_the_rest_as_written() -> None:
    assert take_words("""  "favourite food"   it's “great”  """, 1) == (
        ["favourite food"],
        "it's “great”",
    )


def test_take_words_stops_when_the_text_runs_out() -> None:
    assert take_words("one", 3) == (["one"], "")
    assert take_words("", 2) == ([], "")


def test_take_words_raises_only_for_a_bad_quote_in_the_words_it_takes() -> None:
    with pytest.raises(UsageError):
        take_words('"unclosed name value', 1)
    assert take_words('name "unclosed value', 1) == (["name"], '"unclosed value')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"clear"', "clear"),
        ("'a b'", "a b"),
        ("“quoted”", "quoted"),
        ('"a" b', '"a" b'),
        ("plain text", "plain text"),
        ('"unclosed', '"unclosed'),
        ('  "x"  ', "x"),
    ],
)
def test_unquote_whole_only_unquotes_one_whole_quoted_value(text: str, expected: str) -> None:
    assert unquote_whole(text) == expected


# -- properties -------------------------------------------------------------------------------

prefix_lists = st.lists(st.text(min_size=1, max_size=3), max_size=3)


@given(text=st.text(), prefixes=prefix_lists, direct=st.booleans())
def test_no_text_crashes_the_parser(text: str, prefixes: list[str], direct: bool) -> None:
    parsed = parse_command(text, prefixes=prefixes, direct=direct)
    if parsed is not None:
        assert NAME_PATTERN.fullmatch(parsed.name)
        assert parsed.rest == parsed.rest.strip(WHITESPACE)
        assert parsed.prefix in prefixes or parsed.prefix == ""


@given(text=st.text(), count=st.integers(min_value=0, max_value=4))
def test_take_words_raises_nothing_but_usage_errors(text: str, count: int) -> None:
    try:
        words, rest = take_words(text, count)
    except UsageError:
        return
    assert len(words) <= count
    assert rest == rest.strip(WHITESPACE)


@given(st.text())
def test_split_words_raises_nothing_but_usage_errors(text: str) -> None:
    try:
        split_words(text)
    except UsageError as exc:
        assert str(exc)


plain_words = st.lists(
    st.text(st.characters(exclude_characters="“”„"), min_size=1), min_size=1, max_size=5
)


@given(plain_words)
def test_shell_quoted_words_come_back_unchanged(words: list[str]) -> None:
    assert split_words(shlex.join(words)) == words


@given(plain_words)
def test_a_command_with_quoted_words_parses_back_to_them(words: list[str]) -> None:
    parsed = parse("/cmd " + shlex.join(words))
    assert parsed is not None and list(parsed.argv) == words and parsed.quote_error is None


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="\"'\\“”„", blacklist_categories=("Cs",)),
        max_size=60,
    ),
    st.integers(min_value=0, max_value=4),
)
def test_text_without_quoting_splits_as_shlex_would(text: str, count: int) -> None:
    """The fast path for plain text (str.split) gives what the shlex path gives."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split, lexer.whitespace, lexer.commenters = True, WHITESPACE, ""
    assert split_words(text) == list(lexer)
    assert take_words(text, count) == take_quoted_words(text, count)

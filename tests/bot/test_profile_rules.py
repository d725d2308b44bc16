"""Profile rules that need no server: the field checks, the settings that forbid changes, the
same-value shortcut, custom-field merging, error sentences, and the token service's refusals.

ProfileService and TokenService run here against small in-memory fakes of RestClient and Store;
the end-to-end tests over the sandbox exercise the real ones.
"""

from __future__ import annotations

import logging
import tempfile
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import SystemClock
from bot.core.context import CommandContext
from bot.core.credentials import Credentials
from bot.core.crypto import generate_key
from bot.core.errors import (
    AuthError,
    RateLimited,
    ServerError,
    TwoFactorRequired,
    UsageError,
    UserError,
)
from bot.core.fields import (
    CustomFieldRule,
    CustomFieldsBroken,
    check_display_name,
    find_field,
    other_field_problems,
    parse_custom_field_rules,
)
from bot.core.message import IncomingMessage, RoomType
from bot.core.values import StatusType
from bot.framework.parser import parse_command
from bot.framework.registry import Registry
from bot.profile.model import Profile, explain_rejection
from bot.profile.presets import StatusPresets
from bot.profile.service import ProfileService
from bot.profile.tokens import NoTokenError, TokenRejected, TokenService
from bot.storage.presets import PresetStore
from bot.storage.store import DelegatedToken, Store
from commands.profile import format_profile

TOKEN = "Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"
OTHER_TOKEN = "Zz9yXwVuTsRqPoNmLkJiHgFeDcBa9876543210zyxwv"
CUSTOM_FIELDS = (
    '{"team": {"type": "text", "required": false, "minLength": 2, "maxLength": 20},'
    ' "level": {"type": "select", "options": ["junior", "senior"], "required": false}}'
)
ALLOW_ALL = {
    "Accounts_AllowUserProfileChange": True,
    "Accounts_AllowRealNameChange": True,
    "Accounts_AllowUserStatusMessageChange": True,
    "Accounts_AllowInvisibleStatusOption": True,
    "Accounts_CustomFields": CUSTOM_FIELDS,
}


# -- fakes ------------------------------------------------------------------------------------


class FakeRest:
    """RestClient's calls used by the services, answering from an in-memory user."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.user: dict[str, Any] = {
            "_id": "u1",
            "username": "alice",
            "name": "Alice",
            "emails": [{"address": "alice@example.com", "verified": True}],
            "status": "online",
            "statusText": "",
            "customFields": {"team": "Platform", "level": "junior"},
        }
        self.settings = dict(ALLOW_ALL if settings is None else settings)
        self.tokens = {TOKEN: "u1", OTHER_TOKEN: "u2"}
        self.updates: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        self.deleted: list[tuple[str, str, str]] = []
        self.settings_reads = 0
        self.update_error: Exception | None = None
        self.settings_error: Exception | None = None
        self.delete_error: Exception | None = None

    def _check(self, credentials: Credentials) -> None:
        if self.tokens.get(credentials.token) != credentials.user_id:
            raise AuthError("GET me failed with HTTP 401", status=401)

    async def me(self, credentials: Credentials) -> dict[str, Any]:
        self._check(credentials)
        return dict(self.user)

    async def public_settings(self, ids: list[str]) -> dict[str, Any]:
        self.settings_reads += 1
        if self.settings_error:
            raise self.settings_error
        return {key: self.settings[key] for key in ids if key in self.settings}

    async def update_own_basic_info(
        self, credentials: Credentials, *, data: dict[str, Any], custom_fields: Any = None
    ) -> dict[str, Any]:
        self._check(credentials)
        self.updates.append((data, custom_fields))
        if self.update_error:
            raise self.update_error
        return self.user

    async def delete_message(
        self, credentials: Credentials, *, room_id: str, message_id: str
    ) -> None:
        self._check(credentials)
        if self.delete_error:
            raise self.delete_error
        self.deleted.append((credentials.user_id, room_id, message_id))


class FakeStore:
    """Store's token calls, in a dict."""

    shared = False

    def __init__(self) -> None:
        self.tokens: dict[str, DelegatedToken] = {}

    async def put_token(self, *, user_id: str, username: str, token: str) -> None:
        self.tokens[user_id] = DelegatedToken(
            user_id=user_id,
            username=username,
            credentials=Credentials(user_id, token),
            valid=True,
            stored_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        )

    async def get_token(self, user_id: str) -> DelegatedToken | None:
        return self.tokens.get(user_id)

    async def mark_token_invalid(self, user_id: str) -> None:
        token = self.tokens[user_id]
        self.tokens[user_id] = DelegatedToken(
            token.user_id, token.username, token.credentials, False, token.stored_at
        )

    async def forget_token(self, user_id: str) -> bool:
        return self.tokens.pop(user_id, None) is not None


def context(*, direct: bool = True, sender: str = "u1") -> CommandContext:
    message = IncomingMessage(
        id="m1",
        room_id="dm1" if direct else "GENERAL",
        room_type=RoomType.DIRECT if direct else RoomType.CHANNEL,
        one_to_one=direct,
        text="",
        sender_id=sender,
        sender_username="alice" if sender == "u1" else "bob",
    )
    return CommandContext.from_message(message)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rest() -> FakeRest:
    return FakeRest()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(rest: FakeRest, store: FakeStore, clock: Clock) -> ProfileService:
    await store.put_token(user_id="u1", username="alice", token=TOKEN)
    return ProfileService(store, rest, None, clock=clock)  # type: ignore[arg-type]


# -- pure rules -------------------------------------------------------------------------------


def test_custom_field_rules_are_read_from_the_setting() -> None:
    rules = parse_custom_field_rules(CUSTOM_FIELDS)
    assert rules["team"] == CustomFieldRule("team", "text", False, 2, 20, ())
    assert rules["level"].options == ("junior", "senior")
    assert rules["team"].describe() == "team (text, 2-20 characters)"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_custom_fields_setting_means_no_fields(raw: Any) -> None:
    assert parse_custom_field_rules(raw) == {}


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "42"])
def test_a_broken_custom_fields_setting_is_explained(raw: str) -> None:
    with pytest.raises(CustomFieldsBroken, match="tell an admin"):
        parse_custom_field_rules(raw)


def test_field_names_match_exactly_or_ignoring_case_when_unique() -> None:
    rules = parse_custom_field_rules('{"Team": {}, "team2": {}}')
    assert find_field(rules, "Team") is rules["Team"]
    assert find_field(rules, "TEAM") is rules["Team"]
    assert find_field(rules, "nope") is None
    both = parse_custom_field_rules('{"Team": {}, "team": {}}')
    assert find_field(both, "TEAM") is None


def test_other_fields_that_would_block_a_save_are_found() -> None:
    rules = parse_custom_field_rules(
        '{"a": {"required": true}, "b": {"type": "select", "options": ["x"]}, "c": {}}'
    )
    assert other_field_problems(rules, {"a": " ", "c": "z"}, "c") == ["a", "b"]
    assert other_field_problems(rules, {"a": "ok", "b": "x"}, "c") == []


def test_an_empty_display_name_is_refused() -> None:
    with pytest.raises(UserError, match="can't be empty"):
        check_display_name("  \n ")


def test_a_profile_never_carries_emails_or_services() -> None:
    user = {
        "_id": "u1",
        "username": "alice",
        "emails": [{"address": "alice@example.com"}],
        "services": {"resume": {"loginTokens": [{"hashedToken": "x"}]}},
        "status": "offline",
        "statusDefault": "busy",
        "customFields": {"team": "Platform"},
    }
    profile = Profile.from_user(user)
    assert profile.presence == "busy"
    text = format_profile(profile, parse_custom_field_rules(CUSTOM_FIELDS))
    assert "alice@example.com" not in text and "hashedToken" not in text
    assert "team: Platform" in text and "level: (not set)" in text


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ServerError(
                "Not allowed [error-not-allowed]", status=400, error_type="error-not-allowed"
            ),
            "does not allow changing your nickname",
        ),
        (ServerError("x", status=400, error_type="error-action-not-allowed"), "admin"),
        (ServerError("x", status=400, error_type="error-bio-size-exceeded"), "260"),
        (ServerError("x", status=400, error_type="error-nickname-size-exceeded"), "120"),
        (ServerError("x", status=400, error_type="error-status-not-allowed"), "invisible"),
        (
            ServerError("x", status=400, error_type="error-could-not-save-identity"),
            "could not save",
        ),
        (
            ServerError(
                "POST x failed with HTTP 400: Name contains invalid characters", status=400
            ),
            "< > \\ or /",
        ),
        (
            ServerError(
                "Max length of field team 20 [error-user-registration-custom-field]",
                status=400,
                error_type="error-user-registration-custom-field",
            ),
            "refused the change: the field team may have at most 20 characters.",
        ),
        (
            ServerError(
                "Field badge is required [error-user-registration-custom-field]",
                status=400,
                error_type="error-user-registration-custom-field",
            ),
            "the field badge is required and empty",
        ),
        (ServerError("x", status=400, error_type="error-invalid-customfield-json"), "admin"),
        (ServerError("x", status=400, error_type="invalid-params"), "too old"),
        (RateLimited("x", status=429, retry_after=42), "42 seconds"),
        (ServerError("x", status=400, error_type="error-too-many-requests"), "too often"),
        (TwoFactorRequired("x", status=400, error_type="totp-required"), "two-factor"),
        (ServerError("x", status=503), "try again"),
        (ServerError("x", status=0, error_type="timeout"), "could not be reached"),
        (ServerError("x", status=400, error_type="error-something-new"), "refused to change"),
    ],
)
def test_server_rejections_become_sentences_about_the_field(
    error: ServerError, expected: str
) -> None:
    sentence = str(explain_rejection(error, "nickname"))
    assert expected in sentence
    assert "[error-" not in sentence and "error-something-new" not in sentence


# -- ProfileService: tokens -------------------------------------------------------------------


async def test_without_a_token_the_user_learns_how_to_create_one(rest: FakeRest) -> None:
    service = ProfileService(FakeStore(), rest, None)  # type: ignore[arg-type]
    with pytest.raises(NoTokenError) as caught:
        await service.set_nickname(context(), "Ali")
    text = str(caught.value)
    assert "Account → Personal Access Tokens" in text and "`/token set <token>`" in text
    assert "Ignore Two Factor Authentication" in text
    assert rest.updates == []


async def test_the_how_to_uses_the_first_configured_prefix(rest: FakeRest) -> None:
    settings = types.SimpleNamespace(prefixes=["!", "/"])
    service = ProfileService(FakeStore(), rest, settings)  # type: ignore[arg-type]
    with pytest.raises(NoTokenError, match="`!token set <token>`"):
        await service.current(context())


async def test_a_token_rejected_earlier_is_not_tried_again(
    service: ProfileService, store: FakeStore, rest: FakeRest
) -> None:
    await store.mark_token_invalid("u1")
    with pytest.raises(TokenRejected, match="earlier"):
        await service.set_bio(context(), "Hi")
    assert rest.updates == [] and rest.settings_reads == 0


async def test_a_401_marks_the_token_invalid_and_tells_the_user(
    service: ProfileService, store: FakeStore, rest: FakeRest
) -> None:
    rest.tokens.pop(TOKEN)
    with pytest.raises(TokenRejected, match="rejected your personal access token just now"):
        await service.set_nickname(context(), "Ali")
    assert store.tokens["u1"].valid is False


# -- ProfileService: settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "change"),
    [
        ("Accounts_AllowUserProfileChange", ("set_nickname", "Ali")),
        ("Accounts_AllowUserProfileChange", ("set_custom_field", "team", "Core")),
        ("Accounts_AllowRealNameChange", ("set_name", "Ali")),
    ],
)
async def test_a_setting_that_forbids_a_change_is_answered_before_any_call(
    service: ProfileService, rest: FakeRest, setting: str, change: tuple[Any, ...]
) -> None:
    rest.settings[setting] = False
    with pytest.raises(UserError, match="An admin has turned off"):
        await getattr(service, change[0])(context(), *change[1:])
    assert rest.updates == []


async def test_status_messages_turned_off_still_allow_a_presence(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.settings["Accounts_AllowUserStatusMessageChange"] = False
    with pytest.raises(UserError, match="turned off status messages"):
        await service.set_status(context(), presence=StatusType.AWAY, text="At lunch")
    change = await service.set_status(context(), presence=StatusType.AWAY, text=None)
    assert change.changed and rest.updates == [({"statusType": "away"}, None)]


async def test_invisible_is_refused_when_the_workspace_forbids_it(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.settings["Accounts_AllowInvisibleStatusOption"] = False
    with pytest.raises(UserError, match="invisible"):
        await service.set_status(context(), presence=StatusType.OFFLINE, text=None)
    assert rest.updates == []


async def test_settings_are_cached_briefly(
    service: ProfileService, rest: FakeRest, clock: Clock
) -> None:
    await service.set_nickname(context(), "One")
    await service.set_nickname(context(), "Two")
    assert rest.settings_reads == 1
    clock.now += 31
    await service.set_nickname(context(), "Three")
    assert rest.settings_reads == 2


async def test_unreadable_settings_leave_the_checks_to_the_server(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.settings_error = ServerError("boom", status=500)
    change = await service.set_nickname(context(), "Ali")
    assert change.changed and rest.updates == [({"nickname": "Ali"}, None)]


# -- ProfileService: changes --------------------------------------------------------------------


async def test_the_same_value_is_answered_without_a_call(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.user["nickname"] = "Ali"
    change = await service.set_nickname(context(), "Ali")
    assert not change.changed and change.after == "Ali"
    assert rest.updates == []


@pytest.mark.parametrize(
    ("method", "value", "sent"),
    [
        ("set_nickname", "Ali", {"nickname": "Ali"}),
        ("set_nickname", "", {"nickname": " "}),
        ("set_bio", "Hello", {"bio": "Hello"}),
        ("set_bio", "", {"bio": " "}),
        ("set_name", "Alice L.", {"name": "Alice L."}),
    ],
)
async def test_each_change_sends_only_its_field(
    service: ProfileService, rest: FakeRest, method: str, value: str, sent: dict[str, str]
) -> None:
    rest.user.update(nickname="Old", bio="Old")
    change = await getattr(service, method)(context(), value)
    assert change.changed and rest.updates == [(sent, None)]


@pytest.mark.parametrize(
    ("presence", "text", "sent"),
    [
        (StatusType.AWAY, None, {"statusType": "away"}),
        (None, "At lunch", {"statusText": "At lunch"}),
        (StatusType.BUSY, "Focus", {"statusType": "busy", "statusText": "Focus"}),
        (None, "", {"statusText": ""}),
    ],
)
async def test_status_sends_what_changes_and_keeps_the_rest(
    service: ProfileService,
    rest: FakeRest,
    presence: StatusType | None,
    text: str | None,
    sent: dict[str, str],
) -> None:
    rest.user.update(statusText="Old text")
    await service.set_status(context(), presence=presence, text=text)
    assert rest.updates == [(sent, None)]


async def test_the_chosen_presence_is_compared_not_the_connection(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.user.update(status="offline", statusDefault="away", statusText="Lunch")
    change = await service.set_status(context(), presence=StatusType.AWAY, text="Lunch")
    assert not change.changed and rest.updates == []


async def test_a_custom_field_change_sends_every_field(
    service: ProfileService, rest: FakeRest
) -> None:
    change = await service.set_custom_field(context(), "TEAM", "Core")
    assert (change.label, change.before, change.after) == ("team", "Platform", "Core")
    assert rest.updates == [({}, {"team": "Core", "level": "junior"})]


async def test_a_select_field_takes_the_defined_spelling(
    service: ProfileService, rest: FakeRest
) -> None:
    await service.set_custom_field(context(), "level", "SENIOR")
    assert rest.updates == [({}, {"team": "Platform", "level": "senior"})]


async def test_clearing_a_custom_field_keeps_the_others(
    service: ProfileService, rest: FakeRest
) -> None:
    await service.set_custom_field(context(), "team", "")
    assert rest.updates == [({}, {"team": "", "level": "junior"})]


async def test_an_unknown_custom_field_lists_the_defined_ones(
    service: ProfileService, rest: FakeRest
) -> None:
    with pytest.raises(
        UserError, match=r"no custom field called “tema”. Did you mean team?.*team, level"
    ):
        await service.set_custom_field(context(), "tema", "Core")
    assert rest.updates == []


async def test_a_workspace_without_custom_fields_says_so(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.settings["Accounts_CustomFields"] = ""
    with pytest.raises(UserError, match="no custom profile fields"):
        await service.set_custom_field(context(), "team", "Core")


async def test_a_custom_field_value_breaking_a_rule_is_refused_before_a_call(
    service: ProfileService, rest: FakeRest
) -> None:
    with pytest.raises(UserError, match="at most 20"):
        await service.set_custom_field(context(), "team", "x" * 21)
    assert rest.updates == []


async def test_a_required_field_left_empty_elsewhere_is_explained(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.settings["Accounts_CustomFields"] = '{"team": {}, "badge": {"required": true}}'
    with pytest.raises(UserError, match=r"because badge is not filled in.*`/field badge <value>`"):
        await service.set_custom_field(context(), "team", "Core")
    assert rest.updates == []


async def test_a_server_rejection_is_a_sentence_about_the_field(
    service: ProfileService, rest: FakeRest
) -> None:
    rest.update_error = ServerError(
        "Bio size exceeds 260 characters [error-bio-size-exceeded]",
        status=400,
        error_type="error-bio-size-exceeded",
    )
    with pytest.raises(UserError, match="bio is too long"):
        await service.set_bio(context(), "Hello")


# -- commands over the services ----------------------------------------------------------------


async def run(services: dict[str, Any], text: str, ctx: CommandContext | None = None) -> str:
    registry = Registry.load()
    parsed = parse_command(text, prefixes=["/"])
    assert parsed is not None
    spec = registry.find(parsed.name)
    assert spec is not None
    # /status also remembers recent statuses (issue 17): in a real database of its own.
    with tempfile.TemporaryDirectory() as folder:
        async with await Store.open(Path(folder, "bot.db"), secret_key=generate_key()) as db:
            presets = StatusPresets(PresetStore(db), [], SystemClock())
            injected = {"registry": registry, "presets": presets, **services}
            return await spec.invoke(parsed, ctx or context(), injected)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("/status away At lunch", "Status set to away: At lunch"),
        ("/status busy", "Status set to busy, with no status text."),
        (
            "/status clear",
            "You have no status text, so there is nothing to clear (you are online).",
        ),
        ("/status online", "Your status is already online, with no status text."),
        ("/nick Ali", "Nickname set to “Ali”."),
        ("/nick clear", "You have no nickname, so there is nothing to clear."),
        ("/bio I'm here", "Bio set to “I'm here”."),
        ("/name Alice", "Your display name is already “Alice”."),
        ("/field team Core", "Field team set to “Core”."),
        ("/field team clear", "Field team cleared."),
    ],
)
async def test_profile_commands_say_what_changed(
    service: ProfileService, text: str, reply: str
) -> None:
    assert await run({"profile": service}, text) == reply


async def test_status_clear_keeps_the_presence(service: ProfileService, rest: FakeRest) -> None:
    rest.user.update(status="away", statusText="Lunch")
    assert await run({"profile": service}, "/status clear") == (
        "Status text cleared; you are still away."
    )


async def test_a_too_long_nickname_is_refused_before_any_call(
    service: ProfileService, rest: FakeRest
) -> None:
    with pytest.raises(UserError, match="nickname is 121 characters"):
        await run({"profile": service}, "/nick " + "n" * 121)
    assert rest.updates == [] and rest.settings_reads == 0


async def test_the_profile_command_shows_the_senders_profile(service: ProfileService) -> None:
    text = await run({"profile": service}, "/profile")
    assert text.startswith("Your profile (@alice):")
    assert "Display name: Alice" in text and "team: Platform" in text
    assert "alice@example.com" not in text and TOKEN not in text


# -- TokenService ------------------------------------------------------------------------------


@pytest.fixture
def tokens(rest: FakeRest, store: FakeStore) -> TokenService:
    return TokenService(store, rest)  # type: ignore[arg-type]


async def test_a_token_sent_in_a_dm_is_checked_stored_and_its_message_deleted(
    tokens: TokenService, store: FakeStore, rest: FakeRest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reply = await tokens.set(context(), TOKEN)
    assert store.tokens["u1"].credentials.token == TOKEN and store.tokens["u1"].valid
    assert rest.deleted == [("u1", "dm1", "m1")]
    assert "I deleted your message" in reply
    assert TOKEN not in reply and TOKEN not in caplog.text


async def test_a_token_of_another_user_is_refused(
    tokens: TokenService, store: FakeStore, rest: FakeRest
) -> None:
    with pytest.raises(UserError, match="did not accept that token for your account") as caught:
        await tokens.set(context(), OTHER_TOKEN)
    assert store.tokens == {} and rest.deleted == []
    assert OTHER_TOKEN not in str(caught.value)


async def test_a_token_answered_for_another_id_is_refused(
    tokens: TokenService, store: FakeStore, rest: FakeRest
) -> None:
    async def me(credentials: Credentials) -> dict[str, Any]:
        return {"_id": "u2", "username": "bob"}

    rest.me = me  # type: ignore[method-assign]
    with pytest.raises(UserError, match="belongs to another account"):
        await tokens.set(context(), TOKEN)
    assert store.tokens == {}


async def test_a_token_sent_in_a_room_is_refused_deleted_and_must_be_regenerated(
    tokens: TokenService, store: FakeStore, rest: FakeRest
) -> None:
    with pytest.raises(UserError) as caught:
        await tokens.set(context(direct=False), TOKEN)
    text = str(caught.value)
    assert "never post a token in a room" in text and "I deleted your message" in text
    assert "Regenerate" in text and TOKEN not in text
    assert store.tokens == {} and rest.deleted == [("u1", "GENERAL", "m1")]


async def test_a_room_token_that_cannot_be_deleted_asks_the_user_to_delete_it(
    tokens: TokenService, store: FakeStore
) -> None:
    with pytest.raises(UserError, match="please delete it yourself"):
        await tokens.set(context(direct=False), "Q" * 43)
    assert store.tokens == {}


async def test_a_stored_token_whose_message_cannot_be_deleted_says_so(
    tokens: TokenService, rest: FakeRest
) -> None:
    rest.delete_error = ServerError(
        "Not allowed", status=400, error_type="error-action-not-allowed"
    )
    reply = await tokens.set(context(), TOKEN)
    assert "please delete it yourself" in reply


async def test_a_server_problem_while_checking_stores_nothing(
    tokens: TokenService, store: FakeStore, rest: FakeRest
) -> None:
    async def me(credentials: Credentials) -> dict[str, Any]:
        raise ServerError("down", status=503)

    rest.me = me  # type: ignore[method-assign]
    with pytest.raises(UserError, match="did not store it"):
        await tokens.set(context(), TOKEN)
    assert store.tokens == {}


async def test_token_status_covers_none_valid_and_rejected(
    tokens: TokenService, store: FakeStore, rest: FakeRest
) -> None:
    assert "I don't have a token for you yet" in await tokens.status(context())
    await store.put_token(user_id="u1", username="alice", token=TOKEN)
    assert "still accepts it" in await tokens.status(context())
    rest.tokens.pop(TOKEN)
    with pytest.raises(TokenRejected):
        await tokens.status(context())
    assert store.tokens["u1"].valid is False
    assert "rejected it" in await tokens.status(context())


async def test_token_forget_deletes_it_once(tokens: TokenService, store: FakeStore) -> None:
    await store.put_token(user_id="u1", username="alice", token=TOKEN)
    assert "I deleted your token" in await tokens.forget(context())
    assert "nothing to forget" in await tokens.forget(context())


async def test_the_user_id_comes_from_the_sender_never_from_the_text(
    tokens: TokenService, store: FakeStore
) -> None:
    # bob sends alice's token: checked as (u2, token), which the server rejects
    with pytest.raises(UserError):
        await tokens.set(context(sender="u2"), TOKEN)
    assert store.tokens == {}


async def test_the_token_command_in_a_room_goes_through_the_refusal(
    tokens: TokenService, store: FakeStore, rest: FakeRest
) -> None:
    with pytest.raises(UserError, match="never post a token in a room"):
        await run({"tokens": tokens}, f"/token {TOKEN}", context(direct=False))
    assert store.tokens == {} and rest.deleted


@pytest.mark.parametrize(
    "text", [f"/token set {TOKEN} extra", f"/token sett {TOKEN}", f"/token set '{TOKEN}"]
)
async def test_a_garbled_token_command_in_a_room_still_refuses_and_deletes(
    tokens: TokenService, store: FakeStore, rest: FakeRest, text: str
) -> None:
    with pytest.raises(UserError, match="never post a token in a room") as caught:
        await run({"tokens": tokens}, text, context(direct=False))
    assert store.tokens == {} and rest.deleted and TOKEN not in str(caught.value)


async def test_a_usage_error_for_the_token_command_never_shows_the_token(
    tokens: TokenService,
) -> None:
    with pytest.raises(UsageError) as caught:
        await run({"tokens": tokens}, f"/token set {TOKEN} extra")
    assert TOKEN not in str(caught.value)

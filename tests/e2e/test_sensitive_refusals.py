"""Sensitive changes that Rocket.Chat (or the bot first) refuses: each becomes a sentence, and
the conversation asks again or ends; it never hangs."""

from __future__ import annotations

from tests.e2e.conftest import PASSWORD, ClockedWorld, ask_bot
from tests.e2e.test_sensitive_changes import (
    NEW_PASSWORD,
    can_log_in,
    ready,
    stored_conversations,
)


async def test_a_taken_username_is_asked_for_again(clocked_world: ClockedWorld) -> None:
    alice = await ready(await clocked_world.person("alice"))
    await clocked_world.person("bob")
    assert "@alice to @bob" in await ask_bot(alice, "/username bob")
    taken = await ask_bot(alice, "yes")
    assert "could not give you @bob" in taken and "Send me another username" in taken
    assert "@alice to @alice2" in await ask_bot(alice, "alice2")
    assert "you are now @alice2" in await ask_bot(alice, "yes")
    assert (await alice.profile())["username"] == "alice2"


async def test_a_username_against_the_workspace_rule_is_refused_before_asking(
    clocked_world: ClockedWorld,
) -> None:
    alice = await ready(await clocked_world.person("alice"))
    answer = await ask_bot(alice, "/username al!ce")
    assert "letters, digits, dots (.), dashes (-) and underscores (_)" in answer
    assert stored_conversations(clocked_world) == []


async def test_an_address_in_use_is_asked_for_again(clocked_world: ClockedWorld) -> None:
    alice = await ready(await clocked_world.person("alice"))
    await clocked_world.person("bob")
    await ask_bot(alice, "/email bob@example.com")
    assert "current password" in await ask_bot(alice, "yes")
    in_use = await ask_bot(alice, PASSWORD)
    assert "bob@example.com is already used by another account" in in_use
    assert "Send me another address" in in_use
    assert "to alice@example.org?" in await ask_bot(alice, "alice@example.org")
    assert "Cancelled your email change" in await ask_bot(alice, "no")
    assert (await alice.profile())["emails"][0]["address"] == "alice@example.com"


async def test_a_bad_address_gets_the_usage_and_no_conversation(
    clocked_world: ClockedWorld,
) -> None:
    alice = await ready(await clocked_world.person("alice"))
    answer = await ask_bot(alice, "/email alice-at-example.org")
    assert "name@example.com" in answer and "Usage: `/email <new address>`" in answer
    assert stored_conversations(clocked_world) == []


async def test_the_password_policy_is_explained_and_checked_before_sending(
    clocked_world: ClockedWorld,
) -> None:
    await clocked_world.admin.rest(
        "POST", "settings/Accounts_Password_Policy_Enabled", json={"value": True}
    )
    alice = await ready(await clocked_world.person("alice"))
    prompt = await ask_bot(alice, "/password")
    assert "This workspace wants at least 7 characters" in prompt
    weak = await ask_bot(alice, "zq1")
    assert "does not meet this workspace's password policy" in weak
    assert "at least 7 characters, an uppercase letter and a special character" in weak
    assert "zq1" not in weak
    assert "once more" in await ask_bot(alice, NEW_PASSWORD)
    mismatch = await ask_bot(alice, NEW_PASSWORD + "x")
    assert "not the same" in mismatch
    assert "once more" in await ask_bot(alice, NEW_PASSWORD)
    assert "current password" in await ask_bot(alice, NEW_PASSWORD)
    assert "Done" in await ask_bot(alice, PASSWORD)
    assert await can_log_in(clocked_world.url, "alice", NEW_PASSWORD)


async def test_the_current_password_as_the_new_one_is_asked_for_again(
    clocked_world: ClockedWorld,
) -> None:
    alice = await ready(await clocked_world.person("alice"))
    await ask_bot(alice, "/password")
    await ask_bot(alice, PASSWORD)
    await ask_bot(alice, PASSWORD)
    same = await ask_bot(alice, PASSWORD)
    assert "That is your current password. Send me a different new password." in same
    assert stored_conversations(clocked_world)[0][:2] == ("password", "new_password")


async def test_a_setting_that_forbids_username_changes_is_explained(
    clocked_world: ClockedWorld,
) -> None:
    await clocked_world.admin.rest(
        "POST", "settings/Accounts_AllowUsernameChange", json={"value": False}
    )
    alice = await ready(await clocked_world.person("alice"))
    answer = await ask_bot(alice, "/username alice2")
    assert "An admin has turned off changing the username" in answer
    assert stored_conversations(clocked_world) == []


async def test_without_a_token_the_commands_explain_how_to_delegate(
    clocked_world: ClockedWorld,
) -> None:
    alice = await clocked_world.person("alice")
    for command in ("/email alice@example.org", "/username alice2", "/password"):
        answer = await ask_bot(alice, command)
        assert "/token set" in answer and "Personal Access Tokens" in answer, command
    assert stored_conversations(clocked_world) == []


async def test_a_token_revoked_during_the_conversation_ends_it_with_a_sentence(
    clocked_world: ClockedWorld,
) -> None:
    alice = await ready(await clocked_world.person("alice"))
    await ask_bot(alice, "/username alice2")
    await alice.rest(
        "POST",
        "users.removePersonalAccessToken",
        json={"tokenName": "profile-bot"},
        headers={"X-2fa-Method": "password", "X-2fa-Code": "fresh-users-need-no-code"},
    )
    answer = await ask_bot(alice, "yes")
    assert "rejected your personal access token" in answer and "/token set" in answer
    assert stored_conversations(clocked_world) == []
    assert (await alice.profile())["username"] == "alice"

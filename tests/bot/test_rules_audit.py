"""The bookkeeping behind every change: audit entries (secrets by name only), undo points and
pending reverts, recorded by ProfileService against an in-memory Rocket.Chat user."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.clock import ManualClock
from bot.core.crypto import generate_key
from bot.core.values import Expiry, StatusType
from bot.profile.audit import AuditLog
from bot.profile.bookkeeping import Bookkeeping
from bot.profile.model import Account, Cause
from bot.profile.reverts import RevertBook
from bot.profile.service import ProfileService
from bot.storage.automation import AutomationStore
from bot.storage.store import Store
from tests.bot.test_profile_rules import TOKEN, FakeRest, FakeStore, context

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Books:
    service: ProfileService
    rest: FakeRest
    audit: AuditLog
    store: AutomationStore
    reverts: RevertBook
    clock: ManualClock
    path: Path


@pytest.fixture
async def books(tmp_path: Path) -> AsyncIterator[Books]:
    path = tmp_path / "bot.db"
    store = await Store.open(path, secret_key=generate_key())
    tokens = FakeStore()
    await tokens.put_token(user_id="u1", username="alice", token=TOKEN)
    automation = AutomationStore(store)
    clock = ManualClock(START)
    audit = AuditLog(automation, clock)
    reverts = RevertBook(automation)
    rest = FakeRest()
    service = ProfileService(
        tokens,  # type: ignore[arg-type]
        rest,  # type: ignore[arg-type]
        None,
        bookkeeping=Bookkeeping(audit=audit, store=automation, reverts=reverts),
        wall_clock=clock,
    )
    yield Books(service, rest, audit, automation, reverts, clock, path)
    await store.close()


def apply_updates(rest: FakeRest) -> None:
    """Make the fake user look as the last update asked (FakeRest only records updates)."""
    data, custom = rest.updates[-1]
    keys = {"statusType": "statusDefault", "statusText": "statusText"}
    for key, value in data.items():
        rest.user[keys.get(key, key)] = value.strip()
    if custom is not None:
        rest.user["customFields"] = custom


async def test_a_secret_field_is_recorded_by_name_only(books: Books) -> None:
    await books.audit.record(
        user_id="u1",
        username="alice",
        changes={"password": None, "email": ("a@example.com", "b@example.com")},
        cause="command /password",
    )
    (entry,) = await books.audit.recent("u1")
    assert [f.describe() for f in entry.fields] == [
        "password changed (value not recorded)",
        "e-mail “a@example.com” → “b@example.com”",
    ]
    with sqlite3.connect(books.path) as raw:
        (stored,) = raw.execute("SELECT changes FROM audit_log").fetchone()
    assert json.loads(stored)[0] == {"field": "password", "secret": True}


async def test_a_command_change_leaves_an_audit_entry_and_an_undo_point(books: Books) -> None:
    await books.service.set_nickname(context(), "Ali")
    (entry,) = await books.audit.recent("u1")
    assert (entry.cause, entry.username) == ("command /nick", "alice")
    assert [(f.field, f.old, f.new) for f in entry.fields] == [("nickname", "", "Ali")]
    point = await books.store.get_undo_point("u1")
    assert point is not None and point.changes == {"nickname": ("", "Ali")}


async def test_a_temporary_status_stores_what_to_put_back(books: Books) -> None:
    change = await books.service.set_status(
        context(), presence=StatusType.AWAY, text="Lunch", expiry=Expiry(timedelta(hours=1))
    )
    assert change.until == START + timedelta(hours=1)
    assert change.restores == ("online", "")
    pending = await books.reverts.get("u1", "status")
    assert pending is not None
    assert dict(pending.restore) == {"presence": "online", "status_text": ""}
    assert dict(pending.expected) == {"presence": "away", "status_text": "Lunch"}


async def test_a_second_temporary_change_keeps_the_first_values_and_a_lasting_one_cancels(
    books: Books,
) -> None:
    service, rest = books.service, books.rest
    await service.set_status(
        context(), presence=StatusType.AWAY, text="Lunch", expiry=Expiry(timedelta(hours=1))
    )
    apply_updates(rest)
    await service.set_status(
        context(), presence=StatusType.BUSY, text=None, expiry=Expiry(timedelta(minutes=30))
    )
    apply_updates(rest)
    pending = await books.reverts.get("u1", "status")
    assert pending is not None and pending.due_at == START + timedelta(minutes=30)
    assert dict(pending.restore) == {"presence": "online", "status_text": ""}
    assert dict(pending.expected) == {"presence": "busy", "status_text": "Lunch"}

    await service.set_status(context(), presence=None, text="Back")
    assert await books.reverts.get("u1", "status") is None


async def test_a_revert_puts_back_only_what_still_holds_the_bots_values(books: Books) -> None:
    service, rest = books.service, books.rest
    await service.set_status(
        context(), presence=StatusType.AWAY, text="Lunch", expiry=Expiry(timedelta(hours=1))
    )
    apply_updates(rest)
    await books.clock.advance(3600)
    pending = await books.reverts.get("u1", "status")
    assert pending is not None

    assert await service.revert(pending)
    assert rest.updates[-1] == ({"statusType": "online", "statusText": ""}, None)
    causes = [entry.cause for entry in await books.audit.recent("u1")]
    assert causes == ["expiry", "command /status"]
    assert await books.reverts.get("u1", "status") is None
    # The expiry is not an undo point: /undo still refers to the command's change.
    point = await books.store.get_undo_point("u1")
    assert point is not None and point.cause == "command /status"


async def test_a_status_changed_elsewhere_is_left_alone(books: Books) -> None:
    service, rest = books.service, books.rest
    await service.set_status(
        context(), presence=StatusType.AWAY, text="Lunch", expiry=Expiry(timedelta(hours=1))
    )
    rest.user.update(statusDefault="busy", statusText="Elsewhere")
    await books.clock.advance(3600)
    pending = await books.reverts.get("u1", "status")
    assert pending is not None
    sent = len(rest.updates)

    assert not await service.revert(pending)
    assert len(rest.updates) == sent
    assert await books.reverts.get("u1", "status") is None


async def test_a_rule_change_through_apply_is_audited_with_the_rule(books: Books) -> None:
    changes = await books.service.apply(
        Account("u1", "alice"),
        {"bio": "On call", "nickname": ""},
        cause=Cause("rule", "on-call"),
        duration=timedelta(hours=8),
    )
    assert changes == {"bio": ("", "On call")}  # the nickname was already empty
    assert books.rest.updates[-1] == ({"bio": "On call"}, None)
    (entry,) = await books.audit.recent("u1")
    assert entry.cause == "rule on-call"
    bio = await books.reverts.get("u1", "bio")
    assert bio is not None and dict(bio.restore) == {"bio": ""}
    assert await books.reverts.get("u1", "nickname") is None

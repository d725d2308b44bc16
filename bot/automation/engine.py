"""What the rules do: whom each acts for, the change through ProfileService, retries, opt-outs.

A rule acts only for people who delegated a token that Rocket.Chat still accepts and who did
not opt out (`/rules off NAME`); rules with `opted_in = true` act only for those who joined
(`/rules on NAME`). Schedule rules fire from the scheduler (one heap entry per rule); message
rules watch every new message through the dispatcher's hook and act for its sender. Each
person's change is separate: one failing (token revoked, server trouble) is retried with
bounded exponential backoff through the scheduler and never holds up the others; after the
last attempt, or at once for a refusal that retrying cannot fix, they get a DM saying why.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Final

from bot.automation.layers import Layer, StatusLayers
from bot.automation.members import RoomDirectory
from bot.automation.model import Rule
from bot.automation.patterns import PatternTimeout
from bot.automation.schedule import FireRule, Job, RetryRule
from bot.core import metrics, wording
from bot.core.clock import Clock
from bot.core.errors import ServerError, UserError
from bot.core.message import IncomingMessage
from bot.framework.parser import ParsedCommand
from bot.profile.model import Account, Cause, ProfileRefused
from bot.profile.reverts import STATUS_FIELDS
from bot.profile.service import ProfileService
from bot.profile.tokens import NoTokenError, TokenRejected
from bot.storage.automation import AutomationStore, Claims, DelegatedUser

log = logging.getLogger(__name__)

Notify = Callable[[str, str], Awaitable[None]]
MAX_ATTEMPTS: Final = 4
RETRY_BASE: Final = timedelta(minutes=1)
RETRY_CAP: Final = timedelta(minutes=15)
CONCURRENCY: Final = 8


@dataclass(frozen=True)
class RuleView:
    """A rule as one person sees it in `/rules`."""

    rule: Rule
    applies: bool  # the rule's users include them (members, listed, or joined)
    opted_out: bool

    @property
    def active(self) -> bool:
        return self.applies and not self.opted_out


def retry_delay(attempt: int, *, hint: float = 0) -> timedelta:
    """Backoff before attempt `attempt + 1`: 1, 2, 4 … minutes, at most 15, at least `hint` s."""
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** (attempt - 1))
    return max(delay, timedelta(seconds=hint))


class RuleEngine:
    """The configured rules at work; also the dispatcher hook for message triggers."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        profile: ProfileService,
        store: AutomationStore,
        members: RoomDirectory,
        schedule: Callable[[datetime, Job], None],
        clock: Clock,
        default_zone: tzinfo,
        notify: Notify | None = None,
        prefix: str = "/",
        max_attempts: int = MAX_ATTEMPTS,
        concurrency: int = CONCURRENCY,
        claims: Claims | None = None,
        layers: StatusLayers | None = None,
    ) -> None:
        self._layers = layers
        self._rules = {rule.name.casefold(): rule for rule in rules}
        self._message_rules = [rule for rule in rules if rule.trigger.rooms]
        self._profile = profile
        self._store = store
        self._members = members
        self._schedule = schedule
        self._clock = clock
        self._zone = default_zone
        self._notify = notify
        self.prefix = prefix
        self._max_attempts = max_attempts
        self._concurrency = concurrency
        self._claims = claims

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules.values())

    def find(self, name: str) -> Rule | None:
        """The rule called `name` (ignoring case)."""
        return self._rules.get(name.strip().casefold())

    # -- triggers that keep time ---------------------------------------------------------------

    def arm(self) -> None:
        """Put the next firing of every schedule rule on the scheduler."""
        now = self._clock.now()
        for rule in self._rules.values():
            due = rule.trigger.next_fire(now, self._zone)
            if due is not None:
                self._schedule(due, FireRule(rule.name, due))

    async def fire(self, name: str, due: datetime | None = None, *, rearm: bool = True) -> None:
        """A schedule rule fell due: re-arm it, then apply it for everyone it acts for.

        The firing of `due` is claimed first, so it runs once even when the scheduler moves to
        another replica halfway (the new one finishes what the old one left, with `rearm` off).
        """
        rule = self.find(name)
        if rule is None:
            return
        if rearm:
            # From now, not from the missed time: firings missed while asleep are coalesced.
            upcoming = rule.trigger.next_fire(self._clock.now(), self._zone)
            if upcoming is not None:
                self._schedule(upcoming, FireRule(rule.name, upcoming))
        claims = self._claims
        if claims is not None and due is not None and not await claims.firing(rule.name, due):
            log.info("rule %s (due %s) ran already or runs elsewhere", rule.name, due)
            return
        targets = await self.targets(rule)
        log.info("rule %s fired for %d user(s)", rule.name, len(targets))
        await self._for_each(targets, lambda user: self._attempt(rule, user, 1))
        if claims is not None and due is not None:
            await claims.fired(rule.name, due)

    async def retry(self, job: RetryRule) -> None:
        """Try a rule again for one person, unless they opted out meanwhile."""
        rule = self.find(job.rule)
        if rule is None:
            return
        # A token rejected on an earlier attempt may have been replaced since: try anyway (a
        # still-rejected one fails at once, without a call to Rocket.Chat).
        user = await self.eligible(rule, job.user_id, job.username, retrying=True)
        if user is None:
            log.info("dropped a retry of rule %s for %s: not eligible", rule.name, job.user_id)
            return
        await self._attempt(rule, user, job.attempt)

    # -- triggers that read messages (the dispatcher hook) -------------------------------------

    async def on_message(self, message: IncomingMessage, parsed: ParsedCommand | None) -> bool:
        """Act for the sender of a message matching a rule's pattern; never consume it."""
        if parsed is not None or message.is_direct or not self._message_rules:
            return False
        for rule in self._message_rules:
            try:
                if not await rule.trigger.matches(message.room_name, message.text):
                    continue
            except PatternTimeout:
                metrics.RULE_PATTERN_TIMEOUTS.labels(rule=rule.name).inc()
                log.warning("rule %s: its pattern took too long on a message; skipped", rule.name)
                continue
            user = await self.eligible(rule, message.sender_id, message.sender_username)
            if user is not None:
                await self._attempt(rule, user, 1)
        return False

    # -- whom a rule acts for -----------------------------------------------------------------

    async def targets(self, rule: Rule) -> list[DelegatedUser]:
        """Everyone the rule acts for now: selected, token valid, not opted out."""
        selector = rule.users
        if selector.usernames is not None:
            candidates = await self._store.delegated_by_username(selector.usernames)
        elif selector.opted_in:
            joined = await self._store.users_who_chose(rule.name, "in")
            candidates = await self._store.delegated_users(joined)
        else:
            everyone = [user for user in await self._store.delegated_users() if user.valid]
            assert selector.room is not None
            ids = [user.user_id for user in everyone]
            inside = await self._members.members_among(selector.room, ids)
            candidates = [user for user in everyone if user.user_id in inside]
        opted_out = await self._store.users_who_chose(rule.name, "out")
        return [user for user in candidates if user.valid and user.user_id not in opted_out]

    async def eligible(
        self, rule: Rule, user_id: str, username: str, *, retrying: bool = False
    ) -> DelegatedUser | None:
        """The person, if the rule acts for them now (`retrying`: even with a rejected token)."""
        found = await self._store.delegated_users([user_id])
        if not found or not (found[0].valid or retrying):
            return None
        choice = (await self._choices(user_id)).get(rule.name.casefold())
        if choice == "out" or not await self._selects(rule, user_id, username, choice == "in"):
            return None
        return found[0]

    async def _choices(self, user_id: str) -> dict[str, str]:
        """rule name (folded) → "in" / "out" for this person."""
        return {name.casefold(): c for name, c in (await self._store.choices_of(user_id)).items()}

    async def _selects(self, rule: Rule, user_id: str, username: str, joined: bool) -> bool:
        selector = rule.users
        if selector.usernames is not None:
            return selector.includes_username(username)
        if selector.opted_in:
            return joined
        assert selector.room is not None
        return user_id in await self._members.members_among(selector.room, [user_id])

    # -- applying, with retries ---------------------------------------------------------------

    async def _for_each(
        self, users: Sequence[DelegatedUser], act: Callable[[DelegatedUser], Awaitable[None]]
    ) -> None:
        queue = list(users)

        async def worker() -> None:
            while queue:
                await act(queue.pop())

        workers = min(self._concurrency, len(queue))
        await asyncio.gather(*(worker() for _ in range(workers)))

    async def _attempt(self, rule: Rule, user: DelegatedUser, attempt: int) -> None:
        """One try of the rule's change for one person; schedules the next try on failure."""
        account = Account(user.user_id, user.username)
        try:
            fields = await self._layered(account, rule)
            changes = (
                await self._profile.apply(
                    account,
                    fields,
                    cause=Cause("rule", rule.name),
                    duration=rule.change.duration,
                )
                if fields
                else {}
            )
        except NoTokenError:
            log.info("rule %s: %s has no token any more", rule.name, user.user_id)
            return
        except (TokenRejected, ProfileRefused, ServerError) as error:
            retryable = not isinstance(error, ProfileRefused) or error.retryable
            await self._failed(rule, user, attempt, error, retryable=retryable)
            return
        except UserError as error:
            await self._failed(rule, user, attempt, error, retryable=False)
            return
        except Exception as error:  # a bug must not stop the others; log it and try later
            log.exception("rule %s crashed for %s", rule.name, user.user_id)
            await self._failed(rule, user, attempt, error, retryable=True)
            return
        if changes:
            log.info("rule %s changed %s of %s", rule.name, ", ".join(changes), user.user_id)

    async def _layered(self, account: Account, rule: Rule) -> dict[str, str]:
        """The rule's fields to set now. Rules are the lowest status layer
        (bot.automation.layers): while a meeting, an absence or a status set for a while
        holds the status, the rule's status is kept for when it ends, and only the rest is
        set; a temporary one is kept too, to come back after a meeting that covers it."""
        fields = rule.change.fields()
        status: dict[str, str] = {key: fields[key] for key in STATUS_FIELDS if key in fields}
        if self._layers is None or not status:
            return fields
        duration = rule.change.duration
        until = self._clock.now() + duration if duration is not None else None
        cause = Cause("rule", rule.name)
        if await self._layers.covered(account.sender_id, Layer.RULE):
            await self._layers.keep(account, Layer.RULE, status, cause=cause, until=until)
            return {key: value for key, value in fields.items() if key not in status}
        if until is not None:
            await self._layers.keep(account, Layer.RULE, status, cause=cause, until=until)
        return fields

    async def _failed(
        self,
        rule: Rule,
        user: DelegatedUser,
        attempt: int,
        error: Exception,
        *,
        retryable: bool,
    ) -> None:
        if retryable and attempt < self._max_attempts:
            hint = float(getattr(error, "retry_after", 0) or 0)
            when = self._clock.now() + retry_delay(attempt, hint=hint)
            self._schedule(when, RetryRule(rule.name, user.user_id, user.username, attempt + 1))
            log.info(
                "rule %s failed for %s (attempt %d, %s); trying again at %s",
                rule.name,
                user.user_id,
                attempt,
                type(error).__name__,
                when.isoformat(),
            )
            return
        log.warning(
            "rule %s gave up for %s after %d attempt(s): %s",
            rule.name,
            user.user_id,
            attempt,
            type(error).__name__,
        )
        await self.tell(user.username, wording.rule_failed(rule.name, error, prefix=self.prefix))

    async def tell(self, username: str, text: str) -> None:
        """DM `username`, if the bot can talk; failures are only logged."""
        if self._notify is None:
            return
        try:
            await self._notify(username, text)
        except Exception:
            log.exception("could not tell %s about a rule", username)

    # -- /rules -------------------------------------------------------------------------------

    async def view(self, user_id: str, username: str) -> list[RuleView]:
        """Every rule as this person sees it."""
        choices = await self._choices(user_id)
        views = []
        for key, rule in self._rules.items():
            choice = choices.get(key)
            applies = await self._selects(rule, user_id, username, choice == "in")
            views.append(RuleView(rule=rule, applies=applies, opted_out=choice == "out"))
        return views

    async def has_valid_token(self, user_id: str) -> bool:
        """True when the person delegated a token Rocket.Chat still accepts (as far as known)."""
        found = await self._store.delegated_users([user_id])
        return bool(found and found[0].valid)

    async def choose(self, user_id: str, username: str, name: str, *, on: bool) -> str:
        """`/rules on NAME` or `/rules off NAME`; returns the reply."""
        rule = self.find(name)
        if rule is None:
            raise UserError(self._unknown(name))
        choice = (await self._choices(user_id)).get(rule.name.casefold())
        now = self._clock.now()
        if rule.users.opted_in:
            if on == (choice == "in"):
                state = "already joined" if on else "not joined"
                return f"You have {state} the rule “{rule.name}”; nothing changed."
            await self._store.set_choice(user_id, rule.name, "in" if on else None, now)
            if on:
                return f"You joined the rule “{rule.name}”: {rule.change.describe()}, " + (
                    f"{rule.trigger.describe()}. `{self.prefix}rules off {rule.name}` leaves it."
                )
            return f"You left the rule “{rule.name}”; it no longer acts for you."
        if not await self._selects(rule, user_id, username, False):
            raise UserError(
                f"The rule “{rule.name}” is not for you: it acts for {rule.users.describe()}. "
                "Ask an admin if you should be included."
            )
        if on == (choice != "out"):
            state = "on" if on else "off"
            return f"The rule “{rule.name}” is already {state} for you; nothing changed."
        await self._store.set_choice(user_id, rule.name, None if on else "out", now)
        if on:
            return f"The rule “{rule.name}” acts for you again."
        return (
            f"Done: the rule “{rule.name}” no longer acts for you. "
            f"`{self.prefix}rules on {rule.name}` turns it back on."
        )

    def _unknown(self, name: str) -> str:
        names = [rule.name for rule in self._rules.values()]
        if not names:
            return "There are no automation rules on this workspace."
        shown = name if len(name) <= 40 else name[:40] + "…"
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        guess = f" Did you mean {close[0]}?" if close else ""
        return f"There is no rule called “{shown}”.{guess} The rules are: {', '.join(names)}."

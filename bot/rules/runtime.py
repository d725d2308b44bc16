"""Team automation wired for ProfileBot: one object to build, start and stop.

`Automation` owns the bookkeeping ProfileService records into (audit trail, undo points, pending
reverts), the scheduler, the rule engine (also the message hook) and the services commands ask
for by name (`profile`, `audit`, `rules`). `start()` loads the stored reverts (those that fell
due while the bot was down run at once) and arms the schedule rules; `stop()` ends the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.audit import AuditLog
from bot.automation_store import AutomationStore
from bot.clock import Clock
from bot.errors import ServerError, UserError
from bot.profile import Bookkeeping, ProfileRefused, ProfileService
from bot.reverts import RevertBook
from bot.rules.engine import RuleEngine, retry_delay
from bot.rules.members import RoomDirectory
from bot.rules.schedule import FireRule, Job, RetryRule, RevertDue, Scheduler
from bot.tokens import NoTokenError, TokenRejected

if TYPE_CHECKING:
    from bot.config import BotSettings
    from bot.rest import RestClient
    from bot.store import Store

log = logging.getLogger(__name__)

MAX_REVERT_ATTEMPTS = 5


class Automation:
    """Expiring changes, rules, undo and the audit trail, ready to plug into ProfileBot."""

    def __init__(
        self,
        store: Store,
        rest: RestClient,
        settings: BotSettings,
        *,
        clock: Clock,
        tell: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        prefix = settings.prefixes[0]
        self.clock = clock
        self.store = AutomationStore(store)
        self.audit = AuditLog(self.store, clock)
        self.reverts = RevertBook(self.store)
        self.profile = ProfileService(
            store,
            rest,
            settings,
            bookkeeping=Bookkeeping(audit=self.audit, store=self.store, reverts=self.reverts),
            wall_clock=clock,
        )
        self.scheduler = Scheduler(clock, self._run)
        self.engine = RuleEngine(
            settings.rules,
            profile=self.profile,
            store=self.store,
            members=RoomDirectory(rest, settings, store, clock),
            schedule=self.scheduler.at,
            clock=clock,
            default_zone=settings.timezone,
            notify=tell,
            prefix=prefix,
        )
        self.reverts.subscribe(
            lambda user_id, group, due: self.scheduler.at(due, RevertDue(user_id, group))
        )

    @property
    def services(self) -> dict[str, Any]:
        """What commands can ask for by parameter name."""
        return {"profile": self.profile, "audit": self.audit, "rules": self.engine}

    @property
    def hook(self) -> RuleEngine:
        """The dispatcher hook for message triggers."""
        return self.engine

    async def start(self) -> None:
        """Schedule the stored reverts and the schedule rules, and start the scheduler."""
        pending = await self.reverts.pending()
        for user_id, group, due in pending:
            self.scheduler.at(due, RevertDue(user_id, group))
        overdue = sum(1 for *_, due in pending if due <= self.clock.now())
        if overdue:
            log.info("%d pending revert(s) fell due while the bot was down; applying", overdue)
        self.engine.arm()
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop the scheduler (pending reverts stay stored for the next start)."""
        await self.scheduler.stop()

    async def _run(self, job: Job) -> None:
        if isinstance(job, FireRule):
            await self.engine.fire(job.rule)
        elif isinstance(job, RetryRule):
            await self.engine.retry(job)
        else:
            await self._revert(job)

    async def _revert(self, job: RevertDue) -> None:
        pending = await self.reverts.get(job.user_id, job.group)
        if pending is None or pending.due_at > self.clock.now():
            return  # cancelled, or moved to later (its own entry is in the heap)
        try:
            await self.profile.revert(pending)
            return
        except NoTokenError:
            error: Exception = UserError("you removed your token, so I can't act for you.")
            retryable = False
        except ProfileRefused as exc:
            error, retryable = exc, exc.retryable
        except UserError as exc:  # a rejected token may be replaced; other refusals stay
            error, retryable = exc, isinstance(exc, TokenRejected)
        except ServerError as exc:
            error, retryable = exc, True
        if retryable and job.attempt < MAX_REVERT_ATTEMPTS:
            hint = float(getattr(error, "retry_after", 0) or 0)
            when = self.clock.now() + retry_delay(job.attempt, hint=hint)
            self.scheduler.at(when, RevertDue(job.user_id, job.group, job.attempt + 1))
            log.info("revert of %s for %s failed; trying again later", job.group, job.user_id)
            return
        await self.reverts.cancel(job.user_id, [job.group])
        log.warning("gave up putting back the %s of %s", job.group, job.user_id)
        values = ", ".join(f"{k.replace('_', ' ')} “{v}”" for k, v in pending.restore.items())
        reason = str(error) if isinstance(error, UserError) else "Rocket.Chat kept failing."
        await self.engine.tell(
            pending.username,
            f"I could not put back your {job.group} ({values}) when it expired: {reason} "
            "Please set it yourself.",
        )

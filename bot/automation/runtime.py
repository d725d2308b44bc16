"""Team automation wired for ProfileBot: one object to build, start and stop.

`Automation` owns the bookkeeping ProfileService records into (audit trail, undo points, pending
reverts), the scheduler, the rule engine (also the message hook) and the services commands ask
for by name (`profile`, `audit`, `rules`). `start()` loads the stored reverts (those that fell
due while the bot was down run at once) and arms the schedule rules; `stop()` ends the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from bot.automation.calendar_status import CalendarOptions, CalendarStatus
from bot.automation.engine import RuleEngine, retry_delay
from bot.automation.layers import StatusLayers
from bot.automation.members import RoomDirectory
from bot.automation.model import Rule
from bot.automation.ooo.service import OooSettings, OutOfOffice, Teller
from bot.automation.schedule import (
    AbsenceEnds,
    AbsenceStarts,
    CalendarCheck,
    CalendarPoll,
    FireRule,
    Job,
    RetryRule,
    RevertDue,
    Scheduler,
)
from bot.core import wording
from bot.core.clock import Clock
from bot.core.errors import ServerError, UserError
from bot.profile.audit import AuditLog
from bot.profile.model import ProfileRefused
from bot.profile.reverts import STATUS_GROUP, RevertBook
from bot.profile.service import ProfileService
from bot.profile.tokens import NoTokenError, TokenRejected
from bot.storage.absences import AbsenceStore
from bot.storage.automation import AutomationStore, Claims
from bot.storage.calendars import CalendarStore
from bot.storage.layers import LayerStore

if TYPE_CHECKING:
    from bot.rocketchat.rest import RestClient
    from bot.storage.replicas import Replicas
    from bot.storage.store import Store

log = logging.getLogger(__name__)

MAX_REVERT_ATTEMPTS = 5
SCHEDULER_LEASE = "scheduler"


class AutomationSettings(OooSettings, Protocol):
    """What team automation reads of the configuration (bot.app.config.BotSettings has it)."""

    @property
    def rules(self) -> Sequence[Rule]: ...
    @property
    def replica_lease(self) -> float: ...
    @property
    def timezone(self) -> tzinfo: ...
    @property
    def calendar(self) -> Any: ...  # bot.app.config.CalendarSettings


class Automation:
    """Expiring changes, rules and the scheduler, ready to plug into ProfileBot.

    The profile service it acts through, and the bookkeeping that service records into (the
    audit trail, the pending reverts, the automation store), are built by the app and given.
    """

    def __init__(
        self,
        profile: ProfileService,
        *,
        store: Store,
        automation_store: AutomationStore,
        audit: AuditLog,
        reverts: RevertBook,
        rest: RestClient,
        settings: AutomationSettings,
        clock: Clock,
        prefix: str = "/",
        tell: Teller | None = None,
        replicas: Replicas | None = None,
    ) -> None:
        self.clock = clock
        self.store = automation_store
        self.replicas = replicas
        self.claims = Claims(
            store, owner=replicas.id if replicas else "local", lease=settings.replica_lease
        )
        self.leading = False
        self._known_reverts: dict[tuple[str, str], datetime] = {}
        self.audit = audit
        self.reverts = reverts
        self.profile = profile
        self.scheduler = Scheduler(clock, self._run)
        self.layers = StatusLayers(profile, reverts, LayerStore(store), clock)
        self.engine = RuleEngine(
            settings.rules,
            profile=profile,
            store=automation_store,
            members=RoomDirectory(rest, settings, store, clock),
            schedule=self.scheduler.at,
            clock=clock,
            default_zone=settings.timezone,
            notify=tell,
            prefix=prefix,
            claims=self.claims,
            layers=self.layers,
        )
        self.ooo = OutOfOffice(
            profile,
            reverts,
            AbsenceStore(store),
            rest,
            settings,
            clock,
            schedule=self.scheduler.at,
            tell=tell,
            owner=replicas.id if replicas else "local",
            shared=replicas is not None,
            lease=settings.replica_lease,
            layers=self.layers,
        )
        self.calendar = CalendarStatus(
            profile,
            self.layers,
            CalendarStore(store),
            clock,
            schedule=self.scheduler.at,
            options=CalendarOptions.from_settings(settings.calendar),
            tell=tell,
            ooo=self.ooo,
        )
        self.reverts.subscribe(
            lambda user_id, group, due: self.scheduler.at(due, RevertDue(user_id, group))
        )

    @property
    def services(self) -> dict[str, Any]:
        """What commands can ask for by parameter name."""
        return {
            "profile": self.profile,
            "audit": self.audit,
            "rules": self.engine,
            "ooo": self.ooo,
            "calendar": self.calendar,
        }

    @property
    def hook(self) -> RuleEngine:
        """The dispatcher hook for message triggers."""
        return self.engine

    async def start(self) -> None:
        """Start the scheduler: at once with one process; with replicas, `lead()` starts it on
        the replica that holds the scheduler lease."""
        await self.calendar.__aenter__()  # the feeds' connection pool, for commands too
        if self.replicas is None:
            await self._begin()
        else:
            await self.lead()

    async def lead(self) -> None:
        """With replicas, every heartbeat: take or renew the scheduler lease; start or stop
        the scheduler to match, and, while leading, pick up reverts other replicas stored."""
        if self.replicas is None:
            return
        holds = await self.replicas.acquire(SCHEDULER_LEASE)
        if holds and not self.leading:
            log.info("this replica (%s) now runs the scheduler", self.replicas.id)
            self.leading = True
            await self._begin()
        elif not holds and self.leading:
            log.warning("this replica lost the scheduler lease; stopping its scheduler")
            await self._end()
        if self.leading:
            await self.claims.renew()
            await self._pick_up_reverts()
            await self.ooo.tick()
            await self.calendar.tick()

    async def _pick_up_reverts(self) -> None:
        horizon = self.clock.now() + timedelta(seconds=self.claims.lease)
        for user_id, group, due in await self.claims.reverts_due_by(horizon):
            if self._known_reverts.get((user_id, group)) != due:
                self._known_reverts[(user_id, group)] = due
                self.scheduler.at(due, RevertDue(user_id, group))

    async def _end(self) -> None:
        self.leading = False
        self.calendar.pause()
        await self.ooo.pause()
        await self.scheduler.stop()
        self.scheduler.clear()
        self._known_reverts.clear()

    async def _begin(self) -> None:
        """Schedule the stored reverts and the schedule rules, and start the scheduler."""
        pending = await self.reverts.pending()
        for user_id, group, due in pending:
            self.scheduler.at(due, RevertDue(user_id, group))
        overdue = sum(1 for *_, due in pending if due <= self.clock.now())
        if overdue:
            log.info("%d pending revert(s) fell due while the bot was down; applying", overdue)
        self.engine.arm()
        self.scheduler.start()
        for rule, due in await self.claims.abandoned_firings():
            log.info("finishing rule %s (due %s), left unfinished by a stopped replica", rule, due)
            self.scheduler.at(self.clock.now(), FireRule(rule, due, rearm=False))
        await self.ooo.resume()  # absences: scheduled again, followed, finished if left halfway
        await self.calendar.resume()  # feeds: polled again, meeting statuses checked

    async def stop(self) -> None:
        """Stop the scheduler (pending reverts stay stored for the next start) and, with
        replicas, hand the scheduler lease on at once."""
        await self.ooo.pause()
        self.calendar.pause()
        await self.scheduler.stop()
        await self.calendar.__aexit__(None, None, None)
        if self.replicas is not None and self.leading:
            self.leading = False
            await self.replicas.release(SCHEDULER_LEASE)

    async def _run(self, job: Job) -> None:
        if isinstance(job, FireRule):
            await self.engine.fire(job.rule, job.due, rearm=job.rearm)
        elif isinstance(job, RetryRule):
            await self.engine.retry(job)
        elif isinstance(job, AbsenceStarts | AbsenceEnds):
            await self.ooo.run(job)
        elif isinstance(job, CalendarPoll | CalendarCheck):
            await self.calendar.run(job)
        else:
            await self._revert(job)

    async def _revert(self, job: RevertDue) -> None:
        pending = await self.reverts.get(job.user_id, job.group)
        if pending is None or pending.due_at > self.clock.now():
            return  # cancelled, or moved to later (its own entry is in the heap)
        if not await self.claims.revert(job.user_id, job.group, pending.due_at):
            return  # another replica is putting it back
        try:
            if job.group == STATUS_GROUP:  # a lower status layer may come back instead
                await self.layers.put_back(pending)
            else:
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
        await self.engine.tell(pending.username, wording.revert_failed(job.group, values, error))

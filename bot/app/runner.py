"""The running bot: storage, REST client, command registry and the realtime connection, wired.

`ProfileBot` is an async context manager so tests and the demo can run it in-process;
`run_bot()` is what `rcbot run` calls. A dropped websocket is reconnected with exponential
backoff and jitter, logging in again with the last resume token (the password is the
fallback); commands already queued keep running meanwhile. On start-up and after each
reconnect the bot catches up on the messages it missed (bot.rocketchat.catchup), and the handled-message
record (bot.storage.handled) makes sure none runs twice.

On PostgreSQL several replicas run side by side (bot.storage.replicas): each claims messages in the
database, a heartbeat keeps its claims and its place in the live set, takes over what a stopped
replica left, and moves the scheduler to whichever replica holds its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from types import TracebackType
from typing import Any, Self

from bot.app.config import BotSettings
from bot.app.gc_tuning import freeze_start_up
from bot.app.health import HealthServer
from bot.app.wiring import dispatch_chain
from bot.automation.runtime import Automation
from bot.core import metrics
from bot.core.clock import Clock, SystemClock
from bot.core.errors import AuthError, BotError, LoginRefused
from bot.core.message import IncomingMessage
from bot.core.setting_names import describe_key
from bot.flows.conversations import Conversations
from bot.flows.leaks import LeakGuard
from bot.flows.sensitive import SensitiveChanges
from bot.framework.admission import Admission
from bot.framework.dispatch import Dispatcher
from bot.framework.registry import Registry
from bot.framework.steps import MessageHook
from bot.profile.audit import AuditLog
from bot.profile.bookkeeping import Bookkeeping
from bot.profile.presets import StatusPresets
from bot.profile.reverts import RevertBook
from bot.profile.service import ProfileService
from bot.profile.tokens import TokenService
from bot.rocketchat.account import BotAccount, BotLogin
from bot.rocketchat.catchup import CatchUp, RestHistory
from bot.rocketchat.privacy import OneToOneRooms
from bot.rocketchat.replies import Replies
from bot.rocketchat.rest import RestClient
from bot.rocketchat.server_info import ServerInfo
from bot.rocketchat.transport import ConnectionLost, RealtimeConnection
from bot.storage.automation import AutomationStore
from bot.storage.handled import HandledMessages
from bot.storage.presets import PresetStore
from bot.storage.replicas import Heartbeat, Replicas, beat_period
from bot.storage.store import Store

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0


def reconnect_delay(failures: int, *, first: float, cap: float, jitter: float) -> float:
    """Seconds before the next connection try: `first` doubled per failed try, capped at `cap`,
    times 0.5-1 by `jitter` (0-1) so that many bots do not come back in step."""
    return min(cap, first * 2 ** min(failures, 30)) * (0.5 + 0.5 * jitter)


class ProfileBot:
    """One bot process: `async with ProfileBot(settings) as bot: await bot.run_forever()`."""

    def __init__(self, settings: BotSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.connected = asyncio.Event()
        self.registry = Registry.load(aliases=settings.aliases, prefixes=settings.prefixes)
        self._store: Store | None = None
        self._rest = RestClient(
            str(settings.server_url),
            timeout=settings.request_timeout,
            max_attempts=settings.retry_attempts,
            backoff_base=settings.retry_delay_min,
            backoff_cap=settings.retry_delay_max,
            max_rate_limit_wait=settings.max_rate_limit_wait,
        )
        metrics.count_api_errors(self._rest)
        self._connection = RealtimeConnection(
            str(settings.server_url), self._on_message, retry_wait=settings.answer_wait
        )
        # Which Rocket.Chat answered, read again at every (re)connect; changes depend on it.
        self.server = ServerInfo()
        self._account = BotAccount(
            BotLogin.from_settings(settings), self._rest, self._connection, server=self.server
        )
        self._handled: HandledMessages | None = None
        self._catch_up_reader = CatchUp(
            self._connection.rooms, RestHistory(self._rest, self._account.current)
        )
        self._stopping = False
        self.replies = Replies(self._connection)
        self._dispatcher: Dispatcher | None = None
        self._runner: asyncio.Task[None] | None = None
        self._automation: Automation | None = None
        self._conversations: Conversations | None = None
        self.replicas: Replicas | None = None
        self._heartbeat: Heartbeat | None = None

    @property
    def user_id(self) -> str:
        return self._connection.user_id

    @property
    def username(self) -> str:
        return self._connection.username

    @property
    def automation(self) -> Automation | None:
        """Team automation (scheduler, rules, audit trail) once the bot is entered."""
        return self._automation

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)  # close whatever was opened
            raise
        return self

    async def _start(self) -> None:
        settings = self.settings
        secret_key = settings.secret_key.get_secret_value()
        self._store = await Store.open(self.settings.db, secret_key=secret_key)
        if self._store.shared:
            self.replicas = Replicas(
                self._store, lease=settings.replica_lease, defer=settings.replica_defer
            )
            await self.replicas.beat()
            log.info("replica %s; live: %s", self.replicas.id, ", ".join(self.replicas.live))
        self._handled = HandledMessages(
            self._store,
            window=settings.catch_up_window,
            owner=self.replicas.id if self.replicas else "",
            lease=settings.replica_lease,
        )
        await self._handled.start()
        await self._rest.open()
        tokens = TokenService(self._store, self._rest, prefix=settings.prefixes[0])
        # Team automation owns the profile service: every change records its audit entry, its
        # undo point and any pending revert.
        automation_store = AutomationStore(self._store)
        audit = AuditLog(automation_store, self.clock)
        reverts = RevertBook(automation_store)
        profile = ProfileService(
            self._store,
            self._rest,
            settings,
            tokens=tokens,
            bookkeeping=Bookkeeping(audit=audit, store=automation_store, reverts=reverts),
            wall_clock=self.clock,
            server=self.server,
        )
        if profile.snapshots.max_age > 0:
            # The realtime API keeps status snapshots exact (bot.profile.snapshots).
            self._connection.status_listener = profile.snapshots
        self._automation = Automation(
            profile,
            store=self._store,
            automation_store=automation_store,
            audit=audit,
            reverts=reverts,
            rest=self._rest,
            settings=settings,
            clock=self.clock,
            prefix=settings.prefixes[0],
            tell=self.replies.tell,
            replicas=self.replicas,
        )
        self._conversations = Conversations(
            self._store,
            self._connection,
            self.clock,
            timeout=settings.conversation_timeout,
            prefix=settings.prefixes[0],
            interrupted_after=settings.request_timeout + settings.in_doubt_wait,
        )
        sensitive = SensitiveChanges(
            self._conversations,
            profile,
            self._rest,
            prefix=settings.prefixes[0],
            in_doubt_wait=settings.in_doubt_wait,
        )
        services: dict[str, Any] = {
            "tokens": tokens,
            "registry": self.registry,
            "settings": settings,
            **self._automation.services,
            "conversations": self._conversations,
            "sensitive": sensitive,
            "presets": StatusPresets(
                PresetStore(self._store),
                [preset.preset for preset in settings.presets],
                self.clock,
                prefix=settings.prefixes[0],
            ),
        }
        guard = LeakGuard(
            tokens=tokens,
            password=sensitive.password,
            conversations=self._conversations,
            replies=self.replies,
            registry=self.registry,
        )
        # The conversations hook goes first: a pending answer may be a secret.
        hooks: list[MessageHook] = [self._conversations, self._automation.hook]
        self.registry.check_injectables({"ctx", *services})
        await self._connect_at_start()
        self._dispatcher = Dispatcher(
            bot_user_id=self.user_id,
            chain=dispatch_chain(
                settings,
                registry=self.registry,
                services=services,
                replies=self.replies,
                privacy=OneToOneRooms(self._connection, bot_user_id=self.user_id),
                guard=guard,
                hooks=hooks,
                clock=self.clock,
            ),
            admission=Admission(self._handled, self.replicas),
            max_concurrent=settings.max_concurrent_commands,
        )
        self._conversations.open()  # its sweeper may tell people about expiries right away
        await self._automation.start()  # reverts that fell due while down run right away
        try:
            await self._catch_up()  # from the stored marks: what came while the bot was down
        except (ConnectionLost, BotError) as error:
            log.warning("catch-up at start-up stopped (%s); it runs again on reconnect", error)
        if self.replicas is not None:
            self._heartbeat = Heartbeat(
                beat_period(settings.replica_lease),
                [
                    ("heartbeat", self.replicas.beat),
                    ("lease renewal", self._handled.renew),
                    ("take-over", self._take_over),
                    ("scheduler lease", self._automation.lead),
                ],
            )
            self._heartbeat.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Take no new messages (the next start catches up on them); finish the commands in
        # flight first: they need the connection's reader to get answers.
        self._stopping = True
        if self._heartbeat is not None:
            await self._heartbeat.stop()
        if self._dispatcher is not None:
            try:
                await asyncio.wait_for(self._dispatcher.drain(), DRAIN_SECONDS)
            except TimeoutError:
                log.warning("gave up waiting for commands in flight after %s s", DRAIN_SECONDS)
        if self._conversations is not None:
            await self._conversations.close()
        if self._automation is not None:
            await self._automation.stop()
        if self.replicas is not None:
            with contextlib.suppress(Exception):  # the others notice when its lease runs out
                await self.replicas.leave()
        if self._runner is not None:
            self._runner.cancel()
        await self._connection.close()
        await self._rest.close()
        if self._store is not None:
            await self._store.close()

    async def _connect_at_start(self) -> None:
        """Log in, waiting for Rocket.Chat as long as it takes (it often starts after the bot,
        while its database comes up), with the reconnect backoff; a refused login ends here
        (LoginRefused), since waiting will not fix it."""
        failures = 0
        while True:
            try:
                await self._connect()
                return
            except AuthError as error:
                raise LoginRefused(self._login_refused(error)) from None
            except (ConnectionLost, BotError) as error:  # unreachable, 5xx, rate limited
                delay = reconnect_delay(
                    failures,
                    first=self.settings.reconnect_delay_min,
                    cap=self.settings.reconnect_delay_max,
                    jitter=random.random(),
                )
                failures += 1
                log.warning(
                    "cannot reach Rocket.Chat at %s (attempt %d): %s; trying again in %.1f s",
                    self.settings.server_url,
                    failures,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)

    def _login_refused(self, error: AuthError) -> str:
        settings = self.settings
        if settings.uses_password_login:
            what = (
                f"as @{settings.username}: check {describe_key('username')} and "
                f"{describe_key('password')}"
            )
        else:
            what = (
                f"as user {settings.user_id}: check {describe_key('user_id')} and "
                f"{describe_key('auth_token')}"
            )
        return (
            f"Rocket.Chat at {settings.server_url} refused the bot's login {what}, and that "
            f"the account exists and is active ({error})"
        )

    async def _connect(self) -> None:
        await self._account.connect()
        self.connected.set()
        log.info("connected to %s as %s", self.settings.server_url, self.username)

    async def _on_message(self, message: IncomingMessage, ts: float | None) -> None:
        if self._dispatcher is not None and not self._stopping:
            await self._dispatcher.handle(message, ts=ts)

    async def _catch_up(self) -> None:
        if self._dispatcher is None or self._handled is None:
            return
        since = await self._handled.since()
        await self._catch_up_reader.run(since, self._dispatcher)

    async def _take_over(self) -> None:
        """Read again the rooms where a stopped replica left claimed messages unfinished;
        the dispatcher claims them anew (one replica wins) and runs them."""
        if self._dispatcher is None or self._handled is None or not self.connected.is_set():
            return
        expired = await self._handled.expired_claims()
        if not expired:
            return
        log.info("taking over unfinished messages in %d room(s)", len(expired))
        await self._catch_up_reader.run(
            lambda room: expired[room] - 1 if room in expired else float("inf"), self._dispatcher
        )

    def start(self) -> None:
        """Run the connection loop in the background (for tests and the demo)."""
        self._runner = asyncio.create_task(self.run_forever())

    async def run_forever(self) -> None:
        """Deliver messages; whenever the socket drops, reconnect with backoff and jitter, log
        in again and catch up on what was missed meanwhile."""
        while True:
            try:
                await self._connection.run()
            except ConnectionLost as lost:
                log.warning("realtime connection lost: %s", lost)
            self.connected.clear()
            await self._reconnect()

    async def _reconnect(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(
                reconnect_delay(
                    failures,
                    first=self.settings.reconnect_delay_min,
                    cap=self.settings.reconnect_delay_max,
                    jitter=random.random(),
                )
            )
            try:
                await self._connect()
                await self._catch_up()
            except (ConnectionLost, BotError) as error:  # AuthError, ServerError, RateLimited
                self.connected.clear()
                failures += 1
                log.warning("reconnect failed (attempt %d): %s", failures, error)
                continue
            except Exception:  # a bug; a catch-up that failed must not keep the bot offline
                log.exception("unexpected failure while reconnecting or catching up")
                if not self._connection.is_ready:
                    self.connected.clear()
                    failures += 1
                    continue
            metrics.RECONNECTS.inc()
            return


async def run_bot(settings: BotSettings) -> None:
    """`rcbot run`: serve until SIGTERM or Ctrl-C, then finish the commands in flight and exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bot = ProfileBot(settings)
    async with contextlib.AsyncExitStack() as stack:
        if settings.health_port is not None:
            # Up before the bot connects, so probes see 503 until it has logged in.
            health = HealthServer(
                host=settings.health_host, port=settings.health_port, ready=bot.connected.is_set
            )
            await stack.enter_async_context(health)
            log.info("health: http://%s:%d/healthz and /metrics", health.host, health.port)
        # Start-up may wait a long time for Rocket.Chat: a SIGTERM meanwhile ends it cleanly.
        starting = asyncio.ensure_future(stack.enter_async_context(bot))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            log.info("stopped before Rocket.Chat could be reached")
            return
        stopping.cancel()
        starting.result()  # a start-up that failed raises here
        bot.start()
        freeze_start_up()
        log.info("ready: listening as %s", bot.username)
        await stop.wait()
        log.info("stopping: finishing the commands in flight")

"""The running bot: storage, REST client, command registry and the realtime connection, wired.

`ProfileBot` is an async context manager so tests and the demo can run it in-process;
`run_bot()` is what `rcbot run` calls. A dropped websocket is reconnected with exponential
backoff and jitter; commands already queued keep running meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from types import TracebackType
from typing import Any, Self

from bot.clock import Clock, SystemClock
from bot.config import BotSettings
from bot.conversations import Conversations
from bot.dispatch import Dispatcher, MessageHook
from bot.message import IncomingMessage
from bot.registry import Registry
from bot.replies import Replies
from bot.rest import Credentials, RestClient
from bot.rules.runtime import Automation
from bot.sensitive import SensitiveChanges
from bot.store import Store
from bot.tokens import TokenService
from bot.transport import ConnectionLost, RealtimeConnection

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0
DRAIN_SECONDS = 10.0


class ProfileBot:
    """One bot process: `async with ProfileBot(settings) as bot: await bot.run_forever()`."""

    def __init__(self, settings: BotSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.connected = asyncio.Event()
        self.registry = Registry.load(aliases=settings.aliases, prefixes=settings.prefixes)
        self._store: Store | None = None
        self._rest = RestClient(str(settings.server_url), timeout=settings.request_timeout)
        self._connection = RealtimeConnection(str(settings.server_url), self._on_message)
        self.replies = Replies(self._connection)
        self._dispatcher: Dispatcher | None = None
        self._runner: asyncio.Task[None] | None = None
        self._automation: Automation | None = None
        self._conversations: Conversations | None = None

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
        settings = self.settings
        secret_key = settings.secret_key.get_secret_value()
        self._store = await Store.open(self.settings.db, secret_key=secret_key)
        await self._rest.open()
        tokens = TokenService(self._store, self._rest, prefix=settings.prefixes[0])
        # Team automation owns the profile service: every change records its audit entry, its
        # undo point and any pending revert.
        self._automation = Automation(
            self._store, self._rest, settings, clock=self.clock, tell=self.replies.tell
        )
        self._conversations = Conversations(
            self._store,
            self._connection,
            self.clock,
            timeout=settings.conversation_timeout,
            prefix=settings.prefixes[0],
        )
        services: dict[str, Any] = {
            "tokens": tokens,
            "registry": self.registry,
            "settings": settings,
            **self._automation.services,
            "conversations": self._conversations,
            "sensitive": SensitiveChanges(
                self._conversations,
                self._rest,
                tokens,
                prefix=settings.prefixes[0],
                audit=self._automation.audit,
            ),
        }
        # The conversations hook goes first: a pending answer may be a secret.
        hooks: list[MessageHook] = [self._conversations, self._automation.hook]
        self.registry.check_injectables({"ctx", *services})
        await self._connect()
        self._dispatcher = Dispatcher(
            bot_user_id=self.user_id,
            registry=self.registry,
            services=services,
            replies=self.replies,
            prefixes=list(self.settings.prefixes),
            max_concurrent=self.settings.max_concurrent_commands,
            hooks=hooks,
        )
        self._conversations.open()  # its sweeper may tell people about expiries right away
        await self._automation.start()  # reverts that fell due while down run right away
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Finish the commands in flight first: they need the connection's reader to get answers.
        if self._dispatcher is not None:
            try:
                await asyncio.wait_for(self._dispatcher.drain(), DRAIN_SECONDS)
            except TimeoutError:
                log.warning("gave up waiting for commands in flight after %s s", DRAIN_SECONDS)
        if self._conversations is not None:
            await self._conversations.close()
        if self._automation is not None:
            await self._automation.stop()
        if self._runner is not None:
            self._runner.cancel()
        await self._connection.close()
        await self._rest.close()
        if self._store is not None:
            await self._store.close()

    async def _connect(self) -> None:
        settings = self.settings
        if settings.user_id and settings.auth_token:
            token = settings.auth_token.get_secret_value()
            me = await self._rest.me(Credentials(settings.user_id, token))
            await self._connection.connect(username=str(me["username"]), resume_token=token)
        else:
            password = settings.password.get_secret_value() if settings.password else ""
            await self._connection.connect(username=str(settings.username), password=password)
        self.connected.set()
        log.info("connected to %s as %s", settings.server_url, self.username)

    async def _on_message(self, message: IncomingMessage) -> None:
        if self._dispatcher is not None:
            await self._dispatcher.handle(message)

    def start(self) -> None:
        """Run the connection loop in the background (for tests and the demo)."""
        self._runner = asyncio.create_task(self.run_forever())

    async def run_forever(self) -> None:
        """Deliver messages, reconnecting with backoff and jitter whenever the socket drops."""
        failures = 0
        while True:
            try:
                await self._connection.run()
            except ConnectionLost as lost:
                log.warning("realtime connection lost: %s", lost)
            self.connected.clear()
            while not self.connected.is_set():
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures) * random.uniform(0.5, 1.0)
                await asyncio.sleep(delay)
                try:
                    await self._connect()
                    failures = 0
                except ConnectionLost as lost:
                    failures += 1
                    log.warning("reconnect failed (attempt %d): %s", failures, lost)


async def run_bot(settings: BotSettings) -> None:
    """`rcbot run`: serve until SIGTERM or Ctrl-C, then finish the commands in flight and exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with ProfileBot(settings) as bot:
        bot.start()
        log.info("ready: listening as %s", bot.username)
        await stop.wait()
        log.info("stopping: finishing the commands in flight")

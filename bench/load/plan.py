"""The workloads of `bench.load`: who sends what, in which order, and which answer is right.

Three mixes (`--mix`):

- **burst** (the workload of issue 8): each person sends their share of `--commands` back to
  back, cycling `/nick`, `/bio`, `/status`, and starts again until the phase has run long
  enough. After a person's first command nearly every command finds the bot's profile snapshot
  (30 s) warm: the bot's best case.
- **spaced**: many people, each visiting once per pass with one or two changes (`/nick`,
  `/bio`, or `/status` with a text) sent back to back. A person's next visit starts no sooner
  than `--spacing` seconds (31: just over the bot's 30 s snapshot window) after their last
  answer, so the first command of every visit is cold.
- **realistic**: visits paced as in `spaced`, of the kinds people send: mostly status changes,
  some `/bio` and `/nick`, the same value again ("already so"), `/profile`, a change taken back
  with `/undo`, and now and then an e-mail change with its whole conversation (`/email`, `yes`,
  then the current password, which Rocket.Chat asks for as the second factor of accounts without
  authenticator app or e-mail codes). Rocket.Chat 7.x allows one e-mail change a minute per
  user, so a person changes theirs at most once per phase (a second draw is a status change).

Every person's plan is drawn from a generator seeded by the mix and the person, so the bot and
the baseline get the same commands in the same order. Each command carries the answer it must
get, worked out from what the plan has made of the person's profile so far (`Person`): the same
check for both targets, and a wrong answer fails the run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

PRESENCES: Final = ("away", "busy", "online")
STATUS_TEXTS_PER_USER: Final = 4  # Rocket.Chat allows 5 status-text changes a minute per user
NOT_SET: Final = "(not set)"  # how /profile shows an empty field
SECOND_FACTOR_ASKED: Final = "Rocket.Chat wants a second factor for your email change."
REALISTIC_WEIGHTS: Final = (
    ("status", 56),
    ("bio", 10),
    ("nick", 10),
    ("already", 7),
    ("profile", 7),
    ("undo", 6),
    ("email", 4),
)
MIXES: Final = ("realistic", "spaced", "burst")


@dataclass(frozen=True)
class Command:
    """One message a person sends, and the answer it must get.

    `answer_starts` is how a right answer begins, `contains` what else it must say; `profile` is
    what `users.info` shows once a change is made (for the visibility figure); `change` marks a
    command that sets a new value, the kind a warm profile snapshot can serve (not /undo, which
    always reads); `secret` keeps the text (a password) out of every report.
    """

    text: str
    answer_starts: str
    profile: tuple[tuple[str, str], ...] = ()
    sampled: bool = False
    kind: str = ""
    contains: tuple[str, ...] = ()
    change: bool = False
    secret: bool = False

    def accepts(self, answer: str) -> bool:
        """Whether `answer` is a right answer to this command."""
        return answer.startswith(self.answer_starts) and all(
            part in answer for part in self.contains
        )

    @property
    def shown(self) -> str:
        """The text as a report may show it."""
        return "(the password)" if self.secret else self.text


@dataclass
class Person:
    """What the plan has made of one person's profile so far, and their own random draws."""

    username: str
    index: int
    rng: random.Random
    sample_every: int = 0  # watch one change in this many for visibility (0: none)
    password: str = ""
    nickname: str = ""
    bio: str = ""
    presence: str | None = None  # None: never set in this phase (the server's default)
    status_text: str = ""
    visits: int = 0
    serial: int = 0
    statuses: int = 0
    status_texts: int = 0
    last_change: str | None = None  # "nick", "bio" or the text of the last /status
    emails: int = 0

    def next_serial(self) -> int:
        """A number this person has not used in a value yet."""
        self.serial += 1
        return self.serial

    def draw_sampled(self) -> bool:
        """Whether to watch this change for visibility."""
        return self.sample_every > 0 and self.rng.random() * self.sample_every < 1


def describe_status(presence: str, text: str) -> str:
    """How the bot says a status: `away: At lunch` or `away, with no status text.`"""
    return f"{presence}: {text}" if text else f"{presence}, with no status text."


def shown_value(value: str) -> str:
    """How /undo shows a value it put back."""
    return f"“{value}”" if value else "nothing (cleared)"


# -- single commands (each also moves the person's profile on) -------------------------------


def set_nickname(person: Person, value: str) -> Command:
    """`/nick value`, a new nickname."""
    person.nickname = value
    person.last_change = "nick"
    return Command(
        f"/nick {value}",
        f"Nickname set to “{value}”.",
        (("nickname", value),),
        person.draw_sampled(),
        kind="nick",
        change=True,
    )


def set_bio(person: Person, value: str) -> Command:
    """`/bio value`, a new bio."""
    person.bio = value
    person.last_change = "bio"
    return Command(
        f"/bio {value}",
        f"Bio set to “{value}”.",
        (("bio", value),),
        person.draw_sampled(),
        kind="bio",
        change=True,
    )


def set_status(person: Person, presence: str | None, text: str | None) -> Command:
    """`/status [presence] [text]`; what is left out stays as it is."""
    words = " ".join(part for part in (presence, text) if part)
    profile: tuple[tuple[str, str], ...] = ()
    person.statuses += 1
    if presence is not None:
        person.presence = presence
        profile += (("status", presence),)
    if text is not None:
        person.status_text = text
        person.status_texts += 1
        profile += (("statusText", text),)
    assert person.presence is not None, "a text alone needs a known presence"
    person.last_change = f"/status {words}"
    return Command(
        f"/status {words}",
        "Status set to " + describe_status(person.presence, person.status_text),
        profile,
        person.draw_sampled(),
        kind="status",
        change=True,
    )


def same_again(person: Person) -> Command:
    """The person's last change once more: the bot must answer that it is already so."""
    if person.last_change == "nick":
        value = person.nickname
        return Command(f"/nick {value}", f"Your nickname is already “{value}”.", kind="already")
    if person.last_change == "bio":
        value = person.bio
        return Command(f"/bio {value}", f"Your bio is already “{value}”.", kind="already")
    assert person.last_change is not None and person.presence is not None
    return Command(
        person.last_change,
        "Your status is already " + describe_status(person.presence, person.status_text),
        kind="already",
    )


def show_profile(person: Person) -> Command:
    """`/profile`: the answer lists the nickname, bio and (once set) status the plan made."""
    lines = [
        f"• Username: @{person.username}\n",
        f"• Nickname: {person.nickname or NOT_SET}\n",
        f"• Bio: {person.bio or NOT_SET}",
    ]
    if person.presence is not None:
        status = person.presence + (f" — {person.status_text}" if person.status_text else "")
        lines.append(f"• Status: {status}\n")
    return Command(
        "/profile", f"Your profile (@{person.username}):", kind="profile", contains=tuple(lines)
    )


def undo_last(person: Person, field_label: str, old: str) -> Command:
    """`/undo` right after a change of `field_label` (nickname or bio) that replaced `old`."""
    if field_label == "nickname":
        person.nickname = old
    else:
        person.bio = old
    person.last_change = None
    return Command(
        "/undo",
        "Undone (",
        ((field_label, old),) if old else (),
        kind="undo",
        contains=(f"{field_label} back to {shown_value(old)}.",),
    )


def change_email(person: Person) -> list[Command]:
    """`/email <new>`, `yes`, then the current password as the second factor."""
    person.emails += 1
    address = f"{person.username}.{person.next_serial()}@example.org"
    return [
        Command(
            f"/email {address}",
            "Change your email address ",
            kind="email",
            contains=(f"to {address}? (yes/no)",),
        ),
        Command("yes", SECOND_FACTOR_ASKED, kind="email-yes"),
        Command(
            person.password,
            f"Done: your email address is now {address}.",
            kind="email-password",
            secret=True,
        ),
    ]


# -- the mixes -------------------------------------------------------------------------------


class Mix(Protocol):
    """A workload: the commands of a person's next visit."""

    name: str
    paced: bool  # visits wait --spacing seconds after the person's last one (else back to back)

    def visit(self, person: Person) -> list[Command]:
        """The commands of `person`'s next visit, sent back to back."""


@dataclass
class Burst:
    """Each person's share of `commands` per pass, back to back, cycling nick, bio, status."""

    people: int
    commands: int
    name: str = "burst"
    paced: bool = False

    def share(self, person: Person) -> int:
        """How many of `commands` this person sends per pass."""
        extra = 1 if person.index < self.commands % self.people else 0
        return self.commands // self.people + extra

    def visit(self, person: Person) -> list[Command]:
        turn = person.visits
        person.visits += 1
        after = f"-{turn}" if turn else ""
        plan: list[Command] = []
        for index in range(self.share(person)):
            kind = index % 3
            if kind == 0:
                plan.append(set_nickname(person, f"{person.username}-n{index}{after}"))
            elif kind == 1:
                bio = (
                    f"Benchmark bio {index}{after} of {person.username}: writes code, reads docs."
                )
                plan.append(set_bio(person, bio))
            else:
                # presences cycle, so each one differs from the one before
                presence = PRESENCES[person.statuses % len(PRESENCES)]
                text = None
                if person.status_texts < STATUS_TEXTS_PER_USER:
                    text = f"Benchmark meeting {person.status_texts}"
                plan.append(set_status(person, presence, text))
        return plan


@dataclass
class Spaced:
    """One or two changes per visit (/nick, /bio, or /status with a new text)."""

    name: str = "spaced"
    paced: bool = True

    def visit(self, person: Person) -> list[Command]:
        person.visits += 1
        count = 1 + (person.rng.random() < 0.5)
        return [self._change(person) for _ in range(count)]

    @staticmethod
    def _change(person: Person) -> Command:
        serial = person.next_serial()
        kind = person.rng.randrange(3)
        if kind == 0:
            return set_nickname(person, f"{person.username}-s{serial}")
        if kind == 1:
            return set_bio(person, f"Spaced bio {serial} of {person.username}: on call this week.")
        presence = PRESENCES[serial % len(PRESENCES)]
        return set_status(person, presence, f"Spaced {serial}")


@dataclass
class Realistic:
    """Visits of the kinds people send (REALISTIC_WEIGHTS), paced like `spaced`."""

    name: str = "realistic"
    paced: bool = True
    kinds: tuple[str, ...] = field(default=tuple(k for k, _ in REALISTIC_WEIGHTS))
    weights: tuple[int, ...] = field(default=tuple(w for _, w in REALISTIC_WEIGHTS))

    def visit(self, person: Person) -> list[Command]:
        person.visits += 1
        kind = person.rng.choices(self.kinds, self.weights)[0]
        if kind == "email" and person.emails:
            kind = "status"  # one e-mail change a minute per user (see the module docstring)
        plans: dict[str, Callable[[Person], list[Command]]] = {
            "status": lambda p: [self._status(p)],
            "bio": lambda p: [self._bio(p)],
            "nick": lambda p: [self._nick(p)],
            "already": self._already,
            "profile": lambda p: [show_profile(p)],
            "undo": self._undo,
            "email": change_email,
        }
        return plans[kind](person)

    @staticmethod
    def _nick(person: Person) -> Command:
        return set_nickname(person, f"{person.username}-r{person.next_serial()}")

    @staticmethod
    def _bio(person: Person) -> Command:
        serial = person.next_serial()
        return set_bio(person, f"Bio {serial} of {person.username}: platform team, ask me.")

    @staticmethod
    def _status(person: Person) -> Command:
        """A presence with a text (most), a presence alone, or (once known) a text alone."""
        text = f"Focus time {person.next_serial()}"
        form = person.rng.random()
        if form < 0.2 and person.presence is not None:
            return set_status(person, None, text)
        if form < 0.4:
            current = person.presence or "online"
            others = [presence for presence in PRESENCES if presence != current]
            return set_status(person, person.rng.choice(others), None)
        return set_status(person, person.rng.choice(PRESENCES), text)

    def _already(self, person: Person) -> list[Command]:
        """The last change again; a person with none yet makes one first."""
        if person.last_change is None:
            return [self._status(person), same_again(person)]
        return [same_again(person)]

    def _undo(self, person: Person) -> list[Command]:
        """A nickname or bio change, taken back at once."""
        if person.rng.random() < 0.5:
            old = person.nickname
            return [self._nick(person), undo_last(person, "nickname", old)]
        old = person.bio
        return [self._bio(person), undo_last(person, "bio", old)]


def make_mix(name: str, *, people: int, commands: int) -> Mix:
    """The mix called `name` (one of MIXES)."""
    if name == "burst":
        return Burst(people, commands)
    if name == "spaced":
        return Spaced()
    if name == "realistic":
        return Realistic()
    raise ValueError(f"unknown mix {name!r}: choose from {', '.join(MIXES)}")


def make_people(
    usernames: Sequence[str], mix: str, *, sample_every: int, password: str, seed: str = ""
) -> list[Person]:
    """One `Person` per username, each with a generator seeded by the mix and their place."""
    return [
        Person(
            username,
            index,
            random.Random(f"{seed}/{mix}/{index}"),
            sample_every=sample_every,
            password=password,
        )
        for index, username in enumerate(usernames)
    ]


def plan_commands(usernames: Sequence[str], total: int, every: int) -> list[list[Command]]:
    """The first pass of the burst mix: each user's share of `total`, in order (bench.replicas)."""
    mix = Burst(len(usernames), total)
    people = make_people(usernames, "burst", sample_every=every, password="")
    return [mix.visit(person) for person in people]

"""The load benchmark's plans say the right answer for every command, and its statistics and
target check read the rounds as documented (pure pieces: no server, no timing)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from bench.load.__main__ import parse_options
from bench.load.goals import MIX_GOALS, check_targets
from bench.load.plan import (
    STATUS_TEXTS_PER_USER,
    Burst,
    Command,
    Person,
    Realistic,
    Spaced,
    make_people,
    show_profile,
)
from bench.load.report import phase_problems
from bench.load.server_log import Window, first_in_window_share
from bench.load.stats import summarise_figure


def _person(mix: str = "realistic", seed: str = "t") -> Person:
    (person,) = make_people(["ann"], mix, sample_every=0, password="Secret-1", seed=seed)
    return person


def _visits(mix: Any, person: Person, count: int) -> list[list[Command]]:
    return [mix.visit(person) for _ in range(count)]


def test_a_burst_person_changes_something_with_every_command_pass_after_pass() -> None:
    person = _person("burst")
    commands = [c for visit in _visits(Burst(1, 9), person, 5) for c in visit]
    nicknames = [c.text for c in commands if c.kind == "nick"]
    bios = [c.text for c in commands if c.kind == "bio"]
    assert len(set(nicknames)) == len(nicknames) and len(set(bios)) == len(bios)
    presences = [c.profile[0][1] for c in commands if c.kind == "status"]
    assert all(one != after for one, after in itertools.pairwise(presences))
    texts = [c for c in commands if any(key == "statusText" for key, _ in c.profile)]
    assert len(texts) == STATUS_TEXTS_PER_USER  # Rocket.Chat allows 5 a minute
    assert commands[2].answer_starts == "Status set to away: Benchmark meeting 0"


def test_a_presence_alone_is_answered_with_the_text_it_keeps() -> None:
    person = _person("burst")
    commands = [c for visit in _visits(Burst(1, 15), person, 1) for c in visit]
    last_status = [c for c in commands if c.kind == "status"][-1]
    assert last_status.text == "/status busy"
    assert last_status.answer_starts == "Status set to busy: Benchmark meeting 3"


def test_a_spaced_visit_is_one_or_two_changes() -> None:
    person = _person("spaced")
    visits = _visits(Spaced(), person, 40)
    assert {len(visit) for visit in visits} == {1, 2}
    assert all(c.change and c.kind in {"nick", "bio", "status"} for v in visits for c in v)


def test_undo_expects_the_value_from_before_the_change_it_takes_back() -> None:
    person = _person()
    person.nickname, person.bio = "Old Nick", ""
    mix = Realistic()
    undone = 0
    for _ in range(300):
        before = {"nick": ("nickname", person.nickname), "bio": ("bio", person.bio)}
        visit = mix.visit(person)
        if visit[-1].kind != "undo":
            continue
        change, taken_back = visit
        label, old = before[change.kind]
        shown = f"“{old}”" if old else "nothing (cleared)"
        assert taken_back.accepts(f"Undone (command /{change.kind}): {label} back to {shown}.")
        assert getattr(person, label) == old
        undone += 1
    assert undone > 3


def test_the_same_again_must_be_answered_as_already_so() -> None:
    person = _person()
    mix = Realistic()
    for visit in _visits(mix, person, 300):
        for before, command in itertools.pairwise(visit):
            if command.kind == "already":
                assert command.text == before.text
                assert command.answer_starts.startswith("Your ")
                assert "already" in command.answer_starts
                return
    raise AssertionError("no 'already so' visit in 300")


def test_an_email_change_is_a_conversation_ending_with_the_new_address_and_a_secret() -> None:
    person = _person()
    visit = next(v for v in _visits(Realistic(), person, 400) if v[0].kind == "email")
    ask, yes, password = visit
    address = ask.text.removeprefix("/email ")
    assert ask.accepts(f"Change your email address from a…@e….com to {address}? (yes/no)\n…")
    assert yes.text == "yes" and yes.answer_starts.startswith("Rocket.Chat wants a second factor")
    assert password.text == "Secret-1" and password.secret
    assert "Secret-1" not in password.shown
    assert password.accepts(f"Done: your email address is now {address}. Rocket.Chat sent…")


def test_profile_lists_what_the_plan_set() -> None:
    person = _person()
    person.nickname, person.bio, person.presence, person.status_text = "N", "B", "busy", "T"
    profile = show_profile(person)
    answer = (
        "Your profile (@ann):\n• Display name: Ann\n• Username: @ann\n• Status: busy — T\n"
        "• Nickname: N\n• Bio: B"
    )
    assert profile.accepts(answer)
    assert not profile.accepts(answer.replace("Bio: B", "Bio: C"))


def _phase(p50: float, cpu: float) -> dict[str, Any]:
    return {"reply_latency": {"p50_ms": p50}, "cpu_ms_per_command": cpu}


def test_the_columns_are_the_median_rounds_sides_so_they_divide_to_the_ratio() -> None:
    bots = [_phase(120, 1.0), _phase(200, 1.0), _phase(110, 1.0)]
    baselines = [_phase(100, 0.5), _phase(100, 0.5), _phase(50, 0.5)]
    figure = summarise_figure("reply_p50", bots, baselines)
    assert figure["ratios"] == [1.2, 2.0, 2.2]
    assert (figure["ratio"], figure["ratio_min"], figure["ratio_max"]) == (2.0, 1.2, 2.2)
    assert (figure["bot"], figure["baseline"], figure["median_round"]) == (200, 100, 2)
    assert figure["bot"] / figure["baseline"] == figure["ratio"]


def test_with_an_even_number_of_rounds_the_lower_middle_round_is_shown() -> None:
    bots = [_phase(130, 1), _phase(110, 1)]
    baselines = [_phase(100, 1), _phase(100, 1)]
    assert summarise_figure("reply_p50", bots, baselines)["ratio"] == 1.1


def _report(values: dict[str, float], problems: list[str] | None = None) -> dict[str, Any]:
    figures = {
        key: {"ratio": value, "ratio_min": value, "ratio_max": value}
        for key, value in values.items()
    }
    mixes = {mix: {"figures": figures, "problems": problems or []} for mix in MIX_GOALS}
    return {"mixes": mixes}


GOOD = {"reply_p50": 1.0, "reply_p99": 1.0, "throughput": 1.0, "cpu_per_command": 1.0}


def test_check_targets_passes_only_when_every_target_is_met(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_report(GOOD)))
    bad.write_text(json.dumps(_report({**GOOD, "throughput": 0.5})))
    assert check_targets([good]) == 0
    assert check_targets([bad]) == 1
    assert check_targets([bad, good]) == 0  # a later file's mixes replace an earlier one's


def test_a_mix_with_a_problem_or_not_measured_proves_nothing(tmp_path: Path) -> None:
    doubtful, partial = tmp_path / "doubtful.json", tmp_path / "partial.json"
    doubtful.write_text(json.dumps(_report(GOOD, ["bot: the people ran out after 3 s"])))
    report = _report(GOOD)
    del report["mixes"]["spaced"]
    partial.write_text(json.dumps(report))
    assert check_targets([doubtful]) == 1
    assert check_targets([partial]) == 1


def test_a_person_changes_their_email_at_most_once_a_phase() -> None:
    """Rocket.Chat 7.x refuses a second e-mail change within a minute (setEmail's limit)."""
    person = _person()
    visits = _visits(Realistic(), person, 500)
    assert sum(visit[0].kind == "email" for visit in visits) == 1


def _window(user_id: str, sent: float, answered: float, change: bool = True) -> Window:
    return Window(user_id=user_id, kind="bio", change=change, sent=sent, answered=answered)


def test_a_change_counts_as_first_only_over_the_window_after_its_persons_last_answer() -> None:
    windows = [
        _window("ann", 0.0, 0.5),  # her first: no snapshot of her yet
        _window("ann", 0.6, 1.0),  # the second of the visit: a snapshot 0.1 s old
        _window("bob", 5.0, 6.0, change=False),  # /profile: not a change, but it reads
        _window("bob", 20.0, 20.2),  # 14 s after his /profile's answer
        _window("ann", 31.1, 31.3),  # 30.1 s after her last answer
    ]
    assert first_in_window_share(windows, 30.0) == 0.5
    assert first_in_window_share([], 30.0) is None


def test_a_spaced_run_is_doubtful_when_most_changes_came_inside_the_window() -> None:
    phase: dict[str, Any] = {
        "target": "bot",
        "mix": "spaced",
        "answered_wrong": 0,
        "timeouts": 0,
        "extra_messages": 0,
        "duration_s": 25.0,
        "pacing": None,
        "server_calls": {"first_in_window_share": 0.67, "warm_share": 0.9},
    }
    assert phase_problems(phase, 20.0) == []  # mostly first, however few reads the bot made
    phase["server_calls"]["first_in_window_share"] = 0.4
    (problem,) = phase_problems(phase, 20.0)
    assert "only 40% of the changes" in problem
    assert phase_problems({**phase, "mix": "burst"}, 20.0) == []


def test_a_run_is_given_time_for_every_person_it_creates_in_every_phase() -> None:
    # 14,000 spaced people, one round, both sides: one phase took up to 31 min to create its
    # people (bench/RESULTS.md, part 5), so a fixed hour stopped a healthy run half-way.
    one_round = ["--mix", "spaced", "--people", "14000", "--phases", "baseline,bot"]
    _, args = parse_options(one_round)
    assert args.timeout > 2 * (2 * 31 * 60)
    _, five = parse_options([*one_round, "--rounds", "5"])
    assert five.timeout > 5 * (2 * 31 * 60)
    _, given = parse_options([*one_round, "--timeout", "100"])
    assert given.timeout == 100

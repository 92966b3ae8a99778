"""When people write their direct messages (issue 14, behaviour after acceptance): the first
message after a child accepts, and the hours each role writes in - the model's assumptions,
the same for groomers and benign adults alike, never read from a policy."""

from __future__ import annotations

from collections import Counter
from datetime import date

from demo_app.simulation import Parameters, Role, build_population, parse_mix
from demo_app.simulation.behaviour import (
    AFTER_PRACTICE,
    AFTER_SCHOOL,
    DAY,
    FIRST_MESSAGE,
    HOUR,
    LATE,
    OWN_HOURS,
    WAKING,
    Answer,
    Message,
    Relation,
    Society,
)

START = date(2026, 3, 2)


def society(seed: int = 3) -> Society:
    params = Parameters(accounts=800, days=14, seed=seed, groomers=6, mix=parse_mix("aggressive=1"))
    return Society(build_population(params, START), params)


def one_of(s: Society, role: Role) -> int:
    return next(p.id for p in s.population.people if p.role is role)


def clock(at: float) -> float:
    return at % DAY


def inside(at: float, hours: tuple[float, float]) -> bool:
    start, end = hours
    return start <= clock(at) < end or clock(at) < end - DAY


def first_messages(s: Society, sender: int, relation: Relation, at: float, tries: int = 400) -> list[float]:
    child = s.children[0]
    found = []
    for i in range(tries):
        for when, task in s.after_acceptance(Answer(child, i, sender, True, relation), at):
            assert task == Message(sender, child)
            found.append(when)
    return found


def test_a_groomer_writes_to_most_children_within_twenty_minutes_of_their_accepting_at_any_hour() -> None:
    s = society()
    groomer = one_of(s, Role.GROOMER)
    at = 2 * DAY + 3 * HOUR  # an acceptance at three in the morning
    sent = first_messages(s, groomer, Relation.STRANGER, at)
    chance = FIRST_MESSAGE[Role.GROOMER][0]
    assert 0.8 * chance * 400 < len(sent) <= 400
    assert all(at + 60 <= when <= at + 20 * 60 for when in sent)


def test_a_coach_writes_after_practice_hours_and_a_tutor_after_school() -> None:
    s = society()
    for role, hours in ((Role.COACH, AFTER_PRACTICE), (Role.YOUTH_WORKER, AFTER_PRACTICE), (Role.TUTOR, AFTER_SCHOOL)):
        sender = one_of(s, role)
        # Accepted in the morning: the message waits for the evening, or the afternoon.
        morning = first_messages(s, sender, Relation.COACHED, 3 * DAY + 9 * HOUR)
        assert morning and all(inside(when, hours) for when in morning)
        # Accepted in the evening: some within minutes, all within the evening.
        evening = first_messages(s, sender, Relation.COACHED, 3 * DAY + 19 * HOUR)
        assert all(inside(when, hours) for when in evening)
        assert any(when - (3 * DAY + 19 * HOUR) <= 10 * 60 for when in evening)


def test_a_relative_writes_at_any_hour_soon_after_accepting() -> None:
    s = society()
    relative = one_of(s, Role.RELATIVE)
    at = 4 * DAY + 2 * HOUR
    sent = first_messages(s, relative, Relation.KNOWN, at)
    assert sent and all(at < when <= at + 2 * HOUR for when in sent)


def test_nobody_writes_to_a_strangers_child_they_asked_by_mistake() -> None:
    s = society()
    for role in (Role.ADULT, Role.PARENT, Role.TEACHER):
        assert first_messages(s, one_of(s, role), Relation.STRANGER, 5 * DAY + 12 * HOUR) == []


def test_every_role_writes_to_children_in_its_own_hours() -> None:
    s = society()
    sent: dict[Role, list[float]] = {}
    groomers_to_their_children, groomers_attempts = [], []
    for day in range(14):
        for at, task in s.plan_day(day):
            if not isinstance(task, Message) or s.people[task.target].role is not Role.CHILD:
                continue
            role = s.people[task.actor].role
            sent.setdefault(role, []).append(at)
            if role is Role.GROOMER:
                mine = task.target in s.accepted.get(task.actor, ())
                (groomers_to_their_children if mine else groomers_attempts).append(at)
        # Pretend one request of every groomer's was accepted, so they have a child to write to.
        for groomer in (p.id for p in s.population.people if p.role is Role.GROOMER):
            s.accepted.setdefault(groomer, set()).add(s.children[groomer % len(s.children)])
    expected = {
        Role.PARENT: OWN_HOURS[Role.PARENT],
        Role.RELATIVE: OWN_HOURS[Role.RELATIVE],
        Role.TEACHER: WAKING,
        Role.CHILD: WAKING,
    }
    assert sent[Role.PARENT] and groomers_to_their_children and groomers_attempts
    for role, times in sent.items():
        if role in expected:
            assert all(inside(at, expected[role]) for at in times), role
    # Groomers write late to the children who accepted them; their attempts on others come by day.
    assert all(inside(at, LATE) for at in groomers_to_their_children)
    assert all(inside(at, WAKING) for at in groomers_attempts)


def test_a_coach_writes_to_the_team_after_practice_on_practice_days_only() -> None:
    s = society(seed=5)
    coach = one_of(s, Role.COACH)
    team = sorted(s.population.known_children[coach])
    for child in team:
        s.became_friends(coach, child)
    days: Counter[int] = Counter()
    for day in range(14):
        for at, task in s.plan_day(day):
            if isinstance(task, Message) and task.actor == coach and s.people[task.target].role is Role.CHILD:
                assert inside(at, AFTER_PRACTICE)
                days[day] += 1
    assert days, "no practice message in two weeks"
    assert {day % 7 for day in days} <= s.practice_days[coach]
    # One message reaches the whole team (its group chat), at once.
    assert set(days.values()) == {len(team)}

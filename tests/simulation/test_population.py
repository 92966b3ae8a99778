"""The synthetic population: families, classes, teachers and groomers, the same for a seed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from demo_app.simulation import (
    Parameters,
    Population,
    Role,
    SimulationError,
    Tactic,
    build_population,
    parse_mix,
)
from demo_app.simulation.population import SPREAD_ACCOUNTS

START = date(2026, 3, 2)


def _population(**given: Any) -> Population:
    return build_population(Parameters(**given), START)


def test_the_population_has_exactly_the_accounts_asked_for() -> None:
    population = _population(accounts=500, groomers=6)
    assert len(population.people) == 500
    assert [p.id for p in population.people] == list(range(1, 501))
    assert len({p.handle for p in population.people}) == 500


def test_a_seed_gives_one_population_and_another_seed_another() -> None:
    assert _population(accounts=300, seed=7) == _population(accounts=300, seed=7)
    assert _population(accounts=300, seed=7) != _population(accounts=300, seed=8)


def test_children_are_10_to_17_and_adults_are_adults_except_groomers_who_claim_a_teens_age() -> None:
    population = _population(accounts=400, mix=parse_mix("slow=1,impersonator=1"))
    for person in population.people:
        age = (START - person.birth_date).days // 365.25
        if person.role is Role.CHILD:
            assert 10 <= age <= 17, person
        elif person.tactic is Tactic.IMPERSONATOR:
            assert 14 <= age <= 16, person
        else:
            assert age >= 18, person


def test_coaches_tutors_and_youth_workers_know_children_and_a_few_of_their_parents() -> None:
    population = _population(accounts=1500)
    by_id = population.by_id
    for role in (Role.COACH, Role.TUTOR, Role.YOUTH_WORKER, Role.SIBLING_FRIEND):
        people = population.of_role(role)
        assert people, role
        for person in people:
            known = population.known_children.get(person.id, ())
            assert known and all(by_id[k].role is Role.CHILD for k in known), person
    for coach in population.of_role(Role.COACH):
        schools = {by_id[k].school for k in population.known_children[coach.id]}
        assert schools == {coach.school}, "a coach's team comes from one school"
    tutors = population.of_role(Role.TUTOR)
    assert any(
        len({by_id[k].school for k in population.known_children[t.id]}) > 1 for t in tutors
    ), "a tutor's pupils come from several schools"


def test_parents_are_connected_to_their_children_and_siblings_to_each_other() -> None:
    population = _population(accounts=400)
    by_family: dict[int, list[int]] = {}
    for p in population.people:
        if p.role in (Role.CHILD, Role.PARENT) and p.family is not None:
            by_family.setdefault(p.family, []).append(p.id)
    assert by_family
    for members in by_family.values():
        for a in members:
            for b in members:
                if a < b:
                    assert (a, b) in population.friendships


def test_a_class_has_friend_groups_inside_it() -> None:
    population = _population(accounts=600)
    children = [p for p in population.people if p.role is Role.CHILD]
    with_classmate_friend = [
        c
        for c in children
        if any(
            (min(c.id, m), max(c.id, m)) in population.friendships
            for m in population.classmates[c.id]
        )
    ]
    assert len(with_classmate_friend) > 0.8 * len(children)


def test_teachers_know_their_pupils_and_their_requests_go_to_them() -> None:
    population = _population(accounts=600)
    teachers = population.of_role(Role.TEACHER)
    assert teachers
    by_id = population.by_id
    for teacher in teachers:
        for pupil in population.known_children.get(teacher.id, ()):
            assert by_id[pupil].class_key == teacher.class_key
            assert (min(teacher.id, pupil), max(teacher.id, pupil)) not in population.friendships


def test_groomers_know_no_child_and_spread_groomers_run_several_accounts() -> None:
    mix = parse_mix(",".join(f"{t.value}=1" for t in Tactic))
    population = _population(accounts=500, groomers=2 * len(Tactic), mix=mix)
    groomers = population.of_role(Role.GROOMER)
    by_id = population.by_id
    assert {g.tactic for g in groomers} == set(Tactic)
    for g in groomers:
        friends = [b if a == g.id else a for a, b in population.friendships if g.id in (a, b)]
        assert friends, "a groomer looks like anyone else: a few adult friends"
        assert all(by_id[f].role is not Role.CHILD for f in friends)
    spread = [g for g in groomers if g.tactic is Tactic.SPREAD]
    assert len({g.groomer for g in spread}) == 2
    assert len(spread) == 2 * SPREAD_ACCOUNTS


def test_tactics_are_shared_out_exactly_in_proportion() -> None:
    population = _population(accounts=500, groomers=20)  # default mix: 0.15 each, spread 0.1
    people = {(g.groomer, g.tactic) for g in population.of_role(Role.GROOMER)}
    assert {t: sum(1 for _, x in people if x is t) for t in Tactic} == {
        Tactic.AGGRESSIVE: 3,
        Tactic.SLOW: 3,
        Tactic.SPREAD: 2,
        Tactic.PATIENT: 3,
        Tactic.VIA_PARENTS: 3,
        Tactic.IMPERSONATOR: 3,
        Tactic.COACH_PACE: 3,
    }


def test_too_few_accounts_for_the_groomers_asked_for_is_refused() -> None:
    with pytest.raises(SimulationError, match="raise --accounts or lower --groomers"):
        _population(accounts=100, groomers=40)

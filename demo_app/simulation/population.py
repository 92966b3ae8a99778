"""The synthetic population: who exists, how old they are, and who already knows whom.

Children go to schools, sit in classes by year of birth and have friend groups inside
their class; families connect parents, children and relatives; teachers are connected
with colleagues and some parents; ordinary adults with each other. Groomers are adults
with a few adult friends and no child in their life. A `spread` groomer runs several
accounts. Everything is drawn from one seeded random stream, in a fixed order.
"""

from __future__ import annotations

import enum
import itertools
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from .parameters import MIN_ORDINARY_ACCOUNTS, Parameters, SimulationError, Tactic

CHILD_SHARE = 0.35  # of the accounts that are not groomers'
CHILD_AGES = range(10, 18)  # 10-17: under_13, 13_15 and 16_17
CLASS_SIZE = 30
FRIEND_GROUP = (4, 6)  # sizes of friend groups inside a class
IN_GROUP_FRIENDS = 0.85  # chance two members of one friend group are friends
IN_CLASS_FRIENDS = 0.04  # ... two classmates from different groups
RELATIVE_CONNECTED = 0.5  # chance a relative is already friends with a child of the family
TEACHER_PARENT_FRIENDS = 0.15
TEACHER_PUPIL_FRIENDS = 0.05  # pupils of 13 and over only
ADULT_FRIENDS = (3, 8)
GROOMER_ADULT_FRIENDS = (2, 5)
SPREAD_ACCOUNTS = 3
IMPERSONATOR_AGES = (14, 16)  # the age an impersonating groomer claims at sign-up

# Hard benign roles: adults who reach many children, or children outside their family.
COACH_PER_SCHOOL = 3  # club coaches (three sports) whose teams are drawn from one school
TEAM_SIZE = (12, 20)  # children of 2-3 neighbouring years
TUTOR_PER_CHILDREN = 60  # one private tutor per this many children
TUTOR_PUPILS = (3, 6)  # from different schools: a tutor's pupils share nothing
YOUTH_WORKER_PER_SCHOOLS = 1  # one youth club per school, children from it and the next
YOUTH_GROUP = (15, 25)
COACH_PARENT_FRIENDS = 0.3  # the coach or youth worker already knows some of the parents
TUTOR_PARENT_FRIENDS = 0.8  # parents hire tutors: usually connected first
SIBLING_FRIEND_SHARE = 0.15  # of 16-17 year olds: a friend of 18-20 outside school
SIBLING_FRIEND_KNOWS = 0.5  # ... who knows each of that child's friends' friends in class

_FIRST = (
    "Amir",
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Ella",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kai",
    "Leah",
    "Leo",
    "Maya",
    "Mia",
    "Noah",
    "Nina",
    "Omar",
    "Priya",
    "Rosa",
    "Sam",
    "Tariq",
    "Tom",
    "Una",
    "Zoe",
    "Ali",
    "Bea",
    "Cal",
    "Dev",
    "Eve",
    "Ida",
    "Jon",
    "Liv",
    "Max",
    "Ola",
    "Ravi",
    "Sara",
)
_LAST = (
    "Patel",
    "Jones",
    "Clarke",
    "Shah",
    "Reid",
    "Brooks",
    "Khan",
    "Turner",
    "Evans",
    "Hughes",
    "Walsh",
    "Ahmed",
    "Green",
    "Price",
    "Murphy",
    "Singh",
    "Lewis",
    "Moore",
    "Ward",
    "Cole",
    "Fox",
    "Hill",
    "Kerr",
    "Lowe",
    "Nash",
    "Pike",
    "Quinn",
    "Rowe",
    "Stone",
    "Webb",
)


class Role(enum.StrEnum):
    CHILD = "child"
    PARENT = "parent"
    RELATIVE = "relative"  # an aunt, uncle or grandparent
    TEACHER = "teacher"
    ADULT = "adult"  # an ordinary adult with no child in their life here
    GROOMER = "groomer"
    # Hard benign roles: they reach many children, or children beyond their family.
    COACH = "coach"  # a club coach who befriends a whole team
    TUTOR = "tutor"  # a private tutor of a few children from different schools
    YOUTH_WORKER = "youth_worker"  # a youth club's leader: children of two schools
    SIBLING_FRIEND = "sibling_friend"  # an 18-20 year old friend of a 16-17 year old


HARD_BENIGN = frozenset({Role.COACH, Role.TUTOR, Role.YOUTH_WORKER, Role.SIBLING_FRIEND})
ORDINARY_ADULTS = frozenset({Role.PARENT, Role.RELATIVE, Role.TEACHER, Role.ADULT}) | HARD_BENIGN


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    handle: str
    name: str
    role: Role
    birth_date: date
    school: str | None = None
    class_key: str | None = None  # school and year of birth: a child's class, a teacher's
    family: int | None = None
    tactic: Tactic | None = None
    groomer: int | None = None  # the person behind a groomer account (several for `spread`)
    group: str | None = None  # a coach's team, a youth worker's club


@dataclass(frozen=True, slots=True)
class Population:
    start: date
    people: tuple[Person, ...]
    friendships: frozenset[tuple[int, int]]  # (lower id, higher id)
    # Children an adult knows in life but is not yet connected with here: nephews and
    # nieces for relatives, pupils for teachers. Their requests go to these.
    known_children: Mapping[int, tuple[int, ...]]
    classmates: Mapping[int, tuple[int, ...]]

    @property
    def by_id(self) -> dict[int, Person]:
        return {p.id: p for p in self.people}

    def of_role(self, *roles: Role) -> list[Person]:
        return [p for p in self.people if p.role in roles]

    def counts(self) -> dict[str, int]:
        return {role.value: sum(1 for p in self.people if p.role is role) for role in Role}


def _share_out(total: int, shares: Mapping[Tactic, float]) -> list[Tactic]:
    """`total` tactics in the proportions given, by largest remainder (no sampling noise)."""
    exact = {t: total * shares.get(t, 0.0) for t in Tactic}
    counts = {t: int(v) for t, v in exact.items()}
    for t in sorted(Tactic, key=lambda t: (counts[t] - exact[t], list(Tactic).index(t)))[
        : total - sum(counts.values())
    ]:
        counts[t] += 1
    return [t for t in Tactic for _ in range(counts[t])]


def _birth_date(start: date, age: int, rng: random.Random) -> date:
    """Someone who is `age` on `start`: born between `age`+1 years and `age` years before it."""
    try:
        latest = start.replace(year=start.year - age)
    except ValueError:  # 29 February in a year that has none
        latest = start.replace(year=start.year - age, day=28)
    return latest - timedelta(days=rng.randrange(0, 365))


class _Builder:
    def __init__(self, params: Parameters, start: date) -> None:
        self.rng = random.Random(f"{params.seed}:population")
        self.start = start
        self.people: list[Person] = []
        self.friends: set[tuple[int, int]] = set()
        self.known: dict[int, list[int]] = {}

    def add(self, role: Role, age: int, **extra: object) -> Person:
        pid = len(self.people) + 1
        last = extra.pop("last", None) or self.rng.choice(_LAST)
        person = Person(
            id=pid,
            handle=f"user{pid}",
            name=f"{self.rng.choice(_FIRST)} {last}",
            role=role,
            birth_date=_birth_date(self.start, age, self.rng),
            **extra,  # type: ignore[arg-type]
        )
        self.people.append(person)
        return person

    def befriend(self, a: int, b: int) -> None:
        if a != b:
            self.friends.add((min(a, b), max(a, b)))

    def befriend_all(self, ids: Iterable[int], chance: float = 1.0) -> None:
        for a, b in itertools.combinations(ids, 2):
            if chance >= 1.0 or self.rng.random() < chance:
                self.befriend(a, b)


def _knows(
    b: _Builder,
    adult: Person,
    children: Iterable[Person],
    parents_of: Mapping[int, list[int]],
    parent_chance: float,
) -> None:
    """`adult` knows these children in life (their requests go to them) and, with
    `parent_chance` each, is already connected with a parent of theirs."""
    for kid in children:
        b.known.setdefault(adult.id, []).append(kid.id)
        for parent_id in parents_of.get(kid.id, []):
            if b.rng.random() < parent_chance:
                b.befriend(adult.id, parent_id)


def build_population(params: Parameters, start: date) -> Population:
    b = _Builder(params, start)
    rng = b.rng
    tactics = _share_out(params.groomers, params.mix)
    groomer_accounts = sum(SPREAD_ACCOUNTS if t is Tactic.SPREAD else 1 for t in tactics)
    ordinary = params.accounts - groomer_accounts
    if ordinary < MIN_ORDINARY_ACCOUNTS:
        raise SimulationError(
            f"{params.groomers} groomers need {groomer_accounts} accounts, which leaves "
            f"{ordinary} of {params.accounts} for everyone else: at least "
            f"{MIN_ORDINARY_ACCOUNTS} are needed (raise --accounts or lower --groomers)"
        )
    children_wanted = max(4, round(ordinary * CHILD_SHARE))
    schools = max(1, round(children_wanted / (CLASS_SIZE * len(CHILD_AGES))))
    clubs = max(1, round(schools / YOUTH_WORKER_PER_SCHOOLS))
    tutors = max(1, round(children_wanted / TUTOR_PER_CHILDREN))
    # Teachers, and the hard benign roles (sibling friends are counted as they are drawn).
    teachers_needed = schools * len(CHILD_AGES) + schools * COACH_PER_SCHOOL + clubs + tutors
    teachers_needed += round(children_wanted * SIBLING_FRIEND_SHARE / len(CHILD_AGES) * 2)

    # Families, until the children are there or the adults would crowd everyone else out.
    families: list[tuple[list[Person], list[Person], list[Person]]] = []
    children: list[Person] = []
    family_adults = 0
    family_id = 0
    while len(children) < children_wanted:
        n_kids = rng.choices((1, 2, 3), weights=(40, 45, 15))[0]
        n_parents = rng.choices((1, 2), weights=(25, 75))[0]
        n_relatives = rng.choices((0, 1, 2), weights=(60, 30, 10))[0]
        if (
            len(children) + n_kids + family_adults + n_parents + n_relatives + teachers_needed
            > ordinary
        ):
            break
        family_id += 1
        last = rng.choice(_LAST)
        school = f"School {rng.randrange(schools) + 1}"
        family_kids = []
        for _ in range(n_kids):
            age = rng.choice(CHILD_AGES)
            family_kids.append(
                b.add(
                    Role.CHILD,
                    age,
                    last=last,
                    school=school,
                    class_key=f"{school}/{age}",
                    family=family_id,
                )
            )
        family_parents = [
            b.add(Role.PARENT, rng.randint(30, 55), last=last, family=family_id)
            for _ in range(n_parents)
        ]
        family_relatives = [
            b.add(Role.RELATIVE, rng.randint(28, 75), family=family_id) for _ in range(n_relatives)
        ]
        families.append((family_kids, family_parents, family_relatives))
        children += family_kids
        family_adults += n_parents + n_relatives
    if not children:
        raise SimulationError(f"{params.accounts} accounts are too few for a family with a child")

    teachers: dict[str, Person] = {}
    for s in range(1, schools + 1):
        for age in CHILD_AGES:
            key = f"School {s}/{age}"
            teachers[key] = b.add(
                Role.TEACHER, rng.randint(25, 62), school=f"School {s}", class_key=key
            )
    coaches = [
        b.add(Role.COACH, rng.randint(22, 60), school=f"School {s}", group=f"Team {s}.{c}")
        for s in range(1, schools + 1)
        for c in range(1, COACH_PER_SCHOOL + 1)
    ]
    workers = [
        b.add(Role.YOUTH_WORKER, rng.randint(22, 60), group=f"Club {c}")
        for c in range(1, clubs + 1)
    ]
    tutor_people = [b.add(Role.TUTOR, rng.randint(21, 65)) for _ in range(tutors)]
    older = [k for k in children if (start - k.birth_date).days // 365 >= 16]
    sibling_friends = [
        (b.add(Role.SIBLING_FRIEND, rng.randint(18, 20)), kid)
        for kid in older
        if rng.random() < SIBLING_FRIEND_SHARE and len(b.people) < ordinary
    ]
    adults = [b.add(Role.ADULT, rng.randint(19, 80)) for _ in range(ordinary - len(b.people))]

    groomers: list[Person] = []
    for number, tactic in enumerate(tactics, start=1):
        age = (
            rng.randint(*IMPERSONATOR_AGES)
            if tactic is Tactic.IMPERSONATOR
            else rng.randint(22, 60)
        )
        for _ in range(SPREAD_ACCOUNTS if tactic is Tactic.SPREAD else 1):
            groomers.append(b.add(Role.GROOMER, age, tactic=tactic, groomer=number))

    # Families: parents, children and siblings; relatives with the parents and some children.
    for kids, parents, relatives in families:
        b.befriend_all([p.id for p in parents + kids])
        for relative in relatives:
            for parent in parents:
                b.befriend(relative.id, parent.id)
            for kid in kids:
                if rng.random() < RELATIVE_CONNECTED:
                    b.befriend(relative.id, kid.id)
                else:
                    b.known.setdefault(relative.id, []).append(kid.id)

    # Classes: friend groups inside, a few friendships across groups.
    by_class: dict[str, list[Person]] = {}
    for kid in children:
        by_class.setdefault(kid.class_key or "", []).append(kid)
    classmates: dict[int, tuple[int, ...]] = {}
    for key in sorted(by_class):
        members = [k.id for k in by_class[key]]
        for m in members:
            classmates[m] = tuple(x for x in members if x != m)
        order = members[:]
        rng.shuffle(order)
        groups: list[list[int]] = []
        while order:
            size = rng.randint(*FRIEND_GROUP)
            groups.append(order[:size])
            order = order[size:]
        for group in groups:
            b.befriend_all(group, IN_GROUP_FRIENDS)
        b.befriend_all(members, IN_CLASS_FRIENDS)

    # Teachers: colleagues, some parents of their pupils, a few older pupils; the rest of
    # their pupils they know.
    parents_of: dict[int, list[int]] = {}
    for kids, parents, _ in families:
        for kid in kids:
            parents_of[kid.id] = [p.id for p in parents]
    for s in range(1, schools + 1):
        b.befriend_all([t.id for k, t in sorted(teachers.items()) if k.startswith(f"School {s}/")])
    for key, teacher in sorted(teachers.items()):
        for kid in by_class.get(key, []):
            for parent_id in parents_of.get(kid.id, []):
                if rng.random() < TEACHER_PARENT_FRIENDS:
                    b.befriend(teacher.id, parent_id)
            age = int(key.rsplit("/", 1)[1])
            if age >= 13 and rng.random() < TEACHER_PUPIL_FRIENDS:
                b.befriend(teacher.id, kid.id)
            else:
                b.known.setdefault(teacher.id, []).append(kid.id)

    # Coaches and youth workers: their team or club they know; some parents they know too.
    by_school: dict[str, list[Person]] = {}
    for kid in children:
        by_school.setdefault(kid.school or "", []).append(kid)
    for coach in coaches:
        pupils = by_school.get(coach.school or "", [])
        if not pupils:
            continue
        low = rng.choice(CHILD_AGES)
        years = [k for k in pupils if low <= (start - k.birth_date).days // 365 <= low + 2]
        team = rng.sample(years, min(len(years), rng.randint(*TEAM_SIZE)))
        _knows(b, coach, team, parents_of, COACH_PARENT_FRIENDS)
    school_names = sorted(by_school)
    for n, worker in enumerate(workers):
        near = {school_names[n % len(school_names)], school_names[(n + 1) % len(school_names)]}
        pool = [k for name in sorted(near) for k in by_school[name]]
        club = rng.sample(pool, min(len(pool), rng.randint(*YOUTH_GROUP)))
        _knows(b, worker, club, parents_of, COACH_PARENT_FRIENDS)
    for tutor in tutor_people:
        pupils = []
        for name in rng.sample(school_names, min(len(school_names), rng.randint(*TUTOR_PUPILS))):
            pupils.append(rng.choice(by_school[name]))
        _knows(b, tutor, pupils, parents_of, TUTOR_PARENT_FRIENDS)
    # A friend of a 16-17 year old: connected with them, knows some of their classmates.
    for older_friend, kid in sibling_friends:
        b.befriend(older_friend.id, kid.id)
        for mate in classmates.get(kid.id, ()):
            if rng.random() < SIBLING_FRIEND_KNOWS:
                b.known.setdefault(older_friend.id, []).append(mate)

    # Adults: a handful of adult friends each (ordinary adults, parents, relatives, teachers).
    grown_ups = [p.id for p in b.people if p.role in ORDINARY_ADULTS]
    for adult in adults:
        for friend in rng.sample(grown_ups, min(len(grown_ups), rng.randint(*ADULT_FRIENDS))):
            b.befriend(adult.id, friend)
    plain_adults = [a.id for a in adults] or grown_ups
    for groomer in groomers:
        for friend in rng.sample(
            plain_adults, min(len(plain_adults), rng.randint(*GROOMER_ADULT_FRIENDS))
        ):
            b.befriend(groomer.id, friend)

    # Known children already befriended (a teacher friends with a pupil) are not "known" any more.
    known = {
        adult: tuple(sorted({k for k in kids if (min(adult, k), max(adult, k)) not in b.friends}))
        for adult, kids in sorted(b.known.items())
    }
    return Population(
        start=start,
        people=tuple(b.people),
        friendships=frozenset(b.friends),
        known_children={a: k for a, k in known.items() if k},
        classmates=classmates,
    )

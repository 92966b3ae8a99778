"""What people do, day by day, and how children answer.

`Society` is the people's own memory of the platform (who they are friends with, whom
a groomer has already tried, who has been restricted); it plans each day's actions and
the reactions to what happened. It never looks at Safe Accounts: the driver tells it only
what the app answered, as a person would see it. All chances are per person per day
unless said otherwise; they are the model's assumptions (docs/simulation.md).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from .parameters import Parameters, Tactic
from .population import HARD_BENIGN, ORDINARY_ADULTS, Person, Population, Role

MINUTE = 60.0
HOUR = 3600.0
DAY = 24 * HOUR
WAKING = (7 * HOUR, 23 * HOUR)  # actions happen between 07:00 and 23:00

# When people write their direct messages (hours of the simulated day; past 24:00 is after
# midnight). The simulated clock is UTC, London's own time in the default run (March,
# before summer time).
LATE = (20 * HOUR, 26 * HOUR)  # groomers, to the children they reached: when parents are not around
AFTER_PRACTICE = (18.5 * HOUR, 22.5 * HOUR)  # coaches and youth workers, to their children
AFTER_SCHOOL = (16 * HOUR, 22 * HOUR)  # tutors, to their pupils: around homework
OWN_HOURS = {
    Role.PARENT: (6.5 * HOUR, 23.5 * HOUR),  # early risers; waiting up for a teen who is out
    Role.RELATIVE: (0.0, 24 * HOUR),  # any hour: grandparents up before dawn, relatives abroad, shifts
    Role.SIBLING_FRIEND: (10 * HOUR, 26 * HOUR),  # 18-20 year olds: up late
}

# Ordinary life.
DM_A_FRIEND = 0.02
CHILD_REQUESTS_CLASSMATE = 0.02
ADULT_REQUESTS_KNOWN_CHILD = 0.01  # relatives and teachers: a nephew, a pupil
ADULT_REQUESTS_ADULT = 0.006
ADULT_MISCLICKS_CHILD = 0.002  # a request to a child the adult does not know
SEARCH = 0.015
VIEW_A_FRIEND = 0.01
TEACHER_ONBOARDS_CLASS = 0.25  # share of teachers who, one day, send requests to their class
ONBOARDING_REQUESTS = (8, 20)

# Messages to the children people are connected with (chance a day, per child).
PARENT_MESSAGES_CHILD = 0.2
RELATIVE_MESSAGES_CHILD = 0.05
TUTOR_MESSAGES_PUPIL = 1 / 7  # about once a week, around a lesson
SIBLING_FRIEND_MESSAGES_CHILD = 0.1
PRACTICES_A_WEEK = 2  # a coach's team trains on two fixed weekdays...
CLUB_NIGHTS_A_WEEK = 1  # ... a youth club meets on one
MESSAGE_AFTER_PRACTICE = 0.5  # chance the coach (youth worker) writes to every child of theirs after it

# The first message after a contact request is accepted: the requester's chance of writing
# to the person who accepted, and how long after the acceptance, then moved into the
# requester's hours for that person (`_hours`) if it falls outside them. Groomers write at
# once, whatever the hour: they sent the request to get in touch.
FIRST_MESSAGE = {
    Role.GROOMER: (0.9, (1 * MINUTE, 20 * MINUTE)),
    Role.RELATIVE: (0.6, (1 * MINUTE, 2 * HOUR)),  # a grandparent delighted to be accepted
    Role.TEACHER: (0.1, (1 * HOUR, 24 * HOUR)),  # class news goes through the school
    Role.COACH: (0.5, (5 * MINUTE, 3 * HOUR)),  # welcome to the team
    Role.YOUTH_WORKER: (0.5, (5 * MINUTE, 3 * HOUR)),
    Role.TUTOR: (0.7, (5 * MINUTE, 3 * HOUR)),  # arranging the first lesson
    Role.SIBLING_FRIEND: (0.5, (1 * MINUTE, 1 * HOUR)),
    Role.CHILD: (0.5, (1 * MINUTE, 1 * HOUR)),
    Role.PARENT: (0.3, (1 * MINUTE, 4 * HOUR)),
    Role.ADULT: (0.3, (1 * MINUTE, 4 * HOUR)),
}

# Hard benign roles.
TEAM_DAY_WITHIN = 7  # a coach befriends the whole team on one of the first days
CLUB_DAYS = 5  # a youth worker reaches the club over five days in a row...
CLUB_REQUESTS = (2, 5)  # ... this many a day
TUTOR_REQUESTS_PUPIL = 0.1
SIBLING_FRIEND_REQUESTS = 0.05

# Groomers.
AGGRESSIVE_REQUESTS = (8, 16)
AGGRESSIVE_DM_ATTEMPTS = (1, 3)
SLOW_REQUESTS = (1, 2)
PATIENT_REQUEST = 0.35  # chance of one request a day: about 2.5 a week
SPREAD_REQUESTS = (2, 4)  # per account
VIA_PARENTS_FIRST_DAYS = 3  # befriending parents first...
VIA_PARENTS_ADULT_REQUESTS = (2, 4)  # ... this many a day
VIA_PARENTS_REQUESTS = (1, 3)  # then children: the parents' own, their classmates, others
IMPERSONATOR_REQUESTS = (2, 4)  # to children of 13 and over, anywhere
COACH_PACE_FIRST_DAY = (12, 20)  # a "team day" of requests to children who share nothing
COACH_PACE_LATER = 0.5  # then one request a day with this chance
# chance of one DM attempt (to a child not connected) a day, per account
DM_ATTEMPT = {
    Tactic.SLOW: 0.2,
    Tactic.SPREAD: 0.3,
    Tactic.PATIENT: 0.1,
    Tactic.VIA_PARENTS: 0.1,
    Tactic.IMPERSONATOR: 0.2,
    Tactic.COACH_PACE: 0.1,
}
GROOMER_SEARCH = {
    Tactic.AGGRESSIVE: 1.0,
    Tactic.SLOW: 0.2,
    Tactic.SPREAD: 0.2,
    Tactic.PATIENT: 0.1,
    Tactic.VIA_PARENTS: 0.2,
    Tactic.IMPERSONATOR: 0.3,
    Tactic.COACH_PACE: 0.1,
}
VIEW_BEFORE_REQUEST = 0.3
GROOMER_START_DAYS = 3  # each groomer starts on one of the first days
DM_ACCEPTED_CHILD = 0.7  # a groomer messages a child who accepted them, most days

# Children's answers.
STRANGER_REJECTS = (0.70, 0.85)  # each child's own share, drawn once
STRANGER_IGNORED = 0.10
BLOCK_AFTER_REJECT = 0.10
REPORT_AFTER_REJECT = 0.05
BLOCK_AFTER_GROOMER_DM = 0.08
REPORT_AFTER_GROOMER_DM = 0.05
ANSWER_DELAY = (0.25 * HOUR, 10 * HOUR)


class Relation(enum.StrEnum):
    """What the recipient of a friend request makes of the sender."""

    KNOWN = "known"  # family or teacher
    CLASSMATE = "classmate"
    ADULT = "adult"  # one adult to another
    STRANGER = "stranger"  # an adult the child does not know
    COACHED = "coached"  # the child's coach or youth worker
    ACQUAINTANCE = "acquaintance"  # a friend's older friend: met, not close
    FAMILY_FRIEND = "family_friend"  # an adult their parent is connected with here
    PEER = "peer"  # someone the child takes for a teen they have not met


# accept, ignore; the rest rejects
_ANSWERS = {
    Relation.KNOWN: (0.90, 0.06),
    Relation.CLASSMATE: (0.85, 0.10),
    Relation.ADULT: (0.70, 0.20),
    Relation.COACHED: (0.85, 0.10),
    Relation.ACQUAINTANCE: (0.60, 0.25),
    Relation.FAMILY_FRIEND: (0.50, 0.15),
    Relation.PEER: (0.40, 0.20),
}
# Answers to these count as answers to someone the child does not really know: a
# rejection may come with a block or a report.
_UNKNOWN_TO_THE_CHILD = frozenset(
    {Relation.STRANGER, Relation.FAMILY_FRIEND, Relation.PEER}
)


@dataclass(frozen=True, slots=True)
class SendRequest:
    actor: int
    target: int
    relation: Relation


@dataclass(frozen=True, slots=True)
class Answer:
    actor: int
    request_id: int
    sender: int
    accept: bool
    relation: Relation = Relation.ADULT  # what the one answering made of the sender


@dataclass(frozen=True, slots=True)
class Block:
    actor: int
    target: int


@dataclass(frozen=True, slots=True)
class Report:
    actor: int
    target: int


@dataclass(frozen=True, slots=True)
class Message:
    actor: int
    target: int


@dataclass(frozen=True, slots=True)
class Search:
    actor: int
    q: str


@dataclass(frozen=True, slots=True)
class ViewProfile:
    actor: int
    target: int


Task = SendRequest | Answer | Block | Report | Message | Search | ViewProfile
Planned = tuple[float, Task]  # seconds after the start of the simulation


def _age(person: Person, population: Population) -> int:
    return (population.start - person.birth_date).days // 365


class Society:
    def __init__(self, population: Population, params: Parameters) -> None:
        self.population = population
        self.people = population.by_id
        self.rng = random.Random(f"{params.seed}:behaviour")
        self.friends: dict[int, set[int]] = {p.id: set() for p in population.people}
        for a, b in sorted(population.friendships):
            self.friends[a].add(b)
            self.friends[b].add(a)
        self.children = [p.id for p in population.people if p.role is Role.CHILD]
        self.adults = [p.id for p in population.people if p.role in ORDINARY_ADULTS]
        self.surnames = sorted({p.name.split()[-1] for p in population.people})
        self.rejects = {c: self.rng.uniform(*STRANGER_REJECTS) for c in self.children}
        self.blocked: set[tuple[int, int]] = set()  # (blocker, blocked)
        self.restricted: set[int] = set()  # accounts that found out they are restricted
        self.tried: dict[int, set[int]] = {}  # groomer person -> children already approached
        self.accepted: dict[int, set[int]] = {}  # groomer account -> children who accepted
        self.groomer_start: dict[int, int] = {}
        self.onboarding: dict[int, int] = {}  # teacher -> the day they reach out to their class
        self.team_day: dict[int, int] = {}  # coach -> the day they befriend the team
        self.club_start: dict[int, int] = {}  # youth worker -> the first of their club days
        self.parents_of: dict[int, list[int]] = {}
        self.children_of: dict[int, list[int]] = {}
        for person in population.people:
            if person.role is Role.PARENT and person.family is not None:
                kids = [
                    k
                    for k in sorted(self.friends[person.id])
                    if self.people[k].role is Role.CHILD and self.people[k].family == person.family
                ]
                self.children_of[person.id] = kids
        self.teens = [c for c in self.children if _age(self.people[c], population) >= 13]
        self.practice_days: dict[int, frozenset[int]] = {}  # coach, youth worker -> weekdays (0: Monday)
        for person in population.people:
            if person.role is Role.COACH:
                self.team_day[person.id] = self.rng.randrange(min(TEAM_DAY_WITHIN, params.days))
                self.practice_days[person.id] = frozenset(self.rng.sample(range(7), PRACTICES_A_WEEK))
            if person.role is Role.YOUTH_WORKER:
                self.club_start[person.id] = self.rng.randrange(min(TEAM_DAY_WITHIN, params.days))
                self.practice_days[person.id] = frozenset(self.rng.sample(range(7), CLUB_NIGHTS_A_WEEK))
            if person.role is Role.GROOMER and person.groomer not in self.groomer_start:
                self.groomer_start[person.groomer or 0] = self.rng.randrange(
                    min(GROOMER_START_DAYS, params.days)
                )
            if person.role is Role.TEACHER and self.rng.random() < TEACHER_ONBOARDS_CLASS:
                self.onboarding[person.id] = self.rng.randrange(params.days)

    # --- what the app answered ------------------------------------------------------------

    def became_friends(self, a: int, b: int) -> None:
        self.friends[a].add(b)
        self.friends[b].add(a)
        if self.people[a].role is Role.GROOMER and self.people[b].role is Role.CHILD:
            self.accepted.setdefault(a, set()).add(b)

    def blocked_by(self, blocker: int, blocked: int) -> None:
        self.blocked.add((blocker, blocked))
        self.friends[blocker].discard(blocked)
        self.friends[blocked].discard(blocker)
        self.accepted.get(blocked, set()).discard(blocker)

    def found_restricted(self, account: int) -> None:
        """The account's requests to children are refused: it stops (a real groomer would
        open a new account, which this model does not do)."""
        self.restricted.add(account)

    def connected(self, a: int, b: int) -> bool:
        return b in self.friends[a]

    def groomer_day_number(self, person: Person, day: int) -> int:
        """Days since this groomer began (0 on the first)."""
        return day - self.groomer_start[person.groomer or 0]

    # --- planning a day -------------------------------------------------------------------

    def _at(self, day: int, hours: tuple[float, float] = WAKING) -> float:
        return day * DAY + self.rng.uniform(*hours)

    def _hours(self, sender: int, recipient: int) -> tuple[float, float]:
        """When `sender` writes to `recipient` (see LATE, AFTER_PRACTICE, ...)."""
        role = self.people[sender].role
        if self.people[recipient].role is Role.CHILD:
            if role is Role.GROOMER:
                return LATE
            if role in (Role.COACH, Role.YOUTH_WORKER):
                return AFTER_PRACTICE
            if role is Role.TUTOR:
                return AFTER_SCHOOL
        return OWN_HOURS.get(role, WAKING)

    def _message(self, day: int, sender: int, recipient: int) -> Planned:
        return (self._at(day, self._hours(sender, recipient)), Message(sender, recipient))

    def plan_day(self, day: int) -> list[Planned]:
        plan: list[Planned] = []
        for person in self.population.people:
            if person.id in self.restricted:
                continue
            if person.role is Role.GROOMER:
                if day >= self.groomer_start[person.groomer or 0]:
                    plan += self._groomer_day(person, day)
            else:
                plan += self._ordinary_day(person, day)
        return plan

    def _ordinary_day(self, person: Person, day: int) -> list[Planned]:
        rng = self.rng
        plan: list[Planned] = []
        me = person.id
        friends = sorted(self.friends[me])
        if friends and rng.random() < DM_A_FRIEND:
            plan.append(self._message(day, me, rng.choice(friends)))
        if friends and rng.random() < VIEW_A_FRIEND:
            plan.append((self._at(day), ViewProfile(me, rng.choice(friends))))
        if rng.random() < SEARCH:
            plan.append((self._at(day), Search(me, rng.choice(self.surnames))))
        if person.role is Role.CHILD:
            if rng.random() < CHILD_REQUESTS_CLASSMATE:
                others = [
                    c for c in self.population.classmates.get(me, ()) if not self.connected(me, c)
                ]
                if others:
                    plan.append(
                        (self._at(day), SendRequest(me, rng.choice(others), Relation.CLASSMATE))
                    )
            return plan
        plan += self._messages_to_children(person, day, friends)
        known = [k for k in self.population.known_children.get(me, ()) if not self.connected(me, k)]
        if person.role in HARD_BENIGN:
            plan += self._hard_benign_day(person, day, known)
        elif self.onboarding.get(me) == day:
            for pupil in rng.sample(known, min(len(known), rng.randint(*ONBOARDING_REQUESTS))):
                plan.append((self._at(day), SendRequest(me, pupil, Relation.KNOWN)))
        elif known and rng.random() < ADULT_REQUESTS_KNOWN_CHILD:
            plan.append((self._at(day), SendRequest(me, rng.choice(known), Relation.KNOWN)))
        if rng.random() < ADULT_REQUESTS_ADULT:
            other = rng.choice(self.adults)
            if other != me and not self.connected(me, other):
                plan.append((self._at(day), SendRequest(me, other, Relation.ADULT)))
        if rng.random() < ADULT_MISCLICKS_CHILD:
            child = rng.choice(self.children)
            if not self.connected(me, child):
                plan.append((self._at(day), SendRequest(me, child, Relation.STRANGER)))
        return plan

    def _messages_to_children(self, person: Person, day: int, friends: list[int]) -> list[Planned]:
        """Adults writing to the children they are connected with: parents to their own,
        relatives to the family's, coaches and youth workers to the team after practice,
        tutors to their pupils, an older friend to the teens they know."""
        rng = self.rng
        me, role = person.id, person.role
        children = [f for f in friends if self.people[f].role is Role.CHILD]
        if role is Role.PARENT:
            chance = PARENT_MESSAGES_CHILD
            children = [k for k in self.children_of.get(me, ()) if self.connected(me, k)]
        elif role is Role.RELATIVE:
            chance = RELATIVE_MESSAGES_CHILD
            children = [k for k in children if self.people[k].family == person.family]
        elif role is Role.TUTOR:
            chance = TUTOR_MESSAGES_PUPIL
        elif role is Role.SIBLING_FRIEND:
            chance = SIBLING_FRIEND_MESSAGES_CHILD
        elif role in (Role.COACH, Role.YOUTH_WORKER):
            if day % 7 not in self.practice_days.get(me, ()) or rng.random() >= MESSAGE_AFTER_PRACTICE:
                return []
            # One message to the whole team, as a team's group chat would reach each child.
            at = self._at(day, AFTER_PRACTICE)
            team = set(self.population.known_children.get(me, ()))
            return [(at + i, Message(me, k)) for i, k in enumerate(c for c in children if c in team)]
        else:
            return []
        return [self._message(day, me, k) for k in children if rng.random() < chance]

    def _hard_benign_day(self, person: Person, day: int, known: list[int]) -> list[Planned]:
        """Coaches, youth workers, tutors and friends of older children reaching the
        children they know: many at once, or children who share nothing with each other."""
        rng = self.rng
        me = person.id
        if not known:
            return []
        if person.role is Role.COACH:
            if self.team_day.get(me) == day:
                return [(self._at(day), SendRequest(me, k, Relation.COACHED)) for k in known]
            if rng.random() < ADULT_REQUESTS_KNOWN_CHILD:
                return [(self._at(day), SendRequest(me, rng.choice(known), Relation.COACHED))]
        elif person.role is Role.YOUTH_WORKER:
            first = self.club_start.get(me, 0)
            if first <= day < first + CLUB_DAYS:
                chosen = rng.sample(known, min(len(known), rng.randint(*CLUB_REQUESTS)))
                return [(self._at(day), SendRequest(me, k, Relation.COACHED)) for k in chosen]
        elif person.role is Role.TUTOR and rng.random() < TUTOR_REQUESTS_PUPIL:
            return [(self._at(day), SendRequest(me, rng.choice(known), Relation.KNOWN))]
        elif person.role is Role.SIBLING_FRIEND and rng.random() < SIBLING_FRIEND_REQUESTS:
            return [(self._at(day), SendRequest(me, rng.choice(known), Relation.ACQUAINTANCE))]
        return []

    def _new_children(
        self, person: Person, how_many: int, among: list[int] | None = None
    ) -> list[int]:
        tried = self.tried.setdefault(person.groomer or 0, set())
        pool = self.children if among is None else among
        fresh = [c for c in pool if c not in tried and (c, person.id) not in self.blocked]
        chosen = self.rng.sample(fresh, min(how_many, len(fresh)))
        tried.update(chosen)
        return chosen

    def _via_parents(self, person: Person, day: int) -> list[Planned]:
        """First parents (adult to adult), then the children of the parents who accepted,
        then those children's classmates, then anyone."""
        rng = self.rng
        me = person.id
        plan: list[Planned] = []
        if self.groomer_day_number(person, day) < VIA_PARENTS_FIRST_DAYS:
            parents = [p for p in self.children_of if not self.connected(me, p)]
            for parent in rng.sample(parents, min(len(parents), rng.randint(*VIA_PARENTS_ADULT_REQUESTS))):
                plan.append((self._at(day), SendRequest(me, parent, Relation.ADULT)))
            return plan
        friends_kids = sorted(
            {k for p in self.friends[me] for k in self.children_of.get(p, ())}
        )
        mates = sorted(
            {m for k in friends_kids for m in self.population.classmates.get(k, ())}
        )
        wanted = rng.randint(*VIA_PARENTS_REQUESTS)
        for pool, relation in ((friends_kids, Relation.FAMILY_FRIEND), (mates, Relation.STRANGER),
                               (None, Relation.STRANGER)):
            for child in self._new_children(person, wanted, pool):
                plan.append((self._at(day), SendRequest(me, child, relation)))
                wanted -= 1
            if wanted <= 0:
                break
        return plan

    def _groomer_day(self, person: Person, day: int) -> list[Planned]:
        rng = self.rng
        tactic = person.tactic or Tactic.SLOW
        me = person.id
        plan: list[Planned] = []
        if rng.random() < GROOMER_SEARCH[tactic]:
            plan.append((self._at(day), Search(me, rng.choice(self.surnames))))
        pool: list[int] | None = None
        relation = Relation.STRANGER
        if tactic is Tactic.VIA_PARENTS:
            plan += self._via_parents(person, day)
            requests = 0
            attempts = 1 if rng.random() < DM_ATTEMPT[tactic] else 0
        elif tactic is Tactic.IMPERSONATOR:
            requests = rng.randint(*IMPERSONATOR_REQUESTS)
            attempts = 1 if rng.random() < DM_ATTEMPT[tactic] else 0
            pool, relation = self.teens, Relation.PEER
        elif tactic is Tactic.COACH_PACE:
            if self.groomer_day_number(person, day) == 0:
                requests = rng.randint(*COACH_PACE_FIRST_DAY)
            else:
                requests = 1 if rng.random() < COACH_PACE_LATER else 0
            attempts = 1 if rng.random() < DM_ATTEMPT[tactic] else 0
        elif tactic is Tactic.AGGRESSIVE:
            requests = rng.randint(*AGGRESSIVE_REQUESTS)
            attempts = rng.randint(*AGGRESSIVE_DM_ATTEMPTS)
        else:
            if tactic is Tactic.PATIENT:
                requests = 1 if rng.random() < PATIENT_REQUEST else 0
            else:
                requests = rng.randint(
                    *(SLOW_REQUESTS if tactic is Tactic.SLOW else SPREAD_REQUESTS)
                )
            attempts = 1 if rng.random() < DM_ATTEMPT[tactic] else 0
        for child in self._new_children(person, requests, pool):
            at = self._at(day)
            if rng.random() < VIEW_BEFORE_REQUEST:
                plan.append((at, ViewProfile(me, child)))
            plan.append((at + 60, SendRequest(me, child, relation)))
        for child in self._new_children(person, attempts, pool):
            plan.append((self._at(day), Message(me, child)))
        for child in sorted(self.accepted.get(me, ())):
            if rng.random() < DM_ACCEPTED_CHILD:
                plan.append(self._message(day, me, child))
        return plan

    # --- reactions ------------------------------------------------------------------------

    def answer(self, request: SendRequest, request_id: int, at: float) -> list[Planned]:
        """How the recipient answers a request that reached them (maybe never)."""
        rng = self.rng
        if request.relation is Relation.STRANGER:
            if rng.random() < STRANGER_IGNORED:
                return []
            accept = rng.random() >= self.rejects.get(request.target, STRANGER_REJECTS[0])
        else:
            accepts, ignores = _ANSWERS[request.relation]
            draw = rng.random()
            if draw >= accepts and draw < accepts + ignores:
                return []
            accept = draw < accepts
        when = at + rng.uniform(*ANSWER_DELAY)
        plan: list[Planned] = [(when, Answer(request.target, request_id, request.actor, accept, request.relation))]
        if not accept and request.relation in _UNKNOWN_TO_THE_CHILD:
            if rng.random() < BLOCK_AFTER_REJECT:
                plan.append((when + 60, Block(request.target, request.actor)))
            if rng.random() < REPORT_AFTER_REJECT:
                plan.append((when + 120, Report(request.target, request.actor)))
        return plan

    def after_acceptance(self, answer: Answer, at: float) -> list[Planned]:
        """The requester's first message to the person who just accepted them (maybe none):
        soon, or later in the requester's hours for them. Nobody writes to a stranger's
        child they asked by mistake."""
        sender = self.people[answer.sender]
        if answer.relation is Relation.STRANGER and sender.role is not Role.GROOMER:
            return []
        chance, delay = FIRST_MESSAGE.get(sender.role, (0.0, (0.0, 0.0)))
        rng = self.rng
        if rng.random() >= chance:
            return []
        when = at + rng.uniform(*delay)
        if sender.role is not Role.GROOMER:
            when = self._within(when, self._hours(sender.id, answer.actor))
        return [(when, Message(sender.id, answer.actor))]

    def _within(self, when: float, hours: tuple[float, float]) -> float:
        """`when`, or a moment in the first hour of the next stretch of `hours` after it."""
        start, end = hours
        day, clock = divmod(when, DAY)
        if start <= clock < end or clock < end - DAY:
            return when
        opens = day * DAY + start if clock < start else (day + 1) * DAY + start
        return opens + self.rng.uniform(0, min(HOUR, end - start))

    def after_message(self, message: Message, at: float) -> list[Planned]:
        """A child who receives a groomer's message may block or report them."""
        if self.people[message.actor].role is not Role.GROOMER:
            return []
        if self.people[message.target].role is not Role.CHILD:
            return []
        rng = self.rng
        plan: list[Planned] = []
        delay = rng.uniform(*ANSWER_DELAY)
        if rng.random() < BLOCK_AFTER_GROOMER_DM:
            plan.append((at + delay, Block(message.target, message.actor)))
        if rng.random() < REPORT_AFTER_GROOMER_DM:
            plan.append((at + delay + 60, Report(message.target, message.actor)))
        return plan

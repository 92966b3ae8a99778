"""What a decision leaves behind: decision-log rows, grooming-signal events, reports.

One implementation for every channel (an HTTP request, a WebSocket handshake, one frame
of a socket), so a refusal counts the same towards the audit trail and the grooming
alerts whichever way the attempt arrived. What each action records is the action table's
(`decide/actions.py`). The writers only queue (a list append, a submit): nothing here waits
for SQL or Redis, except a refusal's decision-log rows (written before the refusal is
answered: `judged`) and, once the app has answered, the lookups an event's signals read:
the pair's mutual connections (a contact request to a minor; any event a signal counts
by them: `mutual_wanted`) and the network context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..bands.age import AgeBand
from ..decide.actions import ActionSpec
from ..decide.budget import within
from ..decide.ids import PLAIN_FIRST, canonical
from ..decide.refusal import STATUS, Refusal, refusal_of
from ..decide.request import Decision
from ..decide.rules import PairVerdict, Party, strongest
from ..decisions import sampling
from ..decisions.ids import new_decision_id
from ..decisions.log import DecisionRow
from ..errors import StorageError
from ..policy.model import Action, EventKind, Mode, Outcome
from ..runtime import Runtime
from ..signals.events import Event
from . import late_facts


def per_account(rt: Runtime, pairs: Sequence[PairVerdict]) -> Sequence[PairVerdict]:
    """`pairs` with every spelling of one account folded into one pair: what is recorded
    and counted is recorded once per account, however many ways the request wrote it.

    Spellings are one account when they share `ids.canonical`. The account is named as the
    band store knows it: the spelling it has a record of (each, should it hold several);
    when it knows none, the canonical form. Its verdict is the strongest any spelling had,
    so the rule that decided is the rule recorded."""
    if len(pairs) < 2:
        return pairs  # one spelling is its own canonical form
    ids = [pair.target.id for pair in pairs]
    # Inline, per account: a plain id, or a number as an app writes it (ASCII digits, not
    # zero-padded; a page of database integers), is its own canonical form.
    keys = [
        a if a is None or (a[0] in PLAIN_FIRST and not a[-1].isspace())
        or (a.isdigit() and a.isascii() and (a[0] != "0" or len(a) == 1)) else canonical(a)
        for a in ids
    ]
    if keys == ids and len(set(keys)) == len(keys):
        return pairs  # every target a different account, named canonically (the every-day case)
    groups: dict[str | None, list[PairVerdict]] = {}
    for key, pair in zip(keys, pairs, strict=True):
        groups.setdefault(key, []).append(pair)
    out: list[PairVerdict] = []
    for key, group in groups.items():
        if key is None or (len(group) == 1 and group[0].target.id == key):
            out.extend(group)
            continue
        stored: dict[str, PairVerdict] = {}
        others: list[PairVerdict] = []
        for pair in group:
            if is_account(rt, pair.target):
                stored.setdefault(pair.target.id, pair)  # type: ignore[arg-type]
            else:
                others.append(pair)
        for own in stored.values():
            decisive = strongest([own, *others]) or own
            out.append(PairVerdict(own.target, decisive.verdict, own.lookups))
        if not stored:
            decisive = strongest(others) or others[0]
            out.append(PairVerdict(decisive.target._replace(id=key), decisive.verdict, decisive.lookups))
    return out


# A band's value, read from a dict: `.value` is a Python-level descriptor, read per account
# a list's row names.
_BAND_VALUES: dict[AgeBand, str] = {band: band.value for band in AgeBand}


def is_account(rt: Runtime, party: Party) -> bool | None:
    """Whether the band store holds `party`'s account: True, False (no record: no account
    at all), or None when this process cannot tell (the lookup failed, or was not made)."""
    if party.band is not AgeBand.UNKNOWN:
        return True  # a band is a record
    if party.id is None:
        return False
    record = rt.bands.cached(party.id)
    return None if record is None else record.exists


def counts_as_account(rt: Runtime, target: Party) -> bool:
    """Whether an event about `target` may count towards a signal. An id the band store has
    no record of is no account: the request was still refused (`unknown` is a minor by the
    protective default), but an adult who mistypes ids must not look like one reaching
    children. When this process cannot tell, it counts (protective)."""
    return target.id is not None and is_account(rt, target) is not False


def decision_rows(
    rt: Runtime,
    *,
    action: Action,
    route: str,
    at: float,
    actor: Party,
    pairs: Sequence[PairVerdict],
    affected_by_rule: bool = False,
    changed_nothing: bool = False,
) -> list[DecisionRow]:
    """The decision-log rows of a decision: one per refused (or would-be refused) account;
    the first row's id names the decision. With `affected_by_rule` (a list the app answered
    with), one row per rule however long the list: `affected` counts the accounts and
    `targets` names each, with its band.

    `changed_nothing`: the decision leaves the answer as the app makes it (no refusal, no
    filter, no redaction). Only then are the rows of an `allow` rule that samples its log
    sampled (`decisions/sampling.py`), and never an actor's under restriction: moderators
    are looking at that account, and every decision about it is kept for them."""
    rows: dict[tuple[str, str | None], DecisionRow] = {}
    listed: dict[str, list[list[str | None]]] = {}
    band_values = _BAND_VALUES
    sampling_on = changed_nothing and not actor.restricted
    for pair in per_account(rt, pairs):
        rule = pair.verdict.rule
        if rule is None:
            continue
        target = pair.target
        if affected_by_rule:
            accounts = listed.get(rule.id)
            if accounts is not None:
                accounts.append([target.id, band_values[target.band]])
                continue
            listed[rule.id] = [[target.id, band_values[target.band]]]
        rows[(rule.id, target.id)] = DecisionRow(
            id=new_decision_id(),
            at=at,
            action=action.value,
            rule=rule.id,
            policy_version=rt.policy.version,
            mode=rule.mode.value,
            outcome=rule.outcome.value,
            status=STATUS.get(rule.outcome) if rule.mode is Mode.ENFORCE else None,
            actor_id=actor.id,
            actor_band=actor.band.value,
            target_id=target.id,
            target_band=target.band.value,
            route=route,
            sample_rate=rule.sample if sampling_on else None,
        )
    out = list(rows.values())
    if affected_by_rule:
        out = [row._replace(affected=len(listed[row.rule]), targets=listed[row.rule]) for row in out]
    if sampling_on and any(row.sample_rate is not None for row in out):
        return sampling.kept(out)
    return out


def log_decision(
    rt: Runtime,
    *,
    action: Action,
    route: str,
    at: float,
    actor: Party,
    pairs: Sequence[PairVerdict],
    affected_by_rule: bool = False,
    changed_nothing: bool = False,
) -> str | None:
    """Queue a decision's rows (`decision_rows`); the decision id (None: no rule applied, or
    the decision's rows were sampled out)."""
    rows = decision_rows(
        rt, action=action, route=route, at=at, actor=actor, pairs=pairs, affected_by_rule=affected_by_rule,
        changed_nothing=changed_nothing,
    )
    for row in rows:
        rt.decisions.record(row)
    return rows[0].id if rows else None


async def judged(
    rt: Runtime, *, spec: ActionSpec, route: str, at: float, decision: Decision
) -> tuple[str | None, Refusal | None]:
    """Log `decision` and, when it refuses, count the attempt: the decision id (None when no
    rule applied) and the refusal the client is told (None: the request goes on).

    A refusal's rows are on the record before it is answered: written now, within the
    policy's time budget (a worker killed right after answering loses none). When they
    cannot be - the database is down or slow - the refusal is answered all the same (it is
    already the protective answer) and its rows are queued like any other, counted in the
    health report's `decision_log.answered_unwritten`. Everything else is queued (an allowed
    decision that changes nothing, sampled when its rule says so: `decision_rows`)."""
    decisive = decision.decisive
    if decisive is None:
        return None, None
    verdict = decisive.verdict
    rows = decision_rows(
        rt, action=spec.action, route=route, at=at, actor=decision.actor, pairs=decision.pairs,
        changed_nothing=verdict.mode is Mode.MONITOR or verdict.outcome is Outcome.ALLOW,
    )
    decision_id = rows[0].id if rows else None
    refusal = refusal_of(verdict, decision_id)
    if refusal is None:
        for row in rows:
            rt.decisions.record(row)
        return decision_id, None
    await rt.decisions.record_before_answer(rows, within=rt.facts.time_budget)
    if decision_id is not None:
        record_refusal(rt, spec=spec, at=at, actor=decision.actor, pairs=decision.pairs, decision_id=decision_id)
    return decision_id, refusal


def record_refusal(
    rt: Runtime,
    *,
    spec: ActionSpec,
    at: float,
    actor: Party,
    pairs: Sequence[PairVerdict],
    decision_id: str,
) -> None:
    """A refused attempt is still an attempt: the event the action counts it as (a denied DM,
    a contact request), per refused account (not per spelling of it; none for an id that
    is no account)."""
    kind = spec.refused_counts_as
    if kind is None or actor.id is None or rt.signals is None:
        return
    for pair in per_account(rt, pairs):
        if pair.verdict.rule is not None and counts_as_account(rt, pair.target):
            submit(rt, kind, actor.id, pair.target, pair.lookups.mutual, at, decision_id, refused=True)


async def record_success(
    rt: Runtime,
    *,
    spec: ActionSpec,
    at: float,
    actor: Party,
    pairs: Sequence[PairVerdict],
    decision_id: str | None,
    report_text: str | None = None,
    read: bool = True,
) -> None:
    """What the app's successful answer to `spec.action` leaves behind: the event it counts
    as, and a child-endangerment report per account reported (with `report_text`, what the
    reporter wrote). Once per account, however many ways the request spelt it.

    Not `read`: a lookup failed and the request went on without its facts (every band
    `unknown`); the events go to the writer to read them (`late_facts.py`), and so does one
    whose mutual connections could not be had here (`mutual_wanted`)."""
    if actor.id is None or not (spec.succeeded_counts_as or spec.files_reports):
        return
    accounts = per_account(rt, pairs)
    if spec.files_reports:
        _file_reports(rt, actor, accounts, at, decision_id, report_text)
    kind = spec.succeeded_counts_as
    if kind is None or rt.signals is None:
        return
    carries = mutual_wanted(rt, kind, with_mutual=spec.with_mutual)
    for pair in accounts:
        target = pair.target
        if target.id is None or not counts_as_account(rt, target):
            continue
        # Whether the target is an account at all is read with the bands, if it could not be told.
        unsure = None if read or is_account(rt, target) is not None else target.id
        # Blocks and reports count against the account blocked or reported: the target is
        # the subject, the actor (often the child) is the other.
        subject, other = (target.id, actor) if spec.against_target else (actor.id, target)
        mutual = pair.lookups.mutual
        pair_ids = (actor.id, target.id) if mutual is None and carries is not None else None
        if not read:
            late_facts.pair_event(
                rt, kind, subject=subject, other=other, at=at, decision_id=decision_id,
                other_read=False, account=unsure, mutual_of=pair_ids, mutual_wanted=carries,
            )
            continue
        if spec.against_target:
            await _record_pair(rt, kind, subject, other, mutual, pair_ids, carries, at, decision_id)
            continue
        ties = await _ties_quietly(rt, kind, actor.id, target, at)
        vouched = await _vouched_quietly(rt, kind, actor.id, target)
        adults = await _adult_connections_quietly(rt, kind, actor.id, actor.band, target, at)
        await _record_pair(
            rt, kind, subject, other, mutual, pair_ids, carries, at, decision_id, ties=ties,
            subject_band=actor.band, vouched=vouched, adult_connections=adults,
        )


async def record_answer(
    rt: Runtime, *, kind: EventKind, at: float, responder: Party, requesters: Sequence[PairVerdict],
    read: bool = True,
) -> None:
    """A contact request answered (accepted or rejected): an event about each requester,
    with the pair's mutual connections when a signal counts the answer by them.
    Not `read`: the responder's band could not be read, and the writer reads it."""
    carries = mutual_wanted(rt, kind)
    for pair in per_account(rt, requesters):
        requester = pair.target.id
        if requester is None or responder.id is None:
            continue
        pair_ids = (requester, responder.id) if carries is not None else None
        if read:
            ties = await _ties_quietly(rt, kind, requester, responder, at)
            vouched = await _vouched_quietly(rt, kind, requester, responder)
            adults = await _adult_connections_quietly(rt, kind, requester, None, responder, at)
            await _record_pair(
                rt, kind, requester, responder, None, pair_ids, carries, at, None, ties=ties, vouched=vouched,
                adult_connections=adults,
            )
        else:
            late_facts.pair_event(
                rt, kind, subject=requester, other=responder, at=at, decision_id=None, other_read=False,
                mutual_of=pair_ids, mutual_wanted=carries,
            )


def mutual_wanted(rt: Runtime, kind: EventKind, *, with_mutual: bool = False) -> Callable[[AgeBand], bool] | None:
    """Whether an event of `kind` carries the pair's mutual connections, by the other
    account's band; None when no event of `kind` does. A contact request to a minor always
    does (`ActionSpec.with_mutual`: what the baseline's signals and rules count by), and
    any event an enabled signal could count by them (`relations/mutual_wanted.py`)."""
    asked = rt.mutual_wanted
    if asked is not None and kind not in asked.kinds:
        asked = None
    if not with_mutual and asked is None:
        return None

    def carries(band: AgeBand) -> bool:
        return (with_mutual and minor_band(rt, band)) or (asked is not None and asked.wanted_for(kind, band))

    return carries


async def _record_pair(
    rt: Runtime,
    kind: EventKind,
    subject: str,
    other: Party,
    mutual: int | None,
    pair_ids: tuple[str, str] | None,
    carries: Callable[[AgeBand], bool] | None,
    at: float,
    decision_id: str | None,
    *,
    ties: int | None = None,
    subject_band: AgeBand | None = None,
    vouched: bool = False,
    adult_connections: int | None = None,
) -> None:
    """Submit the event about `subject` reaching `other`, whose band is read, with the pair's
    mutual connections when it carries them (`carries`) and the request did not read them.
    When they cannot be had here (the app has already answered, and the lookup failed or
    ran out of the time budget), the event waits for the writer to read them
    (`late_facts.py`), with the facts read here: counted without them, it would match no
    signal that asks for them."""
    if pair_ids is not None and carries is not None and carries(other.band):
        mutual = await _mutual_quietly(rt, *pair_ids)
        if mutual is None:
            late_facts.pair_event(
                rt, kind, subject=subject, other=other, at=at, decision_id=decision_id, other_read=True,
                mutual_of=pair_ids, mutual_wanted=carries, ties=ties, subject_band=subject_band, vouched=vouched,
                adult_connections=adult_connections,
            )
            return
    submit(
        rt, kind, subject, other, mutual, at, decision_id, ties=ties, subject_band=subject_band, vouched=vouched,
        adult_connections=adult_connections,
    )


def _file_reports(
    rt: Runtime, reporter: Party, accounts: Sequence[PairVerdict], at: float, decision_id: str | None,
    text: str | None,
) -> None:
    """A report becomes a child-endangerment report in the moderation queue: one per account
    reported, with the reporter's words when the route names where they are."""
    reports = rt.reports
    if reports is None or reporter.id is None:
        return
    for pair in accounts:
        if pair.target.id is not None:
            reports.record(
                reporter_id=reporter.id, reporter_band=reporter.band.value,
                reported_id=pair.target.id, reported_band=pair.target.band.value,
                at=at, decision_id=decision_id, text=text,
            )


async def _mutual_quietly(rt: Runtime, actor: str, target: str) -> int | None:
    """The pair's mutual connections for the event, or None when they cannot be had here
    within the time budget: the app has already answered, so the event waits for the
    writer to read them (`_record_pair`)."""
    try:
        async with within(rt.facts.time_budget):
            return await rt.relationships.mutual(actor, target)
    except StorageError:
        return None


async def _ties_quietly(rt: Runtime, kind: EventKind, subject: str, other: Party, at: float) -> int | None:
    """The policy's network context of `subject` and the minor `other` (`community_ties`),
    when a signal counts `kind` by it; None when none does, `other` is no minor, or it
    cannot be read: the event is then counted by no signal that asks for it."""
    if rt.ties is None or kind not in rt.ties.kinds or other.id is None or not is_minor(rt, other):
        return None
    try:
        async with within(rt.facts.time_budget):
            return await rt.ties.count(subject, other.id, at)
    except StorageError:
        return None


async def _vouched_quietly(rt: Runtime, kind: EventKind, subject: str, other: Party) -> bool:
    """Whether the platform vouches for `subject` (`relationships.vouched`), when a signal
    filters `kind` by it and `other` is a minor (whom every such signal is about). Not
    vouched when none does or it cannot be read: vouching spares an account from signals,
    so a failing lookup never spares anyone."""
    if rt.vouched is None or kind not in rt.vouched.kinds or not is_minor(rt, other):
        return False
    try:
        async with within(rt.facts.time_budget):
            return await rt.vouched.check(subject)
    except StorageError:
        return False


async def _adult_connections_quietly(
    rt: Runtime, kind: EventKind, subject: str, subject_band: AgeBand | None, other: Party, at: float
) -> int | None:
    """The percentage of `subject`'s connections who are adults (`relationships.adult_connections`),
    when a signal could count this event by it; None when none could, or it cannot be read.
    An unknown share matches no range, so a failing lookup raises no alert: the share
    only ever narrows a signal down to the accounts it accuses, and an accusation is
    made only on what is known."""
    wanted = rt.adult_connections
    if wanted is None or not wanted.wanted_for(kind, subject_band, other.band):
        return None
    try:
        async with within(rt.facts.time_budget):
            return await wanted.share(subject, at)
    except StorageError:
        return None


def is_minor(rt: Runtime, person: Party) -> bool:
    """A minor as the policy counts them (`unknown` too, by the protective default)."""
    return minor_band(rt, person.band)


def minor_band(rt: Runtime, band: AgeBand) -> bool:
    """Whether the policy counts `band` as a minor's (`unknown` too, by the protective default)."""
    return band.is_minor or (band is AgeBand.UNKNOWN and rt.policy.unknown_is_minor)


def submit(
    rt: Runtime,
    kind: EventKind,
    subject: str,
    other: Party,
    mutual: int | None,
    at: float,
    decision_id: str | None,
    *,
    refused: bool = False,
    ties: int | None = None,
    subject_band: AgeBand | None = None,
    vouched: bool = False,
    adult_connections: int | None = None,
) -> None:
    """One event about `subject` reaching `other`; dropped when no signal pipeline is attached.
    `refused`: the attempt was refused by an enforced rule (it never reached `other`)."""
    if rt.signals is None or other.id is None:
        return
    rt.signals.submit(
        Event(
            kind, subject, other.id, other.band, mutual, at, decision_id, refused, ties, subject_band, vouched,
            adult_connections,
        )
    )

"""What a decision reads about the accounts of a request, behind a narrow interface.

`decide` and `decide_page` read age bands, restrictions, relationships, account ages and
the actor's signal counts
through `Facts` and nothing else: the request path hands them the stores it opened (`stores.StoreFacts`),
`policy test` the facts a test case gives (`given.GivenFacts`). Each kind of fact can be read
two ways: from an in-process cache (no I/O; None when not cached) and fetched (a query for
all the misses at once, bounded by the time budget).

A `Party` is built here and nowhere else (`party`), so a new fact about an account reaches
every path that decides.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Protocol

from ..bands.age import AgeBand, Assurance, BandRecord
from .ids import canonical
from .rules import Party


class BandFacts(Protocol):
    """Age bands (`bands.BandDirectory`)."""

    @property
    def knows_every_account(self) -> bool:
        """Whether an id without a record is no account at all (the app's own users table)."""
        ...

    def cached(self, account_id: str) -> BandRecord | None: ...

    def cached_all(self, account_ids: Sequence[str]) -> list[BandRecord] | None: ...

    async def get_many(self, ids: Iterable[str]) -> dict[str, BandRecord]: ...


class RelationshipFacts(Protocol):
    """Connections and mutual connections (`relations.RelationshipDirectory`)."""

    def cached_connected(self, actor: str, target: str) -> bool | None: ...

    def cached_mutual(self, actor: str, target: str) -> int | None: ...

    async def connected_among(self, actor: str, targets: Collection[str]) -> frozenset[str]: ...

    async def mutual(self, actor: str, target: str) -> int: ...


class AccountFacts(Protocol):
    """How old accounts are (`accounts.AccountAges`), in days since their creation."""

    def cached_age_days(self, account_id: str) -> float | None: ...

    async def age_days(self, account_id: str) -> float: ...


class CountFacts(Protocol):
    """The actor's counts under the policy's count signals (`signals.counts.SignalCounts`)."""

    async def count(self, account_id: str, signal: str) -> int: ...


class RestrictionFacts(Protocol):
    """Accounts restricted until a moderator decides (in process: no I/O)."""

    def is_restricted(self, account_id: str) -> bool: ...


class Facts(Protocol):
    """Everything a decision may read."""

    @property
    def bands(self) -> BandFacts: ...

    @property
    def relationships(self) -> RelationshipFacts: ...

    @property
    def restrictions(self) -> RestrictionFacts: ...

    @property
    def accounts(self) -> AccountFacts: ...

    @property
    def counts(self) -> CountFacts: ...

    @property
    def time_budget(self) -> float:
        """Seconds the fetches of one decision may take together (`defaults.time_budget_ms`)."""
        ...


# Parties are made per listed account on the request path: built with what a NamedTuple's
# own `__new__` does once it has bound its arguments, the binding being most of the cost.
_new = tuple.__new__


def party(record: BandRecord, restricted: bool) -> Party:
    """The party an account is in a decision: its band record, and whether it is restricted."""
    return _new(Party, (record.account_id, record.band, record.assurance, restricted))


ANONYMOUS = Party(None, AgeBand.UNKNOWN, Assurance.SELF_DECLARED, False)


def readings_of_accounts(target_ids: Sequence[str], records: Sequence[BandRecord]) -> list[str]:
    """`target_ids` without the spellings that name no account where another spelling of the
    same number does: `010` beside an existing `10` is how a typed handler writes account 10,
    not a second account of unknown age. Only for a store that knows every account (the
    app's own users table); spellings of which none exists all stay (unknown, protected)."""
    present = {canonical(a) for a, record in zip(target_ids, records, strict=True) if record.exists}
    if not present:
        return list(target_ids)
    return [
        account for account, record in zip(target_ids, records, strict=True)
        if record.exists or canonical(account) not in present
    ]

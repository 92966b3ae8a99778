"""Facts given in memory: every one known, none fetched.

What `safe-accounts policy test` decides over (a test case's accounts, connections and
restrictions), through the same `decide` as the request path, so a passing case is a
statement about production. An account the case does not list has no band record: it
is `unknown`, as in production.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..bands.age import AgeBand, Assurance, BandRecord, unknown
from ..policy.model import PolicyTest

SOURCE = "given"


@dataclass(frozen=True)
class GivenFacts:
    """`records` by account id; `connections` and `mutual` by unordered pair of ids."""

    records: Mapping[str, BandRecord] = field(default_factory=dict)
    restricted: frozenset[str] = frozenset()
    connections: frozenset[frozenset[str]] = frozenset()
    mutual_counts: Mapping[frozenset[str], int] = field(default_factory=dict)
    # Days since an account was created; one not given counts as created now.
    ages: Mapping[str, float] = field(default_factory=dict)
    # Counts under the policy's count signals, by account then signal; 0 when not given.
    signal_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    time_budget: float = 1.0
    knows_every_account: bool = False

    @classmethod
    def of_case(cls, case: PolicyTest) -> GivenFacts:
        records = {}
        for account, spec in case.accounts.items():
            band, _, assurance = spec.partition("/")
            records[account] = BandRecord(
                account, AgeBand.parse(band),
                Assurance.parse(assurance) if assurance else Assurance.SELF_DECLARED, SOURCE,
            )
        mutual: dict[frozenset[str], int] = {}
        for pair, count in case.mutual.items():
            a, _, b = pair.partition(",")
            mutual[frozenset((a, b))] = count
        return cls(
            records=records,
            restricted=frozenset(case.restricted),
            connections=frozenset(frozenset(pair) for pair in case.connections),
            mutual_counts=mutual,
            ages=dict(case.account_age_days),
            signal_counts={account: dict(counts) for account, counts in case.counts.items()},
        )

    # `Facts`: every kind of fact is read from here.

    @property
    def bands(self) -> GivenFacts:
        return self

    @property
    def relationships(self) -> GivenFacts:
        return self

    @property
    def restrictions(self) -> GivenFacts:
        return self

    @property
    def accounts(self) -> GivenFacts:
        return self

    @property
    def counts(self) -> GivenFacts:
        return self

    # -- bands --

    def cached(self, account_id: str) -> BandRecord:
        return self.records.get(account_id) or unknown(account_id)

    def cached_all(self, account_ids: Sequence[str]) -> list[BandRecord]:
        return [self.cached(a) for a in account_ids]

    async def get_many(self, ids: Iterable[str]) -> dict[str, BandRecord]:
        return {a: self.cached(a) for a in ids}

    # -- relationships --

    def cached_connected(self, actor: str, target: str) -> bool:
        return frozenset((actor, target)) in self.connections

    def cached_mutual(self, actor: str, target: str) -> int:
        return self.mutual_counts.get(frozenset((actor, target)), 0)

    async def connected_among(self, actor: str, targets: Collection[str]) -> frozenset[str]:
        return frozenset(t for t in targets if self.cached_connected(actor, t))

    async def mutual(self, actor: str, target: str) -> int:
        return self.cached_mutual(actor, target)

    # -- account ages --

    def cached_age_days(self, account_id: str) -> float:
        return self.ages.get(account_id, 0.0)

    async def age_days(self, account_id: str) -> float:
        return self.cached_age_days(account_id)

    # -- counts --

    async def count(self, account_id: str, signal: str) -> int:
        return self.signal_counts.get(account_id, {}).get(signal, 0)

    # -- restrictions --

    def is_restricted(self, account_id: str) -> bool:
        return account_id in self.restricted

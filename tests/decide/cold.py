"""Facts whose caches never hold anything: `decide` and `decide_page` over them take the
plain way (`decide/judge.py`), fetching what the caches of the facts wrapped would have given.
Deciding over `Cold(facts)` and over `facts` must agree: the cached way is a shortcut, not a
second decision."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from safe_accounts.bands.age import BandRecord
from safe_accounts.decide.facts import AccountFacts, BandFacts, Facts, RelationshipFacts, RestrictionFacts


class _ColdBands:
    def __init__(self, bands: BandFacts) -> None:
        self._bands = bands

    @property
    def knows_every_account(self) -> bool:
        return self._bands.knows_every_account

    def cached(self, account_id: str) -> BandRecord | None:
        return None

    def cached_all(self, account_ids: Sequence[str]) -> list[BandRecord] | None:
        return None

    async def get_many(self, ids: Iterable[str]) -> dict[str, BandRecord]:
        return await self._bands.get_many(ids)


class _ColdRelationships:
    def __init__(self, relationships: RelationshipFacts) -> None:
        self._relationships = relationships

    def cached_connected(self, actor: str, target: str) -> bool | None:
        return None

    def cached_mutual(self, actor: str, target: str) -> int | None:
        return None

    async def connected_among(self, actor: str, targets: Collection[str]) -> frozenset[str]:
        return await self._relationships.connected_among(actor, targets)

    async def mutual(self, actor: str, target: str) -> int:
        return await self._relationships.mutual(actor, target)


class _ColdAccounts:
    def __init__(self, accounts: AccountFacts) -> None:
        self._accounts = accounts

    def cached_age_days(self, account_id: str) -> float | None:
        return None

    async def age_days(self, account_id: str) -> float:
        return await self._accounts.age_days(account_id)


class Cold:
    def __init__(self, facts: Facts) -> None:
        self._facts = facts
        self._bands = _ColdBands(facts.bands)
        self._relationships = _ColdRelationships(facts.relationships)
        self._accounts = _ColdAccounts(facts.accounts)

    @property
    def bands(self) -> BandFacts:
        return self._bands

    @property
    def relationships(self) -> RelationshipFacts:
        return self._relationships

    @property
    def restrictions(self) -> RestrictionFacts:
        return self._facts.restrictions

    @property
    def accounts(self) -> AccountFacts:
        return self._accounts

    @property
    def time_budget(self) -> float:
        return self._facts.time_budget

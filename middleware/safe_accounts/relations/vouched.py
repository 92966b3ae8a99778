"""Vouched accounts: the platform's own word that an account is a school's or a club's
staff (the host's `relationships.vouched` query).

A signal may leave vouched accounts out (`where: {vouched: false}`): a verified coach's
team day is then no evidence against them. Read only for the events a signal filters by
it, never cached: a vouch withdrawn counts from the next event on.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from ..policy import model
from .lookup import Lookup, compile_lookup, events_filtered_by


class Vouched:
    __slots__ = ("_lookup", "kinds")

    def __init__(
        self, spec: model.Lookup, engine: AsyncEngine | None, kinds: frozenset[model.EventKind]
    ) -> None:
        self._lookup: Lookup = compile_lookup("relationships.vouched", spec, engine)
        # The events a signal filters by vouching: only those pay for the query.
        self.kinds = kinds

    async def check(self, account: str) -> bool:
        """Whether the platform vouches for `account` (one query): no row, or a first column
        that is false, 0 or NULL, is no."""
        value = await self._lookup.scalar(account=account)
        if isinstance(value, str):
            return value.strip().lower() not in ("", "0", "f", "false", "no")
        return bool(value)

    @classmethod
    def wanted(cls, policy: model.PolicyFile, engine: AsyncEngine | None) -> Vouched | None:
        """The lookup when a signal of the policy filters by it and the policy declares it."""
        spec = policy.relationships.vouched
        kinds = events_filtered_by(policy, "vouched")
        return cls(spec, engine, kinds) if spec is not None and kinds else None

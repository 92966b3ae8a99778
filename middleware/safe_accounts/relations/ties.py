"""Network context for a contact request: is the child in the requester's circle?

A coach befriending a team, a teacher their class: the children are friends of each other,
and of the parents the adult has known for years, so each request after the first reaches
a child whose friends the adult already knows or has just asked. A groomer fishing across
schools reaches children who share nothing with each other or with the groomer's older
connections; one who befriended parents first reaches their children through ties only
days old. The host's `relationships.community_ties` query says what its circle is (which
connections are long-standing, which requests are recent) in one statement per request.

Never cached: every request the actor sends changes the answer for the next one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from ..policy import model
from .lookup import Lookup, compile_lookup, events_filtered_by


class CommunityTies:
    __slots__ = ("_lookup", "kinds")

    def __init__(
        self, spec: model.Lookup, engine: AsyncEngine | None, kinds: frozenset[model.EventKind]
    ) -> None:
        self._lookup: Lookup = compile_lookup("relationships.community_ties", spec, engine)
        # The events a signal counts by their ties: only those pay for the query.
        self.kinds = kinds

    async def count(self, actor: str, target: str, now: float) -> int:
        """How many of `target`'s connections are in `actor`'s circle at `now` (one query)."""
        return int(await self._lookup.scalar(actor=actor, target=target, now=now) or 0)

    @classmethod
    def wanted(cls, policy: model.PolicyFile, engine: AsyncEngine | None) -> CommunityTies | None:
        """The lookup when a signal of the policy counts by it and the policy declares it."""
        spec = policy.relationships.community_ties
        kinds = events_filtered_by(policy, "community_ties")
        return cls(spec, engine, kinds) if spec is not None and kinds else None

"""Stores for the shared contract suite: in-process, one real Redis, a real Redis Cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from safe_accounts.signals.memory import InProcessSignalStore
from safe_accounts.signals.pseudonyms import Pseudonyms
from safe_accounts.signals.redis_store import RedisSignalStore
from safe_accounts.signals.store import SignalStore
from tests.redis_cluster import redis_cluster_url, spare_redis  # noqa: F401 - fixtures

MakeStore = Callable[..., SignalStore]


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.cluster),
    ]
)
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[MakeStore]:
    """Makes stores of one backend; every store made is closed afterwards."""
    made: list[SignalStore] = []
    if request.param == "redis":
        url: str | None = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
    elif request.param == "cluster":
        url = request.getfixturevalue("redis_cluster_url")
        prefix = f"satest:{uuid.uuid4().hex[:10]}:"
    else:
        url = prefix = None

    def make(pseudonym_key: bytes | None = None, evidence_kept: int = 20) -> SignalStore:
        pseudonyms = Pseudonyms(pseudonym_key)
        store: SignalStore
        if url is None:
            store = InProcessSignalStore(pseudonyms=pseudonyms, evidence_kept=evidence_kept)
        else:
            store = RedisSignalStore(url, prefix=prefix, pseudonyms=pseudonyms, evidence_kept=evidence_kept)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()

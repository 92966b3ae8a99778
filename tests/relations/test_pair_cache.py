"""The relationship cache forgets by account, at the cost of that account's pairs only."""

from __future__ import annotations

from safe_accounts.clock import FrozenClock
from safe_accounts.relations.pair_cache import PairCache


def test_forgetting_an_account_drops_its_pairs_either_way_and_keeps_everyone_elses() -> None:
    clock = FrozenClock(0.0)
    cache: PairCache[bool] = PairCache(100, 30, clock.now)
    for pair in [("ann", "bob"), ("bob", "ann"), ("cat", "ann"), ("cat", "dan"), ("dan", "eve")]:
        cache.put(pair, True)
    cache.discard_involving(["ann"])
    assert [cache.get(p) for p in [("ann", "bob"), ("bob", "ann"), ("cat", "ann")]] == [None, None, None]
    assert cache.get(("cat", "dan")) is True and cache.get(("dan", "eve")) is True
    cache.discard_involving(["dan", "nobody"])
    assert len(cache) == 0 and cache.accounts_indexed() == 0


def test_pairs_that_expire_or_are_pushed_out_leave_nothing_behind_in_the_index() -> None:
    clock = FrozenClock(0.0)
    cache: PairCache[bool] = PairCache(10, 30, clock.now)
    for i in range(25):  # more than fit: the oldest go
        cache.put((f"a{i}", f"b{i}"), False)
    assert len(cache) <= 10 and cache.accounts_indexed() == 2 * len(cache)
    clock.advance(31)
    for i in range(25):
        assert cache.get((f"a{i}", f"b{i}")) is None
    assert len(cache) == 0 and cache.accounts_indexed() == 0


def test_a_pair_put_again_is_indexed_once_and_forgotten_with_either_account() -> None:
    clock = FrozenClock(0.0)
    cache: PairCache[int] = PairCache(10, 30, clock.now)
    cache.put(("ann", "bob"), 1)
    cache.put(("ann", "bob"), 2)
    assert cache.get(("ann", "bob")) == 2 and cache.accounts_indexed() == 2
    cache.discard_involving(["bob"])
    assert cache.get(("ann", "bob")) is None and cache.accounts_indexed() == 0
    cache.put(("ann", "bob"), 3)
    cache.clear()
    assert len(cache) == 0 and cache.accounts_indexed() == 0
